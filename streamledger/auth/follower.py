"""Following the billing contract so the request path never has to: a background thread keeps `State` current.

- **Start-up**: the whole state at one block (by hash): the catalogue (planOf, ppvEventOf, vodTitleOf), every
  customer (customerAddress, accountOf), and every PPV purchase and rental named by the events since the
  deployment block (ppvPurchaseOf, rentalOf), in JSON-RPC batches.
- **Each poll** (every `poll_interval` seconds): the latest block. A new head -> the billing events since the last
  block processed (one eth_getLogs per chunk, only the events that can change an entitlement), the customers,
  plans, events and titles they touch re-read from the views *at the new head's hash*, then the clock moves to
  the new head. The request path only ever reads what this thread wrote.
- **Reorgs**: the hash of every block processed in the last `reorg_depth` blocks is kept with what its events
  touched. A head that does not extend the last one is walked back to the newest kept block still on the
  chain; everything touched by the orphaned blocks is re-read with the new blocks' events. A fork deeper than
  `reorg_depth` (or a node that lost its history) means a full re-read.
- **Node outages**: every failure is retried with exponential backoff (0.25 s doubling, at most `max_backoff`);
  decisions continue from the last state, with time-based expiry still applied by the clock.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils.abi import collapse_if_tuple
from web3 import Web3

from ..artifacts import billing_abi
from ..chain import UNREACHABLE
from ..events import Event, EventReader, unpack_ids
from .state import PPV, VOD, Account, Plan, PpvEvent, State, VodTitle

log = logging.getLogger(__name__)

# Events that never change an entitlement although they name a customer.
_BALANCE_ONLY = {"Deposited", "Withdrawn", "SpendingCapSet", "MaxPriceChanged"}
_CATALOGUE = {"PlanAdded", "PlanPackagesChanged", "PpvEventAdded", "VodTitleAdded"}
_BY_ID = {"RenewalsCharged", "DisputeResolved"}


def relevant_events(abi: list[dict[str, Any]]) -> set[str]:
    """Every event that can change an entitlement: those naming a customer (but balance-only ones), renewal
    batches (customer ids), dispute resolutions (refunds end PPV and rental entitlements) and the catalogue."""
    names = {
        item["name"]
        for item in abi
        if item.get("type") == "event" and any(i["name"] == "customer" for i in item["inputs"])
    }
    return (names - _BALANCE_ONLY) | _CATALOGUE | _BY_ID


@dataclass
class Head:
    number: int
    hash: str
    parent: str
    timestamp: int
    seen: float  # time.monotonic() when fetched


@dataclass
class Touched:
    """What some blocks' events touched: customers (addresses), plans, PPV events, VOD titles, and the
    purchase and rental keys they named."""

    customers: set[bytes] = field(default_factory=set)
    plans: set[int] = field(default_factory=set)
    events: set[int] = field(default_factory=set)
    titles: set[int] = field(default_factory=set)
    purchases: set[tuple[bytes, int]] = field(default_factory=set)
    rentals: set[tuple[bytes, int]] = field(default_factory=set)

    def update(self, other: Touched) -> None:
        for name in ("customers", "plans", "events", "titles", "purchases", "rentals"):
            getattr(self, name).update(getattr(other, name))

    def __bool__(self) -> bool:
        return any((self.customers, self.plans, self.events, self.titles, self.purchases, self.rentals))


class Views:
    """The billing contract's views as raw eth_calls in JSON-RPC batches, pinned to one block."""

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]], batch: int = 500):
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.batch = batch
        self._fns: dict[str, tuple[bytes, list[str], list[str]]] = {}
        for item in abi:
            if item.get("type") == "function" and item["name"] not in self._fns:
                inputs = [collapse_if_tuple(i) for i in item["inputs"]]
                outputs = [collapse_if_tuple(o) for o in item["outputs"]]
                selector = Web3.keccak(text=f"{item['name']}({','.join(inputs)})")[:4]
                self._fns[item["name"]] = (selector, inputs, outputs)

    def call(self, calls: list[tuple[str, tuple]], block: Any) -> list[Any]:
        """Decoded results in order; None for a call that reverted (an id that does not exist)."""
        from eth_abi import encode as abi_encode

        out: list[Any] = []
        for start in range(0, len(calls), self.batch):
            chunk = calls[start : start + self.batch]
            payload = []
            for name, args in chunk:
                selector, inputs, _ = self._fns[name]
                data = "0x" + (selector + abi_encode(inputs, list(args))).hex()
                payload.append(("eth_call", [{"to": self.address, "data": data}, block]))
            responses = self.w3.provider.make_batch_request(payload)
            if isinstance(responses, dict):  # the whole batch failed
                raise RuntimeError(f"batch of views failed: {responses.get('error', responses)}")
            for (name, _), response in zip(chunk, sorted(responses, key=lambda r: r["id"]), strict=True):
                if "error" in response:
                    if "revert" in str(response["error"]).lower() or response["error"].get("data"):
                        out.append(None)
                        continue
                    raise RuntimeError(f"{name}: {response['error']}")
                outputs = self._fns[name][2]
                values = abi_decode(outputs, bytes.fromhex(response["result"][2:]))
                out.append(values[0] if len(values) == 1 else values)
        return out


def _addr(value: str) -> bytes:
    return bytes.fromhex(value[2:])


class Follower:
    """Keeps `target.state` and `target.clock` current from the chain (see the module docstring). `target` is
    the AuthService; this class writes `state`, `clock`, and the status fields."""

    def __init__(
        self,
        w3: Web3,
        billing: str,
        deployment_block: int,
        target: Any,
        poll_interval: float = 0.5,
        reorg_depth: int = 64,
        chunk: int = 2_000,
        max_backoff: float = 10.0,
        revocations: Path | None = None,
        on_revocations: Callable[[list[str]], None] | None = None,
    ):
        abi = billing_abi()
        self.w3 = w3
        self.target = target
        self.deployment_block = deployment_block
        self.poll_interval = poll_interval
        self.reorg_depth = reorg_depth
        self.max_backoff = max_backoff
        self.reader = EventReader(w3, billing, abi, chunk=chunk)
        self.views = Views(w3, billing, abi)
        self.names = relevant_events(abi)
        self.revocations = revocations
        self.on_revocations = on_revocations
        self._revocations_mtime: float | None = None
        # block number -> (hash, what that block range's events touched); only the last reorg_depth blocks
        self.checkpoints: dict[int, tuple[str, Touched]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # status
        self.resyncs = 0
        self.reorgs = 0
        self.polls = 0
        self.last_error: str | None = None
        self.last_ok: float | None = None

    # ----- thread -----

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="chain-follower", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def run(self) -> None:
        backoff = 0.25
        while not self._stop.is_set():
            try:
                self._reload_revocations()
                if not self.checkpoints:
                    self.bootstrap()
                else:
                    self.poll()
                self.polls += 1
                self.last_ok = time.monotonic()
                self.last_error = None
                backoff = 0.25
                self._stop.wait(self.poll_interval)
            except Exception as exc:  # the node is down, restarting, or answered something unusable
                kind = "node unreachable" if isinstance(exc, UNREACHABLE) else type(exc).__name__
                self.last_error = f"{kind}: {str(exc)[:200]}"
                log.warning("chain follower: %s; trying again in %.2f s", self.last_error, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    def _reload_revocations(self) -> None:
        if self.revocations is None or self.on_revocations is None:
            return
        try:
            mtime = os.stat(self.revocations).st_mtime
        except FileNotFoundError:
            mtime = 0.0
        if mtime != self._revocations_mtime:
            lines = []
            if mtime:
                text = Path(self.revocations).read_text()
                lines = [ln.split("#")[0].strip() for ln in text.splitlines()]
            self.on_revocations([ln for ln in lines if ln])
            self._revocations_mtime = mtime

    # ----- chain access -----

    def _head(self) -> Head:
        seen = time.monotonic()
        block = self.w3.eth.get_block("latest")
        return Head(
            block["number"],
            "0x" + bytes(block["hash"]).hex(),
            "0x" + bytes(block["parentHash"]).hex(),
            block["timestamp"],
            seen,
        )

    @staticmethod
    def _at(head: Head) -> dict[str, str]:
        return {"blockHash": head.hash}  # EIP-1898: the views of exactly the block whose events were read

    def _hashes(self, numbers: list[int]) -> dict[int, str | None]:
        payload = [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
        responses = self.w3.provider.make_batch_request(payload) if payload else []
        if isinstance(responses, dict):
            raise RuntimeError(f"block hashes: {responses.get('error', responses)}")
        out: dict[int, str | None] = {}
        for n, r in zip(numbers, sorted(responses, key=lambda r: r["id"]), strict=True):
            result = r.get("result")
            out[n] = result["hash"] if result else None
        return out

    # ----- start-up and full re-reads -----

    def bootstrap(self) -> None:
        """The whole state at the current head, swapped in at once."""
        head = self._head()
        at = self._at(head)
        names = ("planCount", "ppvEventCount", "vodTitleCount", "customerCount")
        counts = self.views.call([(name, ()) for name in names], at)
        plans, events, titles, customers = (int(c) for c in counts)
        state = State()
        addresses = self.views.call([("customerAddress", (i,)) for i in range(1, customers + 1)], at)
        touched = Touched(
            customers={_addr(a) for a in addresses if a},
            plans=set(range(1, plans + 1)),
            events=set(range(1, events + 1)),
            titles=set(range(1, titles + 1)),
        )
        start = max(self.deployment_block, 0)
        for event in self.reader.read(start, head.number, {"PpvPurchased", "RentalCharged"}):
            self._touch(event, touched, head)
        self._refresh(state, touched, head)
        if self._hashes([head.number])[head.number] != head.hash:
            raise RuntimeError(f"block {head.number} was reorganised while the state was being read")
        self.checkpoints = {head.number: (head.hash, Touched())}
        self.target.install(state, head)
        self.resyncs += 1
        # The heap is now mostly long-lived (modules, the state): keep the cyclic collector off it, so a full
        # collection never pauses the request path for the milliseconds a scan of it takes.
        gc.collect()
        gc.freeze()
        log.info(
            "auth state at block %d: %d customers, %d plans, %d PPV events, %d VOD titles",
            head.number,
            len(state.accounts),
            len(state.plans),
            len(state.ppv_events),
            len(state.vod_titles),
        )

    # ----- polls -----

    def poll(self) -> None:
        head = self._head()
        last = max(self.checkpoints)
        last_hash = self.checkpoints[last][0]
        if head.hash == last_hash:
            return
        if head.number == last + 1 and head.parent == last_hash:
            fork = last
        else:
            fork = self._fork_point(head)
            if fork is None:
                log.warning("fork deeper than %d blocks (or a node without our history): re-reading", self.reorg_depth)
                self.bootstrap()
                return
        orphaned = Touched()
        for number in [n for n in self.checkpoints if n > fork]:
            orphaned.update(self.checkpoints.pop(number)[1])
        if fork < last:
            self.reorgs += 1
            log.info("reorg: blocks after %d replaced; head %d", fork, head.number)
        touched = Touched()
        for event in self.reader.read(fork + 1, head.number, self.names):
            self._touch(event, touched, head)
        everything = Touched()
        everything.update(touched)
        everything.update(orphaned)
        state = self.target.state
        if everything:
            self._refresh(state, everything, head)
        self.checkpoints[head.number] = (head.hash, touched)
        for number in [n for n in self.checkpoints if n < head.number - self.reorg_depth]:
            del self.checkpoints[number]
        self.target.install(state, head)

    def _fork_point(self, head: Head) -> int | None:
        """The newest kept block that is still on the chain head belongs to."""
        candidates = sorted((n for n in self.checkpoints if n <= head.number), reverse=True)
        if not candidates:
            return None
        hashes = self._hashes(candidates)
        for n in candidates:
            if hashes[n] == self.checkpoints[n][0]:
                return n
        return None

    # ----- events -> what to re-read -----

    def _touch(self, event: Event, touched: Touched, head: Head) -> None:
        args, name = event.args, event.name
        customer = args.get("customer")
        if customer is not None:
            touched.customers.add(_addr(customer))
        if name == "RenewalsCharged":
            ids = unpack_ids(args["customerIds"])
            known = self.target.state.id_to_address
            missing = [i for i in ids if i not in known]
            addresses = self.views.call([("customerAddress", (i,)) for i in missing], self._at(head))
            found = dict(zip(missing, addresses, strict=True))
            for i in ids:
                address = known.get(i) or (found.get(i) and _addr(found[i]))
                if address:
                    touched.customers.add(address)
        elif name == "DisputeResolved":
            (dispute,) = self.views.call([("disputeOf", (args["disputeId"],))], self._at(head))
            if dispute is not None:
                touched.customers.add(_addr(dispute[0]))
        elif name == "PpvPurchased":
            touched.purchases.add((_addr(customer), args["eventId"]))
        elif name == "RentalCharged":
            touched.rentals.add((_addr(customer), args["titleId"]))
        elif name in ("PlanAdded", "PlanPackagesChanged"):
            touched.plans.add(args["planId"])
        elif name == "PpvEventAdded":
            touched.events.add(args["eventId"])
        elif name == "VodTitleAdded":
            touched.titles.add(args["titleId"])

    def _refresh(self, state: State, touched: Touched, head: Head) -> None:
        """Re-reads everything `touched` names at `head` and writes it into `state`, entry by entry."""
        calls: list[tuple[str, tuple]] = []
        plans = sorted(touched.plans)
        calls += [("planOf", (p,)) for p in plans]
        events = sorted(touched.events)
        calls += [("ppvEventOf", (e,)) for e in events]
        titles = sorted(touched.titles)
        calls += [("vodTitleOf", (t,)) for t in titles]
        customers = sorted(touched.customers)
        calls += [("accountOf", ("0x" + c.hex(),)) for c in customers]
        purchases = set(touched.purchases)
        rentals = set(touched.rentals)
        for c in customers:  # a customer's refresh re-reads their purchases and rentals too (refunds)
            for kind, item in state.items_of.get(c, ()):
                (purchases if kind == PPV else rentals).add((c, item))
        purchases_list, rentals_list = sorted(purchases), sorted(rentals)
        calls += [("ppvPurchaseOf", (e, "0x" + c.hex())) for c, e in purchases_list]
        calls += [("rentalOf", ("0x" + c.hex(), t)) for c, t in rentals_list]
        results = iter(self.views.call(calls, self._at(head)))

        for plan_id in plans:
            view = next(results)
            # PlanView: price, period, trial, grace, maxStreams, splitId, addOnBit, active, packages
            if view is None or view[1] == 0:
                state.plans.pop(plan_id, None)
            else:
                state.plans[plan_id] = Plan(view[4], frozenset(view[8]), view[6] != 0)
        for event_id in events:
            view = next(results)  # PpvEventView: price, packageId, salesClose, viewStart, viewEnd, splitId
            old = state.ppv_events.pop(event_id, None)
            if old is not None:
                state.package_refs.pop(old.package, None)
            if view is not None:
                state.ppv_events[event_id] = PpvEvent(view[1], view[3], view[4])
                state.package_refs[view[1]] = (PPV, event_id)
        for title_id in titles:
            view = next(results)  # VodTitleView: price, packageId, rentalSeconds, splitId, active
            old = state.vod_titles.pop(title_id, None)
            if old is not None:
                state.package_refs.pop(old.package, None)
            if view is not None:
                state.vod_titles[title_id] = VodTitle(view[1], view[2])
                state.package_refs[view[1]] = (VOD, title_id)
        for address in customers:
            # AccountView: customerId, balance, planId, state, paidThrough, graceEnds, maxPrice, paidPrice,
            # pendingPlanId, addOnPlanIds, addOnsEnding, flags
            v = next(results)
            account = Account(v[0], v[2], v[4], v[5], tuple(v[9]), v[3])
            previous = state.accounts.get(address)
            if previous is not None and previous.customer_id and previous.customer_id != account.customer_id:
                state.id_to_address.pop(previous.customer_id, None)
            if account.customer_id:
                state.accounts[address] = account
                state.id_to_address[account.customer_id] = address
            else:
                state.accounts.pop(address, None)
        for key in purchases_list:
            view = next(results)  # ChargeView: amount, status, expiresAt, releaseDay
            self._item(state, key, PPV, view[1] if view else 0, None)
        for key in rentals_list:
            view = next(results)
            self._item(state, key, VOD, view[1] if view else 0, view[2] if view else 0)

    @staticmethod
    def _item(state: State, key: tuple[bytes, int], kind: int, status: int, expires: int | None) -> None:
        address, item = key
        table: dict = state.purchases if kind == PPV else state.rentals
        items = state.items_of.get(address, frozenset())
        if status == 0:
            table.pop(key, None)
            if (kind, item) in items:
                state.items_of[address] = items - {(kind, item)}  # a new set: readers may be iterating the old
            return
        table[key] = status if kind == PPV else (status, expires)
        if (kind, item) not in items:
            state.items_of[address] = items | {(kind, item)}
