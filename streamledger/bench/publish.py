"""Writes the measured figures into README.md and docs/scaling.md: `python -m streamledger.bench.publish`.

The last step of `make bench`. It reads benchmarks/results/*.json and replaces only the text between the
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers, so the documents never carry a number that the
committed results do not.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from .scaling import RESULTS, Assumptions, tables

ROOT = RESULTS.parents[1]


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _goal(goals: dict, key: str, fmt: str = "{:,}") -> str:
    g = goals.get(key)
    if g is None:
        return "reported"
    mark = "met" if g["met"] else "**not met**"
    return f"≤ {fmt.format(g['goal'])} ({mark})"


def readme_table() -> str:
    gas, feeder, recon = _load("gas"), _load("feeder"), _load("reconcile")
    r, goals = gas["results"], gas["goals"]
    cmd_gas = "`brownie run scripts/bench_gas.py`"
    rows = []
    for n in (1, 10, 100, 500):
        key = f"renewal per subscriber, batch {n}"
        rows.append((f"renewal, per subscriber, batch {n}", f"{r[key]:,} gas", _goal(goals, key), cmd_gas))
    rows.append(
        (
            "baseline: one `transferFrom` pull transaction per subscriber (`contracts/testing/PullSubscriptions.sol`)",
            f"{r['baseline: one pull transaction per subscriber']:,} gas",
            "reported",
            cmd_gas,
        )
    )
    for n in (100, 500):
        key = f"renewal / baseline (one pull transaction per subscriber), batch {n}"
        rows.append((f"ours ÷ baseline, batch {n}", f"{r[key]}", _goal(goals, key, "{}"), cmd_gas))
    for n in (100, 500):
        rows.append(
            (
                f"ours ÷ the same pulls batched into one transaction, batch {n}",
                f"{r[f'renewal / baseline batched, batch {n}']}",
                "reported",
                cmd_gas,
            )
        )
    for n in (1, 10, 100):
        key = f"usage settlement, per customer line, batch {n}"
        src = f"usage per line, batch {n}"
        rows.append((key, f"{r[src]:,} gas", _goal(goals, src), cmd_gas))
    for key in ("first deposit", "returning deposit"):
        rows.append((key, f"{r[key]:,} gas", _goal(goals, key), cmd_gas))
    for key in (
        "subscribe (first period charged)",
        "cancel with refund (cancelNow)",
        "dispute (a line of a 100-line batch)",
        "statement-root commit",
        "provider withdraw",
    ):
        rows.append((key, f"{r[key]:,} gas", "reported", cmd_gas))

    cmd_feeder = "`python -m streamledger.bench.pipeline feeder`"
    f, c = feeder["feeder"], feeder["csv_reader"]
    fg = feeder["goals"]
    rows += [
        (
            f"feeder: {f['records']:,} session records → {f['batches']} signed batches (median of {feeder['runs']})",
            f"{f['seconds']:.2f} s",
            _goal(fg, "feeder seconds", "{} s"),
            cmd_feeder,
        ),
        ("bare `csv.reader` pass over the same file", f"{c['seconds']:.2f} s", "reported", cmd_feeder),
        ("feeder ÷ `csv.reader`", f"{feeder['ratio']}", _goal(fg, "ratio to csv.reader", "{}"), cmd_feeder),
        ("feeder peak RSS", f"{f['peak_rss_mb']:,.0f} MB", "reported", cmd_feeder),
    ]
    cmd_recon = "`brownie run scripts/bench_reconcile.py`"
    rc = recon["reconcile"]
    rows += [
        (
            f"reconciliation from scratch, {recon['customers']:,} customers' month "
            f"({rc['events']:,} events, {rc['charges']:,} charges), event fetch included",
            f"{rc['seconds']:.1f} s",
            _goal(recon["goals"], "reconcile seconds (event fetch included)", "{} s"),
            cmd_recon,
        ),
        ("  of which fetching and replaying the events", f"{rc['fetch_and_replay_seconds']:.1f} s", "", cmd_recon),
        ("reconciliation peak RSS", f"{rc['peak_rss_mb']:,.0f} MB", "reported", cmd_recon),
        (
            "building that month on the local chain (not part of the goal)",
            f"{recon['build_chain_state_seconds']:.0f} s",
            "",
            cmd_recon,
        ),
    ]
    auth_path = RESULTS / "auth.json"
    if auth_path.exists():  # needs wrk (Debian), so make bench runs it only where wrk is installed
        auth = json.loads(auth_path.read_text())
        cmd_auth = f"`{auth['command']}`"
        for run in auth["runs"]:
            met = "met" if run["decisions_per_s"] >= 10_000 and run["latency_ms"]["p99"] <= 10 else "**not met**"
            rows.append(
                (
                    f"auth backend: Flussonic auth decisions, wrk, {run['connections']} connections "
                    f"({auth['customers']:,} customers)",
                    f"{run['decisions_per_s']:,.0f}/s, p99 {run['latency_ms']['p99']} ms",
                    f"≥ 10,000/s with p99 ≤ 10 ms ({met})",
                    cmd_auth,
                )
            )
    out = [
        f"Measured on {gas['machine']}; {gas['compiler']}; chain: "
        f"{gas['chain'].splitlines()[0]}. Gas is receipt `gasUsed` ÷ N for distinct, cold customers.",
        "",
        "| figure | measured | goal | command |",
        "|---|---:|---|---|",
    ]
    out += [f"| {a} | {b} | {g} | {cmd} |" for a, b, g, cmd in rows]
    return "\n".join(out)


def _replace(path: Path, name: str, body: str) -> None:
    text = path.read_text()
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: markers <!-- bench:{name} --> ... <!-- /bench:{name} --> not found")
    path.write_text(pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streamledger.bench.publish")
    parser.add_argument("--root", default=str(ROOT), help="the repository whose README.md and docs/ to update")
    args = parser.parse_args(argv)
    root = Path(args.root)
    _replace(root / "README.md", "figures", readme_table())
    _replace(root / "docs" / "scaling.md", "scaling", tables(Assumptions()))
    print(f"updated {root / 'README.md'} and {root / 'docs' / 'scaling.md'} from {RESULTS}")


if __name__ == "__main__":
    main()
