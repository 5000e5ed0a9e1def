"""Benchmark of the authorization backend: decisions per second and latency under wrk, on loopback.

    python -m streamledger.bench.auth [--customers 2000] [--duration 30] [--connections 64 …]
                                      [--out benchmarks/results/auth.json]

1. A fresh anvil of its own (auto-impersonation, zero base fee), the system deployed by the product's deployment
   code with the development catalogue (the PPV event moved to start an hour after deployment), and
   `--customers` customers: basic, premium, premium + sports add-on, PPV buyers, VOD renters (a signed rental
   batch), customers registered without a plan; then an hour of chain time so the PPV window is open.
2. The service (`streamledger auth serve`, uvloop + httptools), following that anvil every 0.5 s.
3. A wrk Lua script of Flussonic-shaped requests (all the parameters Flussonic sends, new_session and
   update_session, URL-encoded user agents): entitled plays, plays outside the plan, PPV and VOD, customers
   without a plan, forged and expired tokens, unknown streams. Every request is answered once beforehand by a
   plain HTTP client and the status compared with the expected one, so the benchmark measures real decisions.
4. wrk runs (`--duration` s) while a background thread keeps the chain busy: a block a second with a
   subscription in it, so the follower refreshes state during the run as it would in production.
5. benchmarks/results/auth.json: decisions/s, p50/p75/p90/p99 latency, the commands, the machine.

A benchmark, not a test: it asserts nothing about timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from web3 import Web3

from .. import artifacts
from ..auth.testing import ServiceProcess
from ..auth.tokens import KeyRing, issue_token
from ..catalogue import load_catalogue
from ..chain import Chain, Sender, connect_web3
from ..deployment import deploy_system
from ..devchain import AnvilNode
from ..oracle import RentalBatchData, RentalReport, dev_oracle_key, sign_batch

ROOT = artifacts.ROOT
USER_AGENTS = [
    "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 TV",
    "VLC/3.0.20 LibVLC/3.0.20",
    "ExoPlayerLib/2.19.1 (Linux; Android 12) ",
    "AppleCoreMedia/1.0.0.21A329 (Apple TV; U; CPU OS 17_0 like Mac OS X; en_us)",
    "Kodi/20.2 (Linux; Android 11.0; MiBOX4 Build/RP1A) Android/11.0.0 Sys_CPU/armv8l App_Bitness/32",
]
PLAN_STREAMS = {1: ["news-24", "weather", "kids"], 2: ["news-24", "weather", "kids", "movies-hd", "series-hd"]}


def _send_batch(w3: Web3, txs: list[dict]) -> None:
    """eth_sendTransaction in JSON-RPC batches, nonces assigned here (anvil automines each); fails loudly."""
    nonces: dict[str, int] = {}
    for tx in txs:
        sender = tx["from"]
        if sender not in nonces:
            nonces[sender] = w3.eth.get_transaction_count(sender, "pending")
        tx["nonce"] = hex(nonces[sender])
        nonces[sender] += 1
    for i in range(0, len(txs), 200):
        responses = w3.provider.make_batch_request([("eth_sendTransaction", [tx]) for tx in txs[i : i + 200]])
        errors = [r["error"] for r in responses if "error" in r]
        if errors:
            raise RuntimeError(f"setup transactions failed: {errors[:3]}")
        # a batch may reach the pool out of nonce order: mine until nothing waits
        for _ in range(1000):
            pool = w3.provider.make_request("txpool_status", [])["result"]
            if int(pool["pending"], 16) + int(pool["queued"], 16) == 0:
                break
            w3.provider.make_request("evm_mine", [])
    receipt = w3.eth.get_transaction_receipt(responses[-1]["result"])
    if receipt["status"] != 1:
        raise RuntimeError("the last setup transaction reverted")


def _tx(billing, sender: str, fn: str, *args) -> dict:
    return {
        "from": sender,
        "to": billing.address,
        "data": billing.encode_abi(fn, args=list(args)),
        "gas": hex(1_000_000),
        "gasPrice": "0x0",
    }


def build_chain(node: AnvilNode, customers: int, work: Path, seed: int = 7) -> dict:
    """Deploys and populates the chain; returns what the request mix needs."""
    rng = random.Random(seed)
    w3 = connect_web3(node.url, timeout=120)
    admin = w3.eth.accounts[0]
    chain = Chain(w3, Sender(admin))
    catalogue = load_catalogue(ROOT / "catalogue" / "development.yaml")
    catalogue = replace(
        catalogue, ppv_events=[replace(e, starts_in_hours=1, duration_hours=72) for e in catalogue.ppv_events]
    )
    dep = deploy_system(chain, catalogue, "bench-auth", dev_accounts=list(w3.eth.accounts))
    billing = chain.billing(dep.billing)
    token = chain.token(dep.token)
    unit = 10**dep.token_decimals
    addresses = [Web3.to_checksum_address(Web3.keccak(text=f"bench-auth/{i}")[12:]) for i in range(customers)]
    reserve = [Web3.to_checksum_address(Web3.keccak(text=f"bench-auth/reserve/{i}")[12:]) for i in range(600)]
    total = 200 * unit * (customers + len(reserve))
    chain.transact(token.functions.mint(admin, total))
    chain.transact(token.functions.approve(dep.billing, total))
    _send_batch(w3, [_tx(billing, admin, "depositFor", a, 200 * unit) for a in addresses + reserve])

    kinds: dict[str, str] = {}
    txs = []
    price = {p: billing.functions.planOf(p).call()[0] for p in (1, 2, 3)}
    for a in addresses:
        r = rng.random()
        kind = "basic" if r < 0.55 else "premium" if r < 0.75 else "sports" if r < 0.90 else "none"
        kinds[a] = kind
        if kind == "basic":
            txs.append(_tx(billing, a, "subscribe", 1, price[1]))
        elif kind in ("premium", "sports"):
            txs.append(_tx(billing, a, "subscribe", 2, price[2]))
            if kind == "sports":
                txs.append(_tx(billing, a, "subscribe", 3, price[3]))
        else:
            txs.append(_tx(billing, a, "register", a))
    ppv_buyers = set(rng.sample(addresses, k=max(1, customers // 10)))
    txs += [_tx(billing, a, "buyPpv", 1) for a in sorted(ppv_buyers)]
    _send_batch(w3, txs)
    # VOD rentals, reported by the oracle as the feeder would (2 of the 3 development oracle keys)
    renters = sorted(rng.sample(addresses, k=max(1, customers // 20)))
    ids = [billing.functions.customerIdOf(a).call() for a in renters]
    now = w3.eth.get_block("latest")["timestamp"]
    batch = RentalBatchData(9_000_001, now + 3600, [RentalReport(i, 1, now - 60) for i in ids])
    signatures = sign_batch(batch, dep.chain_id, dep.billing, [dev_oracle_key(0), dev_oracle_key(1)])
    chain.transact(billing.functions.settleRentals(batch.header(), batch.packed(), signatures))
    w3.provider.make_request("evm_increaseTime", [3600 + 60])  # into the PPV viewing window
    w3.provider.make_request("evm_mine", [])
    path = work / "deployment.json"
    path.write_text(json.dumps(asdict(dep)))
    return {
        "deployment": dep,
        "deployment_path": path,
        "kinds": kinds,
        "ppv_buyers": ppv_buyers,
        "renters": set(renters),
        "reserve": reserve,
        "price": price,
    }


def flussonic_query(stream: str, token: str, rng: random.Random) -> str:
    update = rng.random() < 0.7
    params = {
        "name": stream,
        "proto": rng.choice(["hls", "dash", "mpegts", "rtmp"]),
        "ip": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "request_type": "update_session" if update else "new_session",
        "request_number": str(rng.randrange(1, 200) if update else 0),
        "session_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "token": token,
        "stream_clients": str(rng.randrange(1, 400)),
        "total_clients": str(rng.randrange(400, 5000)),
        "duration": str(rng.randrange(1, 7200) if update else 0),
        "bytes": str(rng.randrange(10**5, 10**10) if update else 0),
        "dvr": rng.choice(["false", "false", "false", "true"]),
        "user_agent": rng.choice(USER_AGENTS),
        "referer": rng.choice(["", "https://portal.example.tv/live", "https://app.example.tv/"]),
    }
    return "/flussonic/auth?" + urllib.parse.urlencode(params)


def request_mix(setup: dict, keyring: KeyRing, count: int, seed: int = 11) -> list[tuple[str, int, str]]:
    """[(path, expected status, what it is)]."""
    rng = random.Random(seed)
    kinds = setup["kinds"]
    subscribed = [a for a, k in kinds.items() if k != "none"]
    no_plan = [a for a, k in kinds.items() if k == "none"]
    buyers, renters = sorted(setup["ppv_buyers"]), sorted(setup["renters"])
    non_buyers = [a for a in subscribed if a not in setup["ppv_buyers"]]
    tokens = {a: issue_token(keyring, a, f"stb-{i}", 90 * 86_400) for i, a in enumerate(kinds)}
    out = []
    for _ in range(count):
        r = rng.random()
        if r < 0.58:
            a = rng.choice(subscribed)
            plan = 1 if kinds[a] == "basic" else 2
            streams = PLAN_STREAMS[plan] + (["sport-hd"] if kinds[a] == "sports" else [])
            out.append((flussonic_query(rng.choice(streams), tokens[a], rng), 200, "entitled"))
        elif r < 0.72:
            a = rng.choice([x for x in subscribed if kinds[x] == "basic"] or subscribed)
            out.append((flussonic_query(rng.choice(["movies-hd", "sport-hd"]), tokens[a], rng), 403, "outside plan"))
        elif r < 0.77:
            out.append((flussonic_query("ppv/title-fight", tokens[rng.choice(buyers)], rng), 200, "ppv bought"))
        elif r < 0.79:
            out.append((flussonic_query("ppv/title-fight", tokens[rng.choice(non_buyers)], rng), 403, "ppv not bought"))
        elif r < 0.82:
            out.append(
                (flussonic_query("vod/the_long_night/index.m3u8", tokens[rng.choice(renters)], rng), 200, "rental")
            )
        elif r < 0.87:
            out.append((flussonic_query("news-24", tokens[rng.choice(no_plan)], rng), 403, "no plan"))
        elif r < 0.92:
            forged = tokens[rng.choice(subscribed)]
            forged = forged[:-3] + ("AAA" if forged[-3:] != "AAA" else "BBB")
            out.append((flussonic_query("news-24", forged, rng), 403, "forged token"))
        elif r < 0.94:
            a = rng.choice(subscribed)
            expired = issue_token(keyring, a, "old-stb", 3600, now=int(time.time()) - 7200)
            out.append((flussonic_query("news-24", expired, rng), 403, "expired token"))
        else:
            a = rng.choice(subscribed)
            out.append((flussonic_query(f"unknown-{rng.randrange(100)}", tokens[a], rng), 403, "unknown stream"))
    return out


def check_mix(url: str, mix: list[tuple[str, int, str]]) -> dict[str, int]:
    """Answers every request once; counts mismatches with the expected status."""
    wrong = 0
    for path, expected, _ in mix:
        try:
            with urllib.request.urlopen(url + path, timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        wrong += status != expected
    return {"requests": len(mix), "unexpected": wrong}


def write_lua(paths: list[str], path: Path) -> None:
    lines = ["local paths = {"]
    lines += [f"  {json.dumps(p)}," for p in paths]
    lines += [
        "}",
        "local i = 0",
        "function setup(thread) thread:set('offset', math.random(#paths)) end",
        "function init(args) i = tonumber(wrk.thread:get('offset') or 0) end",
        "function request()",
        "  i = i + 1",
        "  if i > #paths then i = 1 end",
        '  return wrk.format("GET", paths[i], {["Host"] = "flussonic-auth"})',
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * _UNITS[unit]

    out: dict = {"latency_ms": {}}
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if m:
            out["latency_ms"][f"p{pct}"] = round(ms(m.group(1)), 3)
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["decisions_per_s"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", text)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", text)
    out["socket_errors"] = m.group(1).strip() if m else "none"
    return out


class ChainActivity(threading.Thread):
    """A block a second, each with a new subscription: the follower refreshes state during the run."""

    def __init__(self, url: str, billing, reserve: list[str], price: int):
        super().__init__(daemon=True)
        self.w3 = connect_web3(url)
        self.billing = billing
        self.reserve = list(reserve)
        self.price = price
        self.stop = threading.Event()
        self.blocks = 0

    def run(self) -> None:
        while not self.stop.wait(1.0) and self.reserve:
            customer = self.reserve.pop()
            tx = _tx(self.billing, customer, "subscribe", 1, self.price)
            self.w3.provider.make_request("eth_sendTransaction", [tx])
            self.blocks += 1


def machine() -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
    import httptools
    import uvloop

    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[:1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "uvloop": uvloop.__version__,
        "httptools": httptools.__version__,
        "wrk": wrk_version[0] if wrk_version else "?",
    }


def run_wrk(url: str, lua: Path, threads: int, connections: int, duration: int, cpu: str | None) -> tuple[str, dict]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), url]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", cpu, *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return " ".join(cmd), {**parse_wrk(out), "wrk_output": out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--requests", type=int, default=20_000, help="distinct requests in the wrk script")
    parser.add_argument("--duration", type=int, default=30, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, nargs="+", default=[64], help="wrk connections (one run each)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    # Pinning the service and wrk to one core each measured worse here (27k/s unpinned against 18k/s pinned, the
    # pinned p99 twice as long): the default leaves scheduling to the kernel.
    parser.add_argument("--server-cpu", default="", help="CPU list for the service (taskset); default: any")
    parser.add_argument("--wrk-cpu", default="", help="CPU list for wrk (taskset); default: any")
    parser.add_argument("--no-activity", action="store_true", help="no blocks during the run")
    parser.add_argument("--service-arg", action="append", default=[], help="extra `auth serve` argument (repeat)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "auth.json"))
    parser.add_argument("--work", default=str(ROOT / "out" / "bench-auth"))
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian)")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    node = AnvilNode(accounts=12, extra=("--auto-impersonate",)).start()
    service = None
    activity = None
    try:
        setup = build_chain(node, args.customers, work)
        built = time.monotonic() - started
        keys = KeyRing.generate("bench")
        keys_path = work / "auth-keys.json"
        keys_path.write_text(json.dumps(keys))
        keyring = KeyRing.parse(json.dumps(keys))
        service_started = time.monotonic()
        service = ServiceProcess(
            "--deployment",
            str(setup["deployment_path"]),
            "--streams",
            str(ROOT / "catalogue" / "streams-development.yaml"),
            "--rpc",
            node.url,
            "--keys",
            str(keys_path),
            "--poll-interval",
            "0.5",
            *args.service_arg,
            log=work / "service.log",
        ).start()
        startup = time.monotonic() - service_started  # process start, imports, full read of the chain state
        if args.server_cpu and shutil.which("taskset"):
            subprocess.run(["taskset", "-a", "-p", "-c", args.server_cpu, str(service.proc.pid)], capture_output=True)
        mix = request_mix(setup, keyring, args.requests)
        checked = check_mix(service.url, mix[:2_000])
        expected_403 = sum(1 for _, s, _ in mix if s == 403) / len(mix)
        lua = work / "flussonic.lua"
        write_lua([p for p, _, _ in mix], lua)
        # warm-up (token cache, connections), not reported
        run_wrk(service.url, lua, args.threads, max(args.connections), 3, args.wrk_cpu or None)
        if not args.no_activity:
            dep = setup["deployment"]
            billing = connect_web3(node.url).eth.contract(address=dep.billing, abi=artifacts.billing_abi())
            activity = ChainActivity(node.url, billing, setup["reserve"], setup["price"][1])
            activity.start()
        block_before = service.status()["block"]
        runs = []
        for connections in args.connections:
            command, result = run_wrk(service.url, lua, args.threads, connections, args.duration, args.wrk_cpu or None)
            result["connections"] = connections
            result["command"] = command
            runs.append(result)
        status = service.status()
        if activity:
            activity.stop.set()
        primary = max(runs, key=lambda r: r["connections"] == 64)
        mix_kinds: dict[str, int] = {}
        for _, _, kind in mix:
            mix_kinds[kind] = mix_kinds.get(kind, 0) + 1
        result = {
            "benchmark": "auth backend: Flussonic auth requests (wrk, loopback)",
            "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "decisions_per_s": primary["decisions_per_s"],
            "latency_ms": primary["latency_ms"],
            "command": "python -m streamledger.bench.auth " + " ".join(argv if argv is not None else sys.argv[1:]),
            "wrk_command": primary["command"],
            "runs": [{k: v for k, v in r.items() if k != "wrk_output"} for r in runs],
            "wrk_output": primary["wrk_output"],
            "server": "streamledger auth serve: one process, asyncio + uvloop + httptools, follower polling 0.5 s",
            "service_args": args.service_arg,
            "pinning": {"server_cpu": args.server_cpu or "any", "wrk_cpu": args.wrk_cpu or "any"},
            "customers": args.customers,
            "distinct_requests": len(mix),
            "mix": mix_kinds,
            "expected_403_share": round(expected_403, 4),
            "observed_403_share": round(primary["non_2xx"] / primary["requests"], 4) if primary["requests"] else None,
            "pre_check": checked,
            "chain_activity": {
                "blocks_during_runs": (activity.blocks if activity else 0),
                "service_block_before": block_before,
                "service_block_after": status["block"],
                "reorgs": status["reorgs"],
                "node_error": status["nodeError"],
            },
            "setup_seconds": round(built, 1),
            "service_startup_seconds": round(startup, 2),
            "machine": machine(),
        }
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        lat = primary["latency_ms"]
        print(
            f"{primary['decisions_per_s']:,.0f} decisions/s, p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms "
            f"({primary['connections']} connections; pre-check {checked['unexpected']} unexpected of "
            f"{checked['requests']}); {out}"
        )
        for r in runs:
            print(f"  c={r['connections']}: {r['decisions_per_s']:,.0f}/s p50 {r['latency_ms']} ")
        return 0
    finally:
        if activity:
            activity.stop.set()
        if service:
            service.stop()
        node.stop()


if __name__ == "__main__":
    raise SystemExit(main())
