"""Entitlements held in memory, and the decision made from them: no I/O, nothing here ever calls the node.

The rules are IptvBilling.isEntitled's, evaluated against the chain time the service estimates (the latest
block's timestamp plus the wall-clock seconds since the service saw that block):

- a plan package (the base plan's, or an add-on's riding on it) while `chain time < graceEnds` (accountOf's
  graceEnds: paid-through + grace, or paid-through alone for cancelled, trial and price-lapsed subscriptions);
- a pay-per-view package once bought (status neither 0 nor refunded) while `viewStart <= chain time < viewEnd`;
- a VOD package while a rental (not refunded) has `chain time < expiresAt`.

X-Max-Sessions is the base plan's maxStreams while the plan entitles (the contract's maxStreams view); a
customer entitled only by a PPV purchase or a rental gets `item_max_sessions` (the contract has no figure).
"""

from __future__ import annotations

from typing import NamedTuple

PPV, VOD = 1, 2
CHARGE_REFUNDED = 3


class Plan(NamedTuple):
    max_streams: int
    packages: frozenset[int]
    add_on: bool


class Account(NamedTuple):
    customer_id: int
    plan_id: int
    paid_through: int
    ends: int  # accountOf.graceEnds: the plan entitles while chain time < ends
    add_ons: tuple[int, ...]
    state: int


class PpvEvent(NamedTuple):
    package: int
    view_start: int
    view_end: int


class VodTitle(NamedTuple):
    package: int
    rental_seconds: int


class Decision(NamedTuple):
    allowed: bool
    reason: str  # allowed: plan | ppv | rental; refused: see REASONS
    customer_id: int
    max_sessions: int
    until: float  # chain time the entitlement that allowed it ends (0 when refused)
    package: int  # the package that allowed it (or the first one asked for)


REASONS = {
    "plan": "entitled by the base plan or an add-on",
    "ppv": "a pay-per-view purchase, within its viewing window",
    "rental": "a VOD rental that has not expired",
    "unknown_stream": "the stream map does not name this stream",
    "missing_token": "no token",
    "invalid_token": "forged, malformed, or signed with an unknown key",
    "expired_token": "the token has expired",
    "revoked_token": "the token's device or address is revoked",
    "not_a_customer": "the address is not a registered customer",
    "no_subscription": "no base plan",
    "lapsed": "paid-through time and grace are over (suspended, ended or cancelled)",
    "not_entitled": "the customer's plan and add-ons do not carry this package",
    "ppv_not_bought": "the pay-per-view event was not bought (or was refunded)",
    "ppv_not_started": "the pay-per-view viewing window has not started",
    "ppv_ended": "the pay-per-view viewing window is over",
    "not_rented": "the VOD title is not rented (or the rental was refunded)",
    "rental_expired": "the VOD rental has expired",
}

NO_ACCOUNT = Account(0, 0, 0, 0, (), 0)


class State:
    """Everything the decisions need, as of block `block`. The follower mutates it entry by entry (single
    dictionary assignments, atomic for readers) or replaces it whole after a resynchronisation."""

    def __init__(self) -> None:
        self.plans: dict[int, Plan] = {}
        self.accounts: dict[bytes, Account] = {}
        self.id_to_address: dict[int, bytes] = {}
        self.package_refs: dict[int, tuple[int, int]] = {}  # package -> (PPV | VOD, event or title id)
        self.ppv_events: dict[int, PpvEvent] = {}
        self.vod_titles: dict[int, VodTitle] = {}
        self.purchases: dict[tuple[bytes, int], int] = {}  # (customer, event) -> charge status
        self.rentals: dict[tuple[bytes, int], tuple[int, int]] = {}  # (customer, title) -> (status, expiresAt)
        self.items_of: dict[bytes, frozenset[tuple[int, int]]] = {}  # customer -> {(PPV | VOD, id)}

    def decide(self, address: bytes, packages: tuple[int, ...], now: float, item_max_sessions: int = 1) -> Decision:
        account = self.accounts.get(address, NO_ACCOUNT)
        if account.customer_id == 0:
            return Decision(False, "not_a_customer", 0, 0, 0.0, packages[0])
        plan = self.plans.get(account.plan_id) if account.plan_id else None
        plan_live = plan is not None and now < account.ends
        best: Decision | None = None
        refusal = ""
        for package in packages:
            ref = self.package_refs.get(package)
            until, reason = 0.0, ""
            if ref is None:
                if plan is None:
                    reason = "no_subscription"
                elif not plan_live:
                    reason = "lapsed"
                elif package in plan.packages or any(
                    package in self.plans[a].packages for a in account.add_ons if a in self.plans
                ):
                    until, reason = account.ends, "plan"
                else:
                    reason = "not_entitled"
            elif ref[0] == PPV:
                status = self.purchases.get((address, ref[1]), 0)
                event = self.ppv_events.get(ref[1])
                if status == 0 or status == CHARGE_REFUNDED or event is None:
                    reason = "ppv_not_bought"
                elif now < event.view_start:
                    reason = "ppv_not_started"
                elif now >= event.view_end:
                    reason = "ppv_ended"
                else:
                    until, reason = event.view_end, "ppv"
            else:
                status, expires = self.rentals.get((address, ref[1]), (0, 0))
                if status == 0 or status == CHARGE_REFUNDED:
                    reason = "not_rented"
                elif now >= expires:
                    reason = "rental_expired"
                else:
                    until, reason = expires, "rental"
            if until:
                if best is None or until > best.until:
                    best = Decision(True, reason, account.customer_id, 0, until, package)
            elif not refusal:
                refusal = reason
        if best is None:
            return Decision(False, refusal, account.customer_id, 0, 0.0, packages[0])
        sessions = plan.max_streams if plan_live else item_max_sessions
        return best._replace(max_sessions=sessions)

    def entitled_packages(self, address: bytes, now: float) -> dict[int, tuple[str, float]]:
        """Every package `address` may watch now: {package: (reason, until)}."""
        account = self.accounts.get(address, NO_ACCOUNT)
        out: dict[int, tuple[str, float]] = {}
        if account.customer_id == 0:
            return out
        plan = self.plans.get(account.plan_id) if account.plan_id else None
        if plan is not None and now < account.ends:
            for plan_id in (account.plan_id, *account.add_ons):
                for package in self.plans[plan_id].packages if plan_id in self.plans else ():
                    out[package] = ("plan", account.ends)
        for kind, item in self.items_of.get(address, ()):
            if kind == PPV:
                event = self.ppv_events.get(item)
                status = self.purchases.get((address, item), 0)
                if event and status not in (0, CHARGE_REFUNDED) and event.view_start <= now < event.view_end:
                    out[event.package] = ("ppv", event.view_end)
            else:
                title = self.vod_titles.get(item)
                status, expires = self.rentals.get((address, item), (0, 0))
                if title and status not in (0, CHARGE_REFUNDED) and now < expires:
                    out[title.package] = ("rental", expires)
        return out
