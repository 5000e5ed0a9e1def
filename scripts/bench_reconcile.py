"""Reconciliation benchmark on the embedded anvil: `make bench` (brownie run scripts/bench_reconcile.py).

A month of activity for 10,000 customers is built on a fresh deployment, then reconciled from scratch."""

from pathlib import Path

from streamledger import brownie_support
from streamledger.bench import pipeline


def main(customers: int = 10_000, out: str = "benchmarks/results/reconcile.json") -> None:
    chain = brownie_support.chain()
    report = pipeline.reconcile_benchmark(chain, list(chain.w3.eth.accounts), int(customers), Path(out))
    result = report["reconcile"]
    print(report["input"])
    print(f"chain state built in {report['build_chain_state_seconds']} s")
    print(
        f"reconciled in {result['seconds']} s (events fetched and replayed in {result['fetch_and_replay_seconds']} s):"
        f" {result['events']:,} events, {result['customers']:,} customers, {result['charges']:,} charges,"
        f" {result['discrepancies']} discrepancies, peak RSS {result['peak_rss_mb']} MB"
    )
    print(f"written to {out}")
