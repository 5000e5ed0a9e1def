"""Operator helpers for the brownie console (or any Python shell on plain web3):

    $ brownie console                       # or: brownie console --network base-sepolia
    >>> from streamledger.console import attach, deploy
    >>> ops = attach()                      # the deployment of the active network, signing as the operator
    >>> ops = deploy()                      # or: deploy the development catalogue first (fresh local chain)
    >>> ops.customer("0x90F7...")           # everything about one customer
    >>> ops.plans()                         # the catalogue
    >>> ops.add_plan("Family", "24", packages=[1, 2], max_streams=6)
    >>> ops.set_price(1, "11")              # from the next renewal; subscribers' maxPrice still applies
    >>> ops.renew()                         # run due renewals through checkUpkeep/performUpkeep
    >>> ops.release()                       # pay out escrow buckets whose day has started
    >>> ops.disputes()                      # open disputes
    >>> ops.resolve(3, refund=True)         # as an arbiter
    >>> ops.providers()                     # provider earnings
    >>> ops.pause(); ops.unpause()

Every helper returns a `Shown`: the prompt displays it as a readable table (or an outcome line), and its
`.data` holds the rows. A reverted transaction shows its decoded custom error (name and arguments) instead
of raising.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .catalogue import DAY
from .chain import Chain, Sender, TransactionFailed
from .deployment import Deployment, event_args
from .events import EventReader
from .keeper import Keeper
from .money import fmt_units, to_units
from .tables import table

STATES = ["none", "trial", "active", "grace", "suspended", "cancelled", "ended"]


class Shown:
    """What a helper returns: shown as a readable table (or outcome line) at the prompt, data in `.data`."""

    def __init__(self, text: str, data: Any = None):
        self.text = text
        self.data = data

    def __repr__(self) -> str:
        return self.text

    def __bool__(self) -> bool:
        return self.data is not None


def _address(account: Any) -> str:
    return getattr(account, "address", account)


def _when(ts: int) -> str:
    return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M}" if ts else "-"


class Operator:
    def __init__(self, chain: Chain, deployment: Deployment, quiet: bool = True):
        self.chain = chain
        self.deployment = deployment
        self.billing = chain.billing(deployment.billing)
        self.quiet = quiet  # no progress bars

    # ----- helpers -----

    def _money(self, units: int) -> str:
        return fmt_units(units, self.deployment.token_decimals, self.deployment.token_symbol)

    def _units(self, amount: str | int) -> int:
        return to_units(amount, self.deployment.token_decimals)

    def _send(self, call, what: str, as_account: str | None = None) -> Shown:
        chain = self.chain if as_account is None else self.chain.with_sender(Sender(_address(as_account)))
        try:
            receipt = chain.transact(call, what)
        except TransactionFailed as exc:
            return Shown(f"x {exc}")
        return Shown(f"ok {what} (gas {receipt['gasUsed']:,}, tx 0x{bytes(receipt['transactionHash']).hex()})", receipt)

    # ----- customers -----

    def customer(self, address: Any) -> Shown:
        """Balance, subscription, add-ons, cap and entitlements of one customer."""
        address = _address(address)
        f = self.billing.functions
        v = f.accountOf(address).call()
        names = {pid: key for key, pid in self.deployment.plans.items()}
        cap, left, ends = f.spendingCapOf(address).call()
        info = {
            "customer id": v[0],
            "balance": self._money(v[1]),
            "plan": names.get(v[2], v[2] or "-"),
            "state": STATES[v[3]],
            "paid through": _when(v[4]),
            "grace ends": _when(v[5]),
            "max price": self._money(v[6]) if v[2] else "-",
            "pending plan": names.get(v[8], "-") if v[8] else "-",
            "add-ons": ", ".join(names.get(a, str(a)) for a in v[9]) or "-",
            "spending cap": f"{self._money(left)} left of {self._money(cap)} until {_when(ends)}" if cap else "none",
            "streams allowed": f.maxStreams(address).call(),
        }
        return Shown(table(["field", "value"], list(info.items()), f"Customer {address}"), info)

    # ----- catalogue -----

    def plans(self) -> Shown:
        rows = []
        names = {pid: key for key, pid in self.deployment.plans.items()}
        for pid in range(1, self.billing.functions.planCount().call() + 1):
            p = self.billing.functions.planOf(pid).call()
            rows.append(
                {
                    "id": pid,
                    "key": names.get(pid, "-"),
                    "price": self._money(p[0]),
                    "period": f"{p[1] // DAY} d",
                    "grace": f"{p[3] // DAY} d",
                    "trial": f"{p[2] // DAY} d",
                    "streams": p[4],
                    "split": p[5],
                    "add-on": "yes" if p[6] else "",
                    "active": "yes" if p[7] else "no",
                    "packages": ",".join(map(str, p[8])),
                    "subscribers": self.billing.functions.subscriberCount(pid).call(),
                }
            )
        return Shown(table(list(rows[0]) if rows else ["id"], [list(r.values()) for r in rows], "Plans"), rows)

    def add_plan(
        self,
        name: str,
        price: str,
        packages: list[int],
        period_days: int = 30,
        grace_days: int = 3,
        trial_days: int = 0,
        max_streams: int = 2,
        split: str | int = "basic",
        add_on: bool = False,
    ) -> Shown:
        """Adds a plan; `price` in whole tokens ("9.99"). `.data` is the new plan id."""
        split_id = self.deployment.splits[split] if isinstance(split, str) else split
        params = (
            name,
            self._units(price),
            period_days * DAY,
            trial_days * DAY,
            grace_days * DAY,
            max_streams,
            split_id,
            add_on,
            list(packages),
        )
        sent = self._send(self.billing.functions.addPlan(params), f"add plan {name!r}")
        if not sent:
            return sent
        plan_id = event_args(self.billing, "PlanAdded", sent.data)[0]["planId"]
        return Shown(f"{sent.text}\n   plan {name!r} is id {plan_id}", plan_id)

    def set_price(self, plan_id: int, price: str) -> Shown:
        """New price from the next renewal; subscribers whose maxPrice is lower are not renewed."""
        return self._send(self.billing.functions.setPlanPrice(plan_id, self._units(price)), f"price of plan {plan_id}")

    # ----- keeper -----

    def renew(self) -> Shown:
        report = Keeper(self.chain, self.deployment).renew_due(progress=not self.quiet)
        return Shown(report.summary(), report)

    def release(self) -> Shown:
        report = Keeper(self.chain, self.deployment).release_escrow()
        rows = [[s, d, self._money(a)] for s, d, a in report.released]
        return Shown(table(["split", "day", "amount"], rows, "Escrow released"), report)

    # ----- disputes -----

    def disputes(self, include_resolved: bool = False) -> Shown:
        kinds = {1: "usage line", 2: "pay-per-view", 3: "rental"}
        statuses = {1: "open", 2: "refunded", 3: "upheld"}
        rows = []
        for dispute_id in range(1, self.billing.functions.disputeCount().call() + 1):
            d = self.billing.functions.disputeOf(dispute_id).call()
            if d[2] != 1 and not include_resolved:
                continue
            rows.append(
                {
                    "id": dispute_id,
                    "customer": d[0],
                    "kind": kinds[d[1]],
                    "amount": self._money(d[3]),
                    "split": d[4],
                    "status": statuses[d[2]],
                }
            )
        title = "Disputes" if include_resolved else "Open disputes"
        headers = ["id", "customer", "kind", "amount", "split", "status"]
        return Shown(table(headers, [list(r.values()) for r in rows], title), rows)

    def resolve(self, dispute_id: int, refund: bool, arbiter: Any = None) -> Shown:
        """As the arbiter (this console's account, or `arbiter` if it is an unlocked development account)."""
        outcome = "refund to the customer" if refund else "pay the providers"
        return self._send(
            self.billing.functions.resolveDispute(dispute_id, refund),
            f"dispute {dispute_id}: {outcome}",
            as_account=arbiter,
        )

    # ----- providers -----

    def providers(self) -> Shown:
        reader = EventReader(self.chain.w3, self.deployment.billing)
        credited: dict[str, int] = {}
        withdrawn: dict[str, int] = {}
        for e in reader.read(
            self.deployment.block, self.chain.w3.eth.block_number, {"EarningsCredited", "EarningsWithdrawn"}
        ):
            into = credited if e.name == "EarningsCredited" else withdrawn
            into[e.args["payee"]] = into.get(e.args["payee"], 0) + e.args["amount"]
        rows = []
        for key, pid in self.deployment.providers.items():
            payee = self.billing.functions.providerPayout(pid).call()
            rows.append(
                {
                    "provider": key,
                    "payee": payee,
                    "credited": self._money(credited.get(payee, 0)),
                    "withdrawn": self._money(withdrawn.get(payee, 0)),
                    "owed": self._money(self.billing.functions.earningsOf(payee).call()),
                }
            )
        return Shown(table(list(rows[0]), [list(r.values()) for r in rows], "Providers"), rows)

    # ----- pause -----

    def pause(self) -> Shown:
        return self._send(self.billing.functions.pause(), "pause billing")

    def unpause(self) -> Shown:
        return self._send(self.billing.functions.unpause(), "unpause billing")


def attach(deployment: str | None = None, quiet: bool = True) -> Operator:
    """The Operator for the active brownie network (or a deployments/<network>.json path)."""
    from . import brownie_support

    dep = Deployment.load(deployment or brownie_support.active_network())
    chain = brownie_support.chain()
    if not chain.w3.eth.get_code(dep.billing):
        raise RuntimeError(
            f"deployments/{dep.network}.json names {dep.billing}, which has no code on this chain (a fresh "
            "development chain?): deploy first with deploy() here, or brownie run scripts/deploy.py"
        )
    return Operator(chain, dep, quiet=quiet)


def deploy(catalogue: str | None = None, quiet: bool = True) -> Operator:
    """Deploys the system with a catalogue (default: the development one) and attaches to it."""
    from . import brownie_support

    dep = brownie_support.deploy(catalogue or brownie_support.DEFAULT_CATALOGUE)
    return Operator(brownie_support.chain(), dep, quiet=quiet)
