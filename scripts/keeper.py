"""Runs the keeper once on the active network: `brownie run scripts/keeper.py [main <deployment.json>]`.
As a service without brownie: `streamledger keeper --rpc $RPC_URL --deployment deployments/<net>.json --follow`."""

import logging

from streamledger import brownie_support
from streamledger.deployment import Deployment
from streamledger.keeper import Keeper


def main(deployment: str = "") -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dep = Deployment.load(deployment or brownie_support.active_network())
    report = Keeper(brownie_support.chain(), dep).run_once(progress=True)
    print(report.summary())
