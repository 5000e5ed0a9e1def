"""The keeper: renews due subscriptions and releases escrow to providers.

It drives the same entry points a Chainlink Automation upkeep would (checkUpkeep / performUpkeep), so
running it or registering the contract with a keeper network are interchangeable. Every step is safe to
repeat: renewals re-check due-ness on-chain, and releasing an empty bucket does nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from tqdm import tqdm

from .chain import Chain
from .deployment import Deployment, event_args
from .events import EventReader

log = logging.getLogger(__name__)
DAY = 86_400


@dataclass
class KeeperReport:
    renewed: int = 0
    failed: int = 0
    declined: int = 0
    batches: int = 0
    gas_used: int = 0
    released: list[tuple[int, int, int]] = field(default_factory=list)  # (splitId, day, amount)

    def summary(self) -> str:
        return (
            f"renewed {self.renewed} in {self.batches} batches ({self.gas_used:,} gas), "
            f"{self.failed} short of funds, {self.declined} declined over maxPrice, "
            f"{len(self.released)} escrow buckets released"
        )


class Keeper:
    def __init__(self, chain: Chain, deployment: Deployment, max_batch: int = 200, scan_limit: int = 2_000):
        self.chain = chain
        self.deployment = deployment
        self.billing = chain.billing(deployment.billing)
        self.max_batch = max_batch
        self.scan_limit = scan_limit
        self._bucket_block = deployment.block  # events before this were already scanned for buckets
        self._buckets: set[tuple[int, int]] = set()

    # ----- renewals -----

    def renew_due(self, progress: bool = False, max_rounds: int = 10_000) -> KeeperReport:
        """Renews every due subscription, plan by plan, through checkUpkeep/performUpkeep."""
        report = KeeperReport()
        plan_count = self.billing.functions.planCount().call()
        bar = tqdm(total=None, desc="renewals", unit="sub", disable=not progress, leave=False)
        rounds = 0
        for plan_id in range(1, plan_count + 1):
            total = self.billing.functions.subscriberCount(plan_id).call()
            offset = 0
            while offset < total and rounds < max_rounds:
                rounds += 1
                check = abi_encode(
                    ["uint16", "uint32", "uint32", "uint32"], [plan_id, offset, self.scan_limit, self.max_batch]
                )
                needed, perform = self.billing.functions.checkUpkeep(check).call()
                if not needed:
                    offset += self.scan_limit
                    continue
                receipt = self.chain.transact(
                    self.billing.functions.performUpkeep(perform), f"renew plan {plan_id} from {offset}"
                )
                counted = self._count(receipt, report)
                bar.update(counted)
                if counted == 0:  # nothing changed (should not happen): move on rather than loop
                    log.warning("performUpkeep for plan %d charged and reported nobody; skipping window", plan_id)
                    offset += self.scan_limit
        bar.close()
        log.info("keeper: %s", report.summary())
        return report

    def _count(self, receipt, report: KeeperReport) -> int:
        report.batches += 1
        report.gas_used += receipt["gasUsed"]
        renewed = sum(len(e["customerIds"]) // 4 for e in event_args(self.billing, "RenewalsCharged", receipt))
        renewed += len(event_args(self.billing, "Renewed", receipt))
        failed = len(event_args(self.billing, "RenewalFailed", receipt))
        declined = len(event_args(self.billing, "RenewalDeclined", receipt))
        report.renewed += renewed
        report.failed += failed
        report.declined += declined
        return renewed + failed + declined

    # ----- escrow -----

    def release_escrow(self, report: KeeperReport | None = None) -> KeeperReport:
        """Releases every escrow bucket whose day has started. Buckets are found from the events that fill
        them (each carries splitId and releaseDay); already-empty buckets cost one call and no transaction."""
        report = report or KeeperReport()
        w3 = self.chain.w3
        head = w3.eth.block_number
        reader = EventReader(w3, self.deployment.billing)
        for event in reader.read(self._bucket_block, head):
            args = event.args
            if args.get("releaseDay"):
                for key in ("splitId", "fromSplitId"):
                    if args.get(key):
                        self._buckets.add((args[key], args["releaseDay"]))
        self._bucket_block = head + 1
        today = w3.eth.get_block("latest")["timestamp"] // DAY
        for split_id, day in sorted(self._buckets):
            if day > today:
                continue
            amount = self.billing.functions.escrowOf(split_id, day).call()
            if amount:
                receipt = self.chain.transact(
                    self.billing.functions.releaseEscrow(split_id, day), f"release split {split_id} day {day}"
                )
                report.gas_used += receipt["gasUsed"]
                report.released.append((split_id, day, amount))
            self._buckets.discard((split_id, day))
        return report

    def run_once(self, progress: bool = False) -> KeeperReport:
        report = self.renew_due(progress=progress)
        return self.release_escrow(report)

    def run_forever(self, interval: float = 60.0) -> None:  # pragma: no cover - a service loop
        while True:
            try:
                log.info("keeper: %s", self.run_once().summary())
            except Exception:
                log.exception("keeper round failed; retrying in %.0f s", interval)
            time.sleep(interval)


def decode_perform_data(data: bytes) -> tuple[int, bytes]:
    plan_id, ids = abi_decode(["uint16", "bytes"], data)
    return plan_id, ids
