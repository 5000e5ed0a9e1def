"""1,000,000 subscribers a month on an L2, worked out from the measured benchmarks (docs/scaling.md).

    python -m streamledger.bench.scaling [--subscribers 1000000] [--gwei 0.01] [--eth-usd 3000]

Reads benchmarks/results/{gas,feeder,reconcile}.json (written by `make bench`) and prints the tables of
docs/scaling.md. Every assumption is a flag; nothing here is measured, it is arithmetic on what was.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
DAY = 86_400


@dataclass
class Assumptions:
    subscribers: int = 1_000_000
    period_days: int = 30
    renew_batch: int = 500
    usage_batch: int = 400  # the feeder's lines per batch
    gwei: float = 0.01  # L2 execution gas price
    eth_usd: float = 3_000.0
    block_seconds: float = 2.0
    block_gas: int = 30_000_000
    deposits_per_month: float = 1.0  # each customer tops up once a month
    providers: int = 10  # each withdraws once a day


def _load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"{path} missing: run `make bench` first")
    return json.loads(path.read_text())


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 or x == int(x) else f"{x:,.2f}"


def tables(a: Assumptions) -> str:
    gas, feeder, recon = _load("gas")["results"], _load("feeder"), _load("reconcile")
    sim = feeder["simulated"]
    lines_per_customer_day = feeder["feeder"]["lines"] / sim["customers"] / sim["days"]
    records_per_customer_day = feeder["feeder"]["records"] / sim["customers"] / sim["days"]
    month = a.period_days
    renewals = a.subscribers * 30 / a.period_days
    lines = a.subscribers * lines_per_customer_day * 30
    usd_per_gas = a.gwei * 1e-9 * a.eth_usd

    rows = [  # what, count a month, gas each, who pays
        ("renewals (batch 500)", renewals, gas["renewal per subscriber, batch 500"], "keeper (operator)"),
        ("usage lines (per line at batch 100; 400 is cheaper)", lines, gas["usage per line, batch 100"], "feeder"),
        ("statement-root commit", 1, gas["statement-root commit"], "operator"),
        ("provider withdrawals", a.providers * 30, gas["provider withdraw"], "providers"),
        ("customer deposits (returning)", a.subscribers * a.deposits_per_month, gas["returning deposit"], "customers"),
    ]
    out = [
        f"Assumptions: {a.subscribers:,} subscribers on {month}-day plans; "
        f"{lines_per_customer_day:.2f} usage lines and {records_per_customer_day:.1f} session records per "
        f"subscriber a day (the platform simulator's mix: {feeder['feeder']['lines']:,} lines from "
        f"{feeder['feeder']['records']:,} records of {sim['customers']:,} customers over {sim['days']} days); "
        f"L2 execution gas at {a.gwei} gwei, ETH at ${a.eth_usd:,.0f}; {a.block_seconds:g}-second blocks of "
        f"{a.block_gas / 1e6:g} M gas.",
        "",
        "| a month of | count | gas each | gas | L2 execution cost | paid by |",
        "|---|---:|---:|---:|---:|---|",
    ]
    operator_gas = 0
    total_gas = 0
    for what, count, each, payer in rows:
        g = count * each
        total_gas += g
        if payer not in ("customers", "providers"):
            operator_gas += g
        out.append(f"| {what} | {_fmt(count)} | {each:,} | {g / 1e9:,.2f} G | ${g * usd_per_gas:,.2f} | {payer} |")
    cost = operator_gas * usd_per_gas
    out.append(f"| **operator total** | | | **{operator_gas / 1e9:,.2f} G** | **${cost:,.2f}** | |")
    per_sub = operator_gas / a.subscribers
    out.append("")
    out.append(
        f"Operator gas per subscriber and month: {per_sub:,.0f} (${per_sub * usd_per_gas:.5f}); "
        f"everything, customers' own deposits included: {total_gas / 1e9:,.1f} G gas."
    )

    renew_txs = renewals / a.renew_batch
    usage_txs = lines / a.usage_batch
    renew_tx_gas = gas["renewal per subscriber, batch 500"] * a.renew_batch
    usage_tx_gas = gas["usage per line, batch 100"] * a.usage_batch
    blocks_month = month * DAY / a.block_seconds
    capacity = blocks_month * a.block_gas
    calldata = renewals * 4 + lines * 8 + usage_txs * (2 * 65 + 6 * 32) + renew_txs * 100
    out += [
        "",
        "| throughput | a month | a day |",
        "|---|---:|---:|",
        f"| renewal transactions ({a.renew_batch} subscribers, {renew_tx_gas / 1e6:.1f} M gas each) | "
        f"{_fmt(renew_txs)} | {_fmt(renew_txs / 30)} |",
        f"| usage transactions ({a.usage_batch} lines, {usage_tx_gas / 1e6:.1f} M gas each) | "
        f"{_fmt(usage_txs)} | {_fmt(usage_txs / 30)} |",
        f"| block space used (of {a.block_gas / 1e6:g} M gas every {a.block_seconds:g} s) | "
        f"{operator_gas / capacity:.3%} | |",
        f"| blocks' worth of gas | {_fmt(operator_gas / a.block_gas)} | {_fmt(operator_gas / a.block_gas / 30)} |",
        f"| calldata posted (L1 data, before compression) | {calldata / 1e6:,.0f} MB | {calldata / 30 / 1e6:,.1f} MB |",
        f"| session records into the feeder | {_fmt(a.subscribers * records_per_customer_day * 30)} | "
        f"{_fmt(a.subscribers * records_per_customer_day)} |",
    ]
    feeder_seconds = feeder["feeder"]["seconds"] / feeder["feeder"]["records"]
    records_day = a.subscribers * records_per_customer_day
    rc = recon["reconcile"]
    per_customer_mb = rc["peak_rss_mb"] / recon["customers"]
    scale = a.subscribers / recon["customers"]
    out += [
        "",
        f"- **Feeder**: {feeder['feeder']['seconds']:.2f} s for {feeder['feeder']['records']:,} records (measured, "
        f"2 cores, peak RSS {feeder['feeder']['peak_rss_mb']:,.0f} MB) makes a day's {_fmt(records_day)} records "
        f"{feeder_seconds * records_day:,.0f} s of work; it then submits {usage_txs / 30:,.0f} batches a day, "
        f"{usage_txs / 30 * a.block_seconds / 3600:.1f} h if sent one per block.",
        f"- **Keeper**: {renew_txs / 30:,.0f} renewal transactions a day of {renew_tx_gas / 1e6:.1f} M gas.",
        f"- **Reconciliation**: {rc['seconds']:.1f} s and {rc['peak_rss_mb']:,.0f} MB peak RSS for "
        f"{recon['customers']:,} customers' month from scratch (measured, {rc['events']:,} events, "
        f"{rc['charges']:,} charges). Linear in events and customers: about "
        f"{rc['seconds'] * scale / 60:,.0f} min and {per_customer_mb * a.subscribers / 1e3:,.0f} GB for "
        f"{a.subscribers:,} subscribers from scratch; later runs replay only the new blocks, but the ledger is "
        f"held in memory.",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streamledger.bench.scaling")
    defaults = Assumptions()
    for name, value in vars(defaults).items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    args = parser.parse_args(argv)
    print(tables(Assumptions(**{k: getattr(args, k) for k in vars(defaults)})))


if __name__ == "__main__":
    main()
