"""Reconciles the active network: `brownie run scripts/reconcile.py [main <journal.sqlite>]`.
The same as `streamledger reconcile`; exits non-zero when anything does not reconcile."""

import sys
from pathlib import Path

from streamledger import brownie_support
from streamledger.deployment import Deployment
from streamledger.reconcile import Reconciler
from streamledger.usage.journal import Journal


def main(journal: str = "", state: str = "out/reconcile/state", out: str = "out/reconcile") -> None:
    chain = brownie_support.chain()
    reconciler = Reconciler(chain.w3, Deployment.load(brownie_support.active_network()), Path(state))
    reconciler.sync()
    report = reconciler.check(journal=Journal(journal) if journal else None)
    report.write(Path(out))
    print(report.summary())
    if not report.ok:
        sys.exit(1)
