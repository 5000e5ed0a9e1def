"""Feeds session logs into the billing contract on the active network:
`brownie run scripts/feed.py main <log file> [<state folder>]`. The same as `streamledger feed run`."""

import logging
from pathlib import Path

from streamledger import brownie_support
from streamledger.deployment import Deployment
from streamledger.usage.service import build_feeder


def main(log_file: str, state: str = "out/feeder") -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    chain = brownie_support.chain()
    feeder = build_feeder(chain, Deployment.load(brownie_support.active_network()), state)
    report = feeder.process_file(Path(log_file))
    print(f"read {report.records} = accepted {report.accepted} + quarantined {report.quarantined}")
    result = feeder.submit(progress=True)
    print(
        f"batches settled {result.settled}, rejected {result.rejected}, waiting {result.waiting}, "
        f"not mined {result.not_mined}"
    )
