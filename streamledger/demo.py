"""The main job, end to end on a local chain (`make demo` runs it through scripts/demo.py):

 1. deploy the billing system and load the catalogue;
 2. onboard simulated customers: faucet, then a deposit with an EIP-2612 permit (one transaction);
 3. subscriptions from the simulator's plan mix (add-ons, a trial, a customer short of funds, caps);
 4. three billing periods with time travel: each period's viewing, simulated with injected fraud, goes
    through the feeder; the keeper renews through checkUpkeep/performUpkeep and releases escrow;
    along the way one plan upgrade, one customer into grace then suspension, one disputed usage line that
    the arbiter refunds, and pay-per-view purchases;
 5. providers withdraw their earnings;
 6. reconciliation against the journal and the raw logs: zero discrepancies expected;
 7. statements for the whole run, the root committed on-chain, one customer's statement verified.

Everything it writes goes to out/demo/ (git-ignored).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .catalogue import load_catalogue
from .chain import Chain, Sender
from .deployment import Deployment, deploy_system
from .devchain import time_travel
from .events import EventReader
from .keeper import Keeper
from .ledger import KIND_NAMES
from .money import fmt_units
from .permit import sign_permit
from .reconcile import Reconciler, lines_from_logs
from .simulator import Population, make_population, simulate, write_days
from .statements import (
    block_timestamps,
    build_statements,
    seal,
    statement_blocks,
    verify_statement_file,
    write_statement,
)
from .tables import table
from .usage.service import build_feeder

log = logging.getLogger(__name__)
DAY = 86_400
STATES = ["none", "trial", "active", "grace", "suspended", "cancelled", "ended"]


@dataclass
class DemoResult:
    deployment: Deployment
    out: Path
    gas: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))  # op -> (gas, units)
    fraud: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    quarantined: int = 0
    records: int = 0
    renewed: int = 0
    discrepancies: int = -1
    statement_ok: bool = False
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)

    def gas_of(self, op: str, receipt, units: int = 1) -> None:
        self.gas[op].append((receipt["gasUsed"], units))


def run(
    chain: Chain,
    catalogue_path: Path,
    network: str,
    dev_accounts: list[str],
    out: Path = Path("out/demo"),
    customers: int = 40,
    periods: int = 3,
    seed: int = 7,
) -> DemoResult:
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    w3 = chain.w3

    print("1/7 deploying the billing system and loading the catalogue")
    dep = deploy_system(chain, load_catalogue(catalogue_path), network, dev_accounts=dev_accounts)
    dep.save()
    dep.save(out)
    result = DemoResult(dep, out)
    billing, token = chain.billing(dep.billing), chain.token(dep.token)
    unit = 10**dep.token_decimals
    operator = chain  # the deployer holds the operator role
    arbiter = chain.with_sender(Sender(dev_accounts[10]))
    keeper = Keeper(chain.with_sender(Sender(dev_accounts[2])), dep)

    print(f"2/7 onboarding {customers} simulated customers: faucet, then one-transaction permit deposits")
    population = make_population(customers, seed)
    wallets = _fund_wallets(chain, population, dev_accounts[0])
    short = population.customers[-1].address  # deposits too little: grace, then suspension
    for c in tqdm(population.customers, desc="    onboarding", unit="customer", leave=False):
        wallet = wallets[c.address]
        amount = (12 if c.address == short else 90 if c.plan == "premium" else 60) * unit
        wallet.transact(token.functions.mint(c.address, amount), "faucet")
        deadline = w3.eth.get_block("latest")["timestamp"] + 3600
        v, r, s = sign_permit(wallet, token, dep.billing, amount, deadline)
        result.gas_of(
            "deposit (permit)", wallet.transact(billing.functions.depositWithPermit(amount, deadline, v, r, s))
        )

    print("3/7 subscribing (plan mix, add-ons, a spending cap)")
    for i, c in enumerate(population.customers):
        wallet = wallets[c.address]
        plan = dep.plans[c.plan]
        price = billing.functions.planOf(plan).call()[0]
        result.gas_of("subscribe", wallet.transact(billing.functions.subscribe(plan, price), f"subscribe {c.plan}"))
        if c.add_on and c.address != short:
            addon = dep.plans["sports"]
            wallet.transact(billing.functions.subscribe(addon, billing.functions.planOf(addon).call()[0]), "add-on")
        if i % 8 == 3:
            wallet.transact(billing.functions.setSpendingCap(2 * unit), "spending cap")
    upgrader = next(c for c in population.customers if c.plan == "basic" and c.address != short)
    auth = _AuthCheck(w3, dep, out, short)
    result.notes.append(auth.ask("after subscribing"))
    ppv_buyers = [c for c in population.customers if c.address != short][:3]

    feeder = build_feeder(chain.with_sender(Sender(dev_accounts[1])), dep, out / "feeder", max_lines=100)
    logs: list[Path] = []
    disputed = False
    print(f"4/7 {periods} billing periods: simulated viewing through the feeder, renewals by the keeper")
    for period in range(1, periods + 1):
        now = w3.eth.get_block("latest")["timestamp"]
        begin = (now // DAY) * DAY - 2 * DAY
        table_, truth = simulate(
            population, begin, 2, seed=seed * 100 + period, now=now, vod_titles=tuple(dep.vod_titles)
        )
        folder = out / "logs" / f"period-{period}"
        paths = write_days(table_, folder, begin, 2, truth, replay=period == 1)
        logs += [p for p in paths if "resent" not in p.name]
        for path in paths:
            report = feeder.process_file(path)
            result.records += report.records
            result.quarantined += report.quarantined
            for flag, count in report.flags.items():
                result.fraud[flag] += count
        submitted = feeder.submit()
        if submitted.lines:
            result.gas["usage settlement (per line)"].append((submitted.gas, submitted.lines))
        result.notes.append(
            f"period {period}: {submitted.settled} usage and rental batches settled, {submitted.lines} usage lines"
        )
        if period == 1:
            for c in ppv_buyers:
                wallet = wallets[c.address]
                result.gas_of("buy PPV", wallet.transact(billing.functions.buyPpv(dep.ppv_events["title_fight"])))
            disputed = _dispute_one_line(w3, dep, billing, wallets, result)
        if period == 2:
            price = billing.functions.planOf(dep.plans["premium"]).call()[0]
            receipt = wallets[upgrader.address].transact(billing.functions.changePlan(dep.plans["premium"], price))
            result.gas_of("plan upgrade", receipt)
            result.notes.append(f"period 2: {upgrader.address[:10]} upgraded Basic -> Premium, prorated")
            if disputed:
                receipt = arbiter.transact(billing.functions.resolveDispute(1, True), "resolve dispute")
                result.gas_of("resolve dispute", receipt)
                result.notes.append("period 2: the arbiter refunded dispute #1")
        time_travel(w3, 30 * DAY + 3600)
        report = keeper.run_once()
        result.renewed += report.renewed
        if report.renewed:
            result.gas["renewal (per subscriber)"].append((report.gas_used, report.renewed))
        state = STATES[billing.functions.accountOf(short).call()[3]]
        result.notes.append(
            f"period {period}: keeper renewed {report.renewed}, released {len(report.released)} "
            f"escrow buckets; short customer {short[:10]} is {state}"
        )

    result.notes.append(auth.ask("after the missed renewals"))
    auth.stop()

    print("5/7 providers withdraw their earnings")
    for provider_id in dep.providers.values():
        payee = billing.functions.providerPayout(provider_id).call()
        if billing.functions.earningsOf(payee).call():
            payer = chain.with_sender(Sender(payee))
            result.gas_of("provider withdraw", payer.transact(billing.functions.withdrawEarnings()))

    print("6/7 reconciliation: the chain against the plans, the feeder's journal and the raw logs")
    reconciler = Reconciler(w3, dep, out / "reconcile" / "state")
    reconciler.sync()
    expected = lines_from_logs(chain, dep, logs, out / "reconcile" / "from-logs", reference=feeder.journal)
    recon = reconciler.check(journal=feeder.journal, logs_lines=expected)
    recon.write(out / "reconcile")
    result.discrepancies = len(recon.discrepancies)

    print("7/7 statements: one per customer, the Merkle root committed on-chain, one statement verified")
    ledger = reconciler.ledger
    stamps = block_timestamps(w3, statement_blocks(ledger))
    end = w3.eth.get_block("latest")["timestamp"] + 1
    period_id = 1
    statements = build_statements(ledger, period_id, 0, end, stamps, dep.token_decimals, dep.token_symbol)
    root, count = seal(statements, dep.chain_id, dep.billing)
    result.gas_of(
        "commit statement root",
        operator.transact(billing.functions.commitStatementRoot(period_id, 0, end, root, count)),
    )
    for statement in statements.values():
        write_statement(statement, out / "statements")
    sample = out / "statements" / f"{period_id}-{upgrader.address.lower()}.json"
    result.statement_ok = all(ok for _, ok in verify_statement_file(sample, w3))
    result.notes.append(
        f"statements: {len(statements)} customers, {count} lines, root 0x{root.hex()[:16]}...; "
        f"{sample.name} verified against the chain: {result.statement_ok}"
    )
    result.elapsed = time.monotonic() - started
    print()
    print(summary(chain, result, recon, reconciler.ledger))
    return result


class _AuthCheck:
    """The streaming server's question, asked of the authorization backend (`streamledger auth serve`) as
    Flussonic asks it: may the short customer's set-top box play `news-24` (a Basic-plan channel)?"""

    STREAM = "news-24"

    def __init__(self, w3, dep: Deployment, out: Path, customer: str):
        from .auth.testing import ServiceProcess
        from .auth.tokens import KeyRing, issue_token

        folder = out / "auth"
        folder.mkdir(parents=True, exist_ok=True)
        keys = folder / "keys.json"
        keys.write_text(json.dumps(KeyRing.generate("demo")))
        keys.chmod(0o600)
        self.customer = customer
        self.token = issue_token(KeyRing.load(keys), customer, "stb-0001", 400 * DAY)
        self.service = ServiceProcess(
            "--rpc",
            w3.provider.endpoint_uri,
            "--deployment",
            str(dep.save(folder)),
            "--streams",
            str(Path(__file__).resolve().parents[1] / "catalogue" / "streams-development.yaml"),
            "--keys",
            str(keys),
            log=folder / "service.log",
        ).start()
        self.w3 = w3

    def ask(self, when: str) -> str:
        import urllib.error
        import urllib.parse
        import urllib.request

        block = self.w3.eth.block_number
        deadline = time.monotonic() + 10
        while self.service.status().get("block", block) < block and time.monotonic() < deadline:
            time.sleep(0.1)  # the service has seen the latest block
        query = urllib.parse.urlencode(
            {
                "name": self.STREAM,
                "proto": "hls",
                "ip": "198.51.100.7",
                "request_type": "new_session",
                "session_id": f"demo-{block}",
                "token": self.token,
                "stream_clients": 0,
                "total_clients": 0,
                "duration": 0,
                "bytes": 0,
                "dvr": "false",
                "user_agent": "STB/1.0",
                "referer": "",
            }
        )
        try:
            with urllib.request.urlopen(f"{self.service.url}/flussonic/auth?{query}", timeout=5) as r:
                answer = f"{r.status} (X-Max-Sessions {r.headers.get('X-Max-Sessions')})"
        except urllib.error.HTTPError as exc:
            answer = f"{exc.code} ({exc.headers.get('X-Reason') or 'refused'})"
        return f"auth backend {when}: {self.customer[:10]} plays {self.STREAM}? {answer}"

    def stop(self) -> None:
        self.service.stop()


def _fund_wallets(chain: Chain, population: Population, funder: str) -> dict[str, Chain]:
    wallets = {}
    for c in population.customers:
        if chain.w3.eth.get_balance(c.address) < 10**17:
            tx = chain.w3.eth.send_transaction({"from": funder, "to": c.address, "value": 10**18})
            chain.w3.eth.wait_for_transaction_receipt(tx)
        wallets[c.address] = chain.with_sender(Sender.from_key(c.key))
    return wallets


def _dispute_one_line(w3, dep: Deployment, billing, wallets: dict[str, Chain], result: DemoResult) -> bool:
    """A customer disputes the first usage line charged to them, restating the batch from its events."""
    reader = EventReader(w3, dep.billing)
    settled = list(reader.read(dep.block, w3.eth.block_number, {"UsageSettled", "UsageDeclined"}))
    declined: dict[int, list[int]] = defaultdict(list)
    for e in settled:
        if e.name == "UsageDeclined":
            declined[e.args["batchId"]].append(e.args["lineIndex"])
    ids = {billing.functions.customerIdOf(a).call(): a for a in wallets}
    for e in settled:
        if e.name != "UsageSettled":
            continue
        lines = e.args["lines"]
        for i in range(len(lines) // 8):
            cid = int.from_bytes(lines[8 * i : 8 * i + 4], "big")
            if cid in ids and i not in declined[e.args["batchId"]]:
                s = e.args["settlement"]
                settlement = (s["meterId"], s["unitPrice"], s["unitScale"], s["splitId"], s["releaseDay"])
                call = billing.functions.disputeUsage(
                    settlement, e.args["batchId"], i, lines, sorted(declined[e.args["batchId"]])
                )
                result.gas_of("dispute", wallets[ids[cid]].transact(call, "dispute a usage line"))
                result.notes.append(f"period 1: {ids[cid][:10]} disputed usage line {i} of batch {e.args['batchId']}")
                return True
    return False


def summary(chain: Chain, result: DemoResult, recon, ledger) -> str:
    dep = result.deployment
    dec, sym = dep.token_decimals, dep.token_symbol
    led = recon  # the reconciliation report carries the payouts
    names = {}
    for key, pid in dep.providers.items():
        names[chain.billing(dep.billing).functions.providerPayout(pid).call()] = key
    out = [
        table(
            ["provider", "earned", "withdrawn", "still owed"],
            [
                [
                    names.get(p.payee, p.payee[:10]),
                    fmt_units(p.earned, dec, sym),
                    fmt_units(p.withdrawn, dec, sym),
                    fmt_units(p.owed, dec, sym),
                ]
                for p in led.payouts
            ],
            "Revenue per provider (escrow released by the keeper, split by basis points)",
        ),
        "",
    ]
    charges: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for entries in ledger.entries.values():
        for e in entries:
            if e.amount:
                row = charges[KIND_NAMES[e.kind]]
                row[0] += 1
                row[1] += e.amount
    out += [
        table(
            ["kind", "count", "total"],
            [[k, n, fmt_units(v, dec, sym)] for k, (n, v) in sorted(charges.items())],
            "Money movements by kind (customer side)",
        ),
        "",
        table(
            ["fraud caught (flagged, not billed)", "records"],
            [[k, v] for k, v in sorted(result.fraud.items())] + [["malformed (quarantined)", result.quarantined]],
            f"Usage records: {result.records:,} read",
        ),
        "",
        table(
            ["operation", "count", "gas per unit"],
            [
                [op, sum(u for _, u in v), f"{sum(g for g, _ in v) // max(sum(u for _, u in v), 1):,}"]
                for op, v in result.gas.items()
                if v
            ],
            "Gas used",
        ),
        "",
        *result.notes,
        "",
        f"Reconciliation: {result.discrepancies} discrepancies ({result.out / 'reconcile' / 'summary.txt'})",
        f"Statements: {result.out / 'statements'}   feeder reports: {result.out / 'feeder'}",
        f"Finished in {result.elapsed:.0f} s.",
    ]
    return "\n".join(out)
