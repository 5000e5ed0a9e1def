"""Reading the billing contract's events in block-range chunks, decoded against its merged ABI.

Used by the keeper (which escrow buckets exist) and by reconciliation (every money movement). One
`eth_getLogs` request per chunk, never a request per event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eth_utils import event_abi_to_log_topic
from web3 import Web3
from web3._utils.events import get_event_data

from .artifacts import billing_abi

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    name: str
    args: dict[str, Any]
    block: int
    tx_hash: str
    log_index: int

    @property
    def key(self) -> tuple[int, int]:
        """Chain order: (block, log index)."""
        return (self.block, self.log_index)


class EventReader:
    """Decodes the billing address's logs. `chunk` bounds each eth_getLogs block range."""

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]] | None = None, chunk: int = 5_000):
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.chunk = chunk
        self._by_topic = {
            event_abi_to_log_topic(item): item for item in (abi or billing_abi()) if item.get("type") == "event"
        }

    def read(self, from_block: int, to_block: int, names: set[str] | None = None) -> Iterator[Event]:
        """Events in [from_block, to_block], in chain order, optionally only those named in `names`."""
        topics = None
        if names:
            topics = [["0x" + t.hex() for t, item in self._by_topic.items() if item["name"] in names]]
        start = from_block
        while start <= to_block:
            end = min(start + self.chunk - 1, to_block)
            params: dict[str, Any] = {"address": self.address, "fromBlock": start, "toBlock": end}
            if topics:
                params["topics"] = topics
            logs = self.w3.eth.get_logs(params)
            for entry in logs:
                item = self._by_topic.get(bytes(entry["topics"][0]))
                if item is None:
                    continue
                decoded = get_event_data(self.w3.codec, item, entry)
                yield Event(
                    name=decoded["event"],
                    args=dict(decoded["args"]),
                    block=entry["blockNumber"],
                    tx_hash="0x" + bytes(entry["transactionHash"]).hex(),
                    log_index=entry["logIndex"],
                )
            start = end + 1


def unpack_ids(packed: bytes) -> list[int]:
    """The 4-byte big-endian customer ids of a RenewalsCharged event (or a renew() argument)."""
    return [int.from_bytes(packed[i : i + 4], "big") for i in range(0, len(packed), 4)]


def pack_ids(ids: list[int]) -> bytes:
    return b"".join(int(i).to_bytes(4, "big") for i in ids)
