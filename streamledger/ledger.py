"""Every customer's and provider's ledger, rebuilt from the billing contract's events alone.

`Ledger.apply(event)` replays one event; replayed in chain order, the events give each customer's balance,
each escrow bucket, each provider's earnings and every charge with what it was computed from. Nothing
here reads contract state: reconciliation compares the result with the chain's own views, which is what
proves the events complete.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .events import Event, unpack_ids

BPS = 10_000

# statement kinds (IBillingTypes.StatementLine)
OPENING, DEPOSIT, WITHDRAWAL, SUBSCRIPTION, ADDON, PLAN_CREDIT, REFUND = 1, 2, 3, 4, 5, 6, 7
USAGE, PPV, RENTAL, DISPUTE_OPENED, DISPUTE_REFUNDED, DISPUTE_UPHELD, CLOSING = 8, 9, 10, 11, 12, 13, 14
KIND_NAMES = {
    OPENING: "opening balance",
    DEPOSIT: "deposit",
    WITHDRAWAL: "withdrawal",
    SUBSCRIPTION: "subscription",
    ADDON: "add-on",
    PLAN_CREDIT: "plan change credit",
    REFUND: "refund",
    USAGE: "usage",
    PPV: "pay-per-view",
    RENTAL: "rental",
    DISPUTE_OPENED: "dispute opened",
    DISPUTE_REFUNDED: "dispute refunded",
    DISPUTE_UPHELD: "dispute upheld",
    CLOSING: "closing balance",
}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def split_shares(amount: int, bps: list[int]) -> list[int]:
    """The contract's rule: every entry but the first gets floor(amount * bps / 10000); the first the rest."""
    shares = [amount * b // BPS for b in bps]
    shares[0] = amount - sum(shares[1:])
    return shares


@dataclass
class Entry:
    """One money movement of one customer."""

    customer: str
    kind: int
    amount: int  # signed: what it adds to the balance
    block: int
    log_index: int
    tx_hash: str
    ref: str  # tx hash, or "usage:<batch>:<line>"
    detail: dict[str, Any] = field(default_factory=dict)
    timestamp: int = 0


@dataclass
class Charge:
    """A charge with what it was computed from, for the checks."""

    kind: str  # subscription | renewal | addon | usage | ppv | rental | upgrade
    customer: str
    amount: int
    block: int
    tx_hash: str
    plan: int | None = None
    price: int | None = None
    period_end: int | None = None
    batch: int | None = None
    line: int | None = None
    meter: int | None = None
    quantity: int | None = None
    window: int | None = None


@dataclass
class Release:
    split: int
    day: int
    amount: int
    block: int
    tx_hash: str
    credited: list[tuple[int, str, int]] = field(default_factory=list)  # (provider id, payee, amount)
    source: str = "escrow"  # escrow | dispute


class Ledger:
    """State rebuilt from events. Replay events in chain order with apply()."""

    def __init__(self) -> None:
        self.addresses: dict[int, str] = {}
        self.balances: dict[str, int] = defaultdict(int)
        self.entries: dict[str, list[Entry]] = defaultdict(list)
        self.escrow: dict[tuple[int, int], int] = defaultdict(int)
        self.credited: dict[str, int] = defaultdict(int)
        self.withdrawn: dict[str, int] = defaultdict(int)
        self.withdrawals: list[tuple[str, int, int]] = []  # (payee, amount, block)
        self.provider_of_payee: dict[str, int] = {}
        self.payouts: dict[int, str] = {}
        self.splits: dict[int, tuple[list[int], list[int]]] = {}
        self.plans: dict[int, dict[str, Any]] = {}
        self.price_history: dict[int, list[tuple[int, int]]] = defaultdict(list)  # plan -> [(block, price)]
        self.meters: dict[int, dict[str, Any]] = {}
        self.meter_prices: dict[int, list[tuple[int, int]]] = defaultdict(list)
        self.max_prices: dict[tuple[str, int], int] = {}
        self.paid_through: dict[tuple[str, int], int] = {}
        self.charges: list[Charge] = []
        self.releases: list[Release] = []
        self.disputes: dict[int, dict[str, Any]] = {}
        self.usage_batches: dict[int, dict[str, Any]] = {}
        self.declined: dict[int, set[int]] = defaultdict(set)
        self.ppv_events: dict[int, dict[str, Any]] = {}
        self.vod_titles: dict[int, dict[str, Any]] = {}
        self.statement_roots: dict[int, dict[str, Any]] = {}
        self.last_block = -1
        self.events = 0
        self._open_release: Release | None = None

    # ----- replay -----

    def apply(self, event: Event) -> None:
        handler = getattr(self, f"_on_{event.name}", None)
        if event.name != "EarningsCredited":
            self._open_release = None
        if handler is not None:
            handler(event, event.args)
        self.last_block = max(self.last_block, event.block)
        self.events += 1

    def _entry(self, e: Event, customer: str, kind: int, amount: int, ref: str | None = None, **detail) -> None:
        self.balances[customer] += amount
        self.entries[customer].append(
            Entry(customer, kind, amount, e.block, e.log_index, e.tx_hash, ref or e.tx_hash, detail)
        )

    # catalogue
    def _on_ProviderAdded(self, e, a):
        self.payouts[a["providerId"]] = a["payout"]
        self.provider_of_payee[a["payout"]] = a["providerId"]

    def _on_ProviderPayoutChanged(self, e, a):
        self.payouts[a["providerId"]] = a["payout"]
        self.provider_of_payee[a["payout"]] = a["providerId"]

    def _on_SplitAdded(self, e, a):
        self.splits[a["splitId"]] = (list(a["providerIds"]), list(a["bps"]))

    def _on_PlanAdded(self, e, a):
        self.plans[a["planId"]] = {
            "name": a["name"],
            "period": a["period"],
            "grace": a["grace"],
            "split": a["splitId"],
            "addOn": a["addOnBit"] != 0,
            "packages": list(a["packages"]),
        }
        self.price_history[a["planId"]].append((e.block, a["price"]))

    def _on_PlanPriceChanged(self, e, a):
        self.price_history[a["planId"]].append((e.block, a["price"]))

    def _on_PlanSplitChanged(self, e, a):
        self.plans[a["planId"]]["split"] = a["splitId"]

    def _on_MeterAdded(self, e, a):
        self.meters[a["meterId"]] = {"name": a["name"], "scale": a["unitScale"], "split": a["splitId"]}
        self.meter_prices[a["meterId"]].append((e.block, a["unitPrice"]))

    def _on_MeterPriceChanged(self, e, a):
        self.meter_prices[a["meterId"]].append((e.block, a["unitPrice"]))

    def _on_PpvEventAdded(self, e, a):
        self.ppv_events[a["eventId"]] = dict(a)

    def _on_VodTitleAdded(self, e, a):
        self.vod_titles[a["titleId"]] = dict(a)

    def _on_StatementRootCommitted(self, e, a):
        self.statement_roots[a["period"]] = dict(a)

    # customers
    def _on_CustomerRegistered(self, e, a):
        self.addresses[a["customerId"]] = a["customer"]

    def _on_Deposited(self, e, a):
        self._entry(e, a["customer"], DEPOSIT, a["amount"], payer=a["payer"])

    def _on_Withdrawn(self, e, a):
        self._entry(e, a["customer"], WITHDRAWAL, -a["amount"])

    def _on_Subscribed(self, e, a):
        customer, plan = a["customer"], a["planId"]
        self.max_prices[(customer, plan)] = a["maxPrice"]
        self.paid_through[(customer, plan)] = a["paidThrough"]
        if a["price"]:
            self._entry(e, customer, SUBSCRIPTION, -a["price"], plan=plan, paidThrough=a["paidThrough"])
            self.escrow[(a["splitId"], a["releaseDay"])] += a["price"]
            self.charges.append(
                Charge(
                    "subscription",
                    customer,
                    a["price"],
                    e.block,
                    e.tx_hash,
                    plan=plan,
                    price=a["price"],
                    period_end=a["paidThrough"],
                )
            )

    def _on_Resumed(self, e, a):
        self.max_prices[(a["customer"], a["planId"])] = a["maxPrice"]

    def _on_MaxPriceChanged(self, e, a):
        self.max_prices[(a["customer"], a["planId"])] = a["maxPrice"]

    def _on_RenewalsCharged(self, e, a):
        plan, price, period = a["planId"], a["price"], a["period"]
        for cid in unpack_ids(a["customerIds"]):
            customer = self.addresses.get(cid, f"#{cid}")
            end = self.paid_through.get((customer, plan), 0) + period
            self.paid_through[(customer, plan)] = end
            self._entry(e, customer, SUBSCRIPTION, -price, plan=plan, paidThrough=end)
            self.charges.append(
                Charge("renewal", customer, price, e.block, e.tx_hash, plan=plan, price=price, period_end=end)
            )
        self.escrow[(a["splitId"], a["releaseDay"])] += price * (len(a["customerIds"]) // 4)

    def _on_Renewed(self, e, a):
        customer, plan = a["customer"], a["planId"]
        self.paid_through[(customer, plan)] = a["paidThrough"]
        self._entry(e, customer, SUBSCRIPTION, -a["price"], plan=plan, paidThrough=a["paidThrough"])
        self.escrow[(a["splitId"], a["releaseDay"])] += a["price"]
        self.charges.append(
            Charge(
                "renewal",
                customer,
                a["price"],
                e.block,
                e.tx_hash,
                plan=plan,
                price=a["price"],
                period_end=a["paidThrough"],
            )
        )

    def _on_AddOnSubscribed(self, e, a):
        if a["charge"]:
            self._entry(e, a["customer"], ADDON, -a["charge"], plan=a["addOnPlanId"])
            self.escrow[(a["splitId"], a["releaseDay"])] += a["charge"]
            self.charges.append(Charge("addon", a["customer"], a["charge"], e.block, e.tx_hash, plan=a["addOnPlanId"]))
        self.max_prices[(a["customer"], a["addOnPlanId"])] = a["maxPrice"]

    def _on_AddOnRenewed(self, e, a):
        self._entry(e, a["customer"], ADDON, -a["price"], plan=a["addOnPlanId"])
        self.escrow[(a["splitId"], a["releaseDay"])] += a["price"]
        self.charges.append(
            Charge("addon", a["customer"], a["price"], e.block, e.tx_hash, plan=a["addOnPlanId"], price=a["price"])
        )

    def _on_PlanChanged(self, e, a):
        customer = a["customer"]
        if a["credit"]:
            self._entry(e, customer, PLAN_CREDIT, a["credit"], plan=a["fromPlanId"])
            self.escrow[(a["fromSplitId"], a["releaseDay"])] -= a["credit"]
        if a["charge"]:
            self._entry(e, customer, SUBSCRIPTION, -a["charge"], plan=a["toPlanId"], paidThrough=a["paidThrough"])
            self.escrow[(a["splitId"], a["releaseDay"])] += a["charge"]
            self.charges.append(Charge("upgrade", customer, a["charge"], e.block, e.tx_hash, plan=a["toPlanId"]))
        self.paid_through[(customer, a["toPlanId"])] = a["paidThrough"]

    def _on_Refunded(self, e, a):
        self._entry(e, a["customer"], REFUND, a["amount"], plan=a["planId"])
        self.escrow[(a["splitId"], a["releaseDay"])] -= a["amount"]

    # usage
    def _on_UsageDeclined(self, e, a):
        self.declined[a["batchId"]].add(a["lineIndex"])

    def _on_UsageSettled(self, e, a):
        batch = a["batchId"]
        s = a["settlement"]  # a struct: decoded by name
        meter, price, scale, split, day = s["meterId"], s["unitPrice"], s["unitScale"], s["splitId"], s["releaseDay"]
        lines = a["lines"]
        declined = self.declined.get(batch, set())
        self.usage_batches[batch] = {
            "meter": meter,
            "price": price,
            "scale": scale,
            "split": split,
            "day": day,
            "block": e.block,
            "tx": e.tx_hash,
            "window": (a["windowStart"], a["windowEnd"]),
            "lines": lines,
            "declined": sorted(declined),
            "charged": a["charged"],
            "recordsRoot": a["recordsRoot"],
        }
        for i in range(len(lines) // 8):
            if i in declined:
                continue
            cid = int.from_bytes(lines[8 * i : 8 * i + 4], "big")
            quantity = int.from_bytes(lines[8 * i + 4 : 8 * i + 8], "big")
            amount = ceil_div(quantity * price, scale)
            if amount == 0:
                continue
            customer = self.addresses.get(cid, f"#{cid}")
            self._entry(
                e,
                customer,
                USAGE,
                -amount,
                ref=f"usage:{batch}:{i}",
                meter=meter,
                quantity=quantity,
                window=a["windowStart"],
                batch=batch,
                line=i,
            )
            self.charges.append(
                Charge(
                    "usage",
                    customer,
                    amount,
                    e.block,
                    e.tx_hash,
                    batch=batch,
                    line=i,
                    meter=meter,
                    quantity=quantity,
                    window=a["windowStart"],
                    price=price,
                )
            )
        self.escrow[(split, day)] += a["charged"]

    def _on_PpvPurchased(self, e, a):
        self._entry(e, a["customer"], PPV, -a["price"], event=a["eventId"])
        self.escrow[(a["splitId"], a["releaseDay"])] += a["price"]
        self.charges.append(Charge("ppv", a["customer"], a["price"], e.block, e.tx_hash, price=a["price"]))

    def _on_RentalCharged(self, e, a):
        self._entry(e, a["customer"], RENTAL, -a["price"], title=a["titleId"], batch=a["batchId"])
        self.escrow[(a["splitId"], a["releaseDay"])] += a["price"]
        self.charges.append(
            Charge("rental", a["customer"], a["price"], e.block, e.tx_hash, batch=a["batchId"], price=a["price"])
        )

    # disputes
    def _on_DisputeOpened(self, e, a):
        self.disputes[a["disputeId"]] = {**a, "status": "open", "block": e.block}
        self.escrow[(a["splitId"], a["releaseDay"])] -= a["amount"]
        self.entries[a["customer"]].append(
            Entry(
                a["customer"],
                DISPUTE_OPENED,
                0,
                e.block,
                e.log_index,
                e.tx_hash,
                e.tx_hash,
                {"dispute": a["disputeId"], "disputed": a["amount"]},
            )
        )

    def _on_DisputeResolved(self, e, a):
        dispute = self.disputes[a["disputeId"]]
        dispute["status"] = "refunded" if a["refunded"] else "upheld"
        customer = dispute["customer"]
        if a["refunded"]:
            self._entry(e, customer, DISPUTE_REFUNDED, a["amount"], dispute=a["disputeId"])
        else:
            self.entries[customer].append(
                Entry(
                    customer,
                    DISPUTE_UPHELD,
                    0,
                    e.block,
                    e.log_index,
                    e.tx_hash,
                    e.tx_hash,
                    {"dispute": a["disputeId"], "upheld": a["amount"]},
                )
            )
            release = Release(dispute["splitId"], 0, a["amount"], e.block, e.tx_hash, source="dispute")
            self.releases.append(release)
            self._open_release = release

    # escrow and providers
    def _on_EscrowReleased(self, e, a):
        self.escrow[(a["splitId"], a["day"])] -= a["amount"]
        release = Release(a["splitId"], a["day"], a["amount"], e.block, e.tx_hash)
        self.releases.append(release)
        self._open_release = release

    def _on_EarningsCredited(self, e, a):
        self.credited[a["payee"]] += a["amount"]
        if self._open_release is not None and self._open_release.tx_hash == e.tx_hash:
            self._open_release.credited.append((a["providerId"], a["payee"], a["amount"]))

    def _on_EarningsWithdrawn(self, e, a):
        self.withdrawn[a["payee"]] += a["amount"]
        self.withdrawals.append((a["payee"], a["amount"], e.block))

    # ----- derived -----

    def price_at(self, plan: int, block: int) -> int | None:
        """The plan's price in force at `block` (changes in the same block count)."""
        price = None
        for changed, value in self.price_history.get(plan, []):
            if changed <= block:
                price = value
        return price

    def meter_price_at(self, meter: int, block: int) -> int | None:
        price = None
        for changed, value in self.meter_prices.get(meter, []):
            if changed <= block:
                price = value
        return price

    def earnings(self, payee: str) -> int:
        return self.credited[payee] - self.withdrawn[payee]
