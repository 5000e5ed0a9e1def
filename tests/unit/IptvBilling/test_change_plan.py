"""IptvBilling.changePlan: upgrades take effect now (credit rounded down, charge rounded up, escrow moved
between buckets), downgrades are scheduled for the next renewal, and the reverts."""

import pytest
from brownie import history

from tests.conftest import DAY, ids, reverts, time_travel

NONE, TRIAL, ACTIVE, GRACE, SUSPENDED, CANCELLED, ENDED = range(7)
PERIOD = 30 * DAY


def release_day(timestamp: int) -> int:
    return (timestamp + DAY - 1) // DAY


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def fields(event) -> dict:
    """An event's arguments as a dict. Iterating a brownie event yields events, not keys: hence keys()."""
    return {key: event[key] for key in event.keys()}  # noqa: SIM118


def account(billing, customer) -> dict:
    return billing.accountOf(customer).dict()


def listed(billing, plan_id: int) -> list[int]:
    return list(billing.subscribersOf(plan_id, 0, 1_000))


@pytest.fixture
def tiers(make_plan, unit):
    """30-day base plans with prices coprime with the period in seconds, so every pro-rata amount has a
    remainder: `low` (split 1, package 1), `high` (split 2, packages 1 and 2), `peer` (the price of `low`,
    split 2), and `weekly` (a 7-day plan)."""
    return {
        "low": make_plan(price=10 * unit + 7, name="Low"),
        "high": make_plan(price=18 * unit + 3, split=2, packages=(1, 2), max_streams=4, name="High"),
        "peer": make_plan(price=10 * unit + 7, split=2, name="Peer"),
        "weekly": make_plan(price=3 * unit, period_days=7, grace_days=1, name="Weekly"),
    }


@pytest.fixture
def join(billing, fund, unit):
    """join(customer, plan_id, deposit=100 tokens): funds and subscribes with maxPrice = price."""

    def _join(customer, plan_id, deposit=None):
        deposit = 100 * unit if deposit is None else deposit
        if deposit:
            fund(customer, deposit)
        return billing.subscribe(plan_id, billing.planOf(plan_id)["price"], {"from": customer})

    return _join


@pytest.fixture
def upgraded(billing, join, alice, tiers):
    """Alice on `low` for 12 days and some seconds, then upgraded to `high`. Returns the upgrade and the
    amounts the test expects, computed from the upgrade's own block time."""
    join(alice, tiers["low"])
    paid_through = account(billing, alice)["paidThrough"]
    old_price = billing.planOf(tiers["low"])["price"]
    new_price = billing.planOf(tiers["high"])["price"]
    time_travel(12 * DAY + 4_567)
    balance = billing.balanceOf(alice)
    escrow = {split: billing.escrowOf(split, release_day(paid_through)) for split in (1, 2)}

    tx = billing.changePlan(tiers["high"], new_price, {"from": alice})

    remaining = paid_through - tx.timestamp
    return {
        "tx": tx,
        "paid_through": paid_through,
        "remaining": remaining,
        "credit": old_price * remaining // PERIOD,
        "charge": ceil_div(new_price * remaining, PERIOD),
        "balance": balance,
        "escrow": escrow,
        "old_price": old_price,
        "new_price": new_price,
    }


# ----- upgrade -----------------------------------------------------------------------------------------


def test_upgrade_credits_unused_time_rounded_down_and_charges_rounded_up(upgraded):
    remaining = upgraded["remaining"]
    assert upgraded["old_price"] * remaining % PERIOD != 0, "the credit must have a remainder"
    assert upgraded["new_price"] * remaining % PERIOD != 0, "the charge must have a remainder"
    event = upgraded["tx"].events["PlanChanged"]

    assert event["credit"] == upgraded["credit"]
    assert event["charge"] == upgraded["charge"]


def test_upgrade_moves_the_balance_by_charge_minus_credit(billing, alice, upgraded):
    assert billing.balanceOf(alice) == upgraded["balance"] - upgraded["charge"] + upgraded["credit"]


def test_upgrade_moves_the_money_between_escrow_buckets(billing, upgraded):
    day = release_day(upgraded["paid_through"])

    assert billing.escrowOf(1, day) == upgraded["escrow"][1] - upgraded["credit"]
    assert billing.escrowOf(2, day) == upgraded["escrow"][2] + upgraded["charge"]


def test_upgrade_emits_plan_changed(billing, alice, tiers, upgraded):
    assert fields(upgraded["tx"].events["PlanChanged"]) == {
        "customer": alice.address,
        "fromPlanId": tiers["low"],
        "toPlanId": tiers["high"],
        "credit": upgraded["credit"],
        "charge": upgraded["charge"],
        "paidThrough": upgraded["paid_through"],
        "fromSplitId": billing.planOf(tiers["low"])["splitId"],
        "splitId": billing.planOf(tiers["high"])["splitId"],
        "releaseDay": release_day(upgraded["paid_through"]),
    }


def test_upgrade_keeps_paid_through(billing, alice, upgraded):
    assert account(billing, alice)["paidThrough"] == upgraded["paid_through"]


def test_upgrade_takes_effect_now(billing, alice, tiers, upgraded):
    view = account(billing, alice)

    assert view["planId"] == tiers["high"]
    assert view["state"] == ACTIVE
    assert view["paidPrice"] == upgraded["new_price"]
    assert billing.isEntitled(alice, 2)
    assert billing.maxStreams(alice) == 4


def test_upgrade_moves_the_customer_between_subscriber_lists(billing, alice, tiers, upgraded):
    customer_id = billing.customerIdOf(alice)

    assert customer_id not in listed(billing, tiers["low"])
    assert customer_id in listed(billing, tiers["high"])


def test_upgraded_customer_renews_at_the_new_price(billing, alice, tiers, upgraded):
    time_travel(upgraded["remaining"] + 1)
    balance = billing.balanceOf(alice)

    billing.renew(tiers["high"], ids(billing.customerIdOf(alice)), {"from": alice})

    assert billing.balanceOf(alice) == balance - upgraded["new_price"]
    assert account(billing, alice)["paidThrough"] == upgraded["paid_through"] + PERIOD


def test_change_to_a_plan_at_the_same_price_takes_effect_now(billing, join, alice, tiers):
    join(alice, tiers["low"])
    time_travel(DAY)

    tx = billing.changePlan(tiers["peer"], billing.planOf(tiers["peer"])["price"], {"from": alice})

    assert "PlanChangeScheduled" not in tx.events
    assert tx.events["PlanChanged"]["toPlanId"] == tiers["peer"]
    assert account(billing, alice)["planId"] == tiers["peer"]


def test_upgrade_with_an_insufficient_balance_reverts(billing, join, alice, tiers):
    old_price = billing.planOf(tiers["low"])["price"]
    new_price = billing.planOf(tiers["high"])["price"]
    join(alice, tiers["low"], deposit=old_price)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(DAY + 321)

    with reverts("Billing_InsufficientBalance") as exc:
        billing.changePlan(tiers["high"], new_price, {"from": alice})

    remaining = paid_through - history[-1].timestamp
    net = ceil_div(new_price * remaining, PERIOD) - old_price * remaining // PERIOD
    assert exc.value.revert_msg == f"Billing_InsufficientBalance: {alice.address.lower()}, {net}, 0"


def test_upgrade_during_a_trial_stays_free(billing, join, alice, plans, tiers, unit):
    join(alice, plans["premium"], deposit=50 * unit)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(2 * DAY)

    tx = billing.changePlan(tiers["high"], billing.planOf(tiers["high"])["price"], {"from": alice})

    assert fields(tx.events["PlanChanged"]) == {
        "customer": alice.address,
        "fromPlanId": plans["premium"],
        "toPlanId": tiers["high"],
        "credit": 0,
        "charge": 0,
        "paidThrough": paid_through,
        "fromSplitId": billing.planOf(plans["premium"])["splitId"],
        "splitId": billing.planOf(tiers["high"])["splitId"],
        "releaseDay": release_day(paid_through),
    }
    view = account(billing, alice)
    assert billing.balanceOf(alice) == 50 * unit
    assert view["planId"] == tiers["high"]
    assert view["state"] == TRIAL
    assert view["paidThrough"] == paid_through


# ----- downgrade ---------------------------------------------------------------------------------------


def test_downgrade_is_scheduled_for_the_end_of_the_paid_period(billing, join, alice, tiers):
    join(alice, tiers["high"])
    paid_through = account(billing, alice)["paidThrough"]
    balance = billing.balanceOf(alice)
    time_travel(3 * DAY)

    tx = billing.changePlan(tiers["low"], billing.planOf(tiers["low"])["price"], {"from": alice})

    assert "PlanChanged" not in tx.events
    assert fields(tx.events["PlanChangeScheduled"]) == {
        "customer": alice.address,
        "fromPlanId": tiers["high"],
        "toPlanId": tiers["low"],
        "effectiveAt": paid_through,
    }
    view = account(billing, alice)
    assert view["planId"] == tiers["high"]
    assert view["pendingPlanId"] == tiers["low"]
    assert view["paidThrough"] == paid_through
    assert billing.balanceOf(alice) == balance
    assert billing.isEntitled(alice, 2)


def test_scheduled_downgrade_is_applied_at_the_next_renewal(billing, join, alice, tiers):
    join(alice, tiers["high"])
    customer_id = billing.customerIdOf(alice)
    paid_through = account(billing, alice)["paidThrough"]
    low_price = billing.planOf(tiers["low"])["price"]
    billing.changePlan(tiers["low"], low_price, {"from": alice})
    time_travel(PERIOD + 1)
    balance = billing.balanceOf(alice)
    new_paid_through = paid_through + PERIOD
    day = release_day(new_paid_through)
    escrow = billing.escrowOf(1, day)

    tx = billing.renew(tiers["high"], ids(customer_id), {"from": alice})

    assert "RenewalsCharged" not in tx.events
    assert fields(tx.events["Renewed"]) == {
        "customer": alice.address,
        "planId": tiers["low"],
        "price": low_price,
        "paidThrough": new_paid_through,
        "splitId": 1,
        "releaseDay": day,
    }
    view = account(billing, alice)
    assert billing.balanceOf(alice) == balance - low_price
    assert billing.escrowOf(1, day) == escrow + low_price
    assert view["planId"] == tiers["low"]
    assert view["pendingPlanId"] == 0
    assert view["paidPrice"] == low_price
    assert customer_id not in listed(billing, tiers["high"])
    assert customer_id in listed(billing, tiers["low"])
    assert not billing.isEntitled(alice, 2)


def test_upgrade_after_a_scheduled_downgrade_drops_the_downgrade(billing, join, alice, make_plan, tiers, unit):
    top = make_plan(price=20 * unit, name="Top")
    join(alice, tiers["high"])
    billing.changePlan(tiers["low"], billing.planOf(tiers["low"])["price"], {"from": alice})
    assert account(billing, alice)["pendingPlanId"] == tiers["low"]

    tx = billing.changePlan(top, 20 * unit, {"from": alice})

    assert tx.events["PlanChanged"]["toPlanId"] == top

    view = account(billing, alice)
    assert view["planId"] == top
    assert view["pendingPlanId"] == 0
    assert view["flags"] & 8 == 0  # FLAG_DOWNGRADE_PENDING


# ----- reverts -----------------------------------------------------------------------------------------


def test_change_to_a_plan_with_another_period_reverts(billing, join, alice, tiers):
    join(alice, tiers["low"])

    with reverts("Billing_IncompatiblePlanChange", tiers["low"], tiers["weekly"]):
        billing.changePlan(tiers["weekly"], billing.planOf(tiers["weekly"])["price"], {"from": alice})


def test_change_to_an_add_on_reverts(billing, join, alice, plans, tiers, unit):
    join(alice, tiers["low"])

    with reverts("Billing_IncompatiblePlanChange", tiers["low"], plans["sports"]):
        billing.changePlan(plans["sports"], 10 * unit, {"from": alice})


def test_change_to_the_current_plan_reverts(billing, join, alice, tiers):
    join(alice, tiers["low"])

    with reverts("Billing_IncompatiblePlanChange", tiers["low"], tiers["low"]):
        billing.changePlan(tiers["low"], billing.planOf(tiers["low"])["price"], {"from": alice})


def test_change_without_any_subscription_reverts(billing, fund, alice, tiers, unit):
    fund(alice, 100 * unit)

    with reverts("Billing_NotSubscribed", alice, 0):
        billing.changePlan(tiers["high"], 100 * unit, {"from": alice})


def test_change_during_grace_reverts(billing, join, fund, alice, tiers, unit):
    join(alice, tiers["low"], deposit=billing.planOf(tiers["low"])["price"])
    time_travel(PERIOD + 1)
    billing.renew(tiers["low"], ids(billing.customerIdOf(alice)), {"from": alice})
    assert account(billing, alice)["state"] == GRACE
    fund(alice, 100 * unit)

    with reverts("Billing_NotSubscribed", alice, tiers["low"]):
        billing.changePlan(tiers["high"], 100 * unit, {"from": alice})


def test_change_after_cancel_reverts(billing, join, alice, tiers, unit):
    join(alice, tiers["low"])
    billing.cancel(tiers["low"], {"from": alice})

    with reverts("Billing_NotSubscribed", alice, tiers["low"]):
        billing.changePlan(tiers["high"], 100 * unit, {"from": alice})


def test_change_above_max_price_reverts(billing, join, alice, tiers):
    join(alice, tiers["low"])
    price = billing.planOf(tiers["high"])["price"]

    with reverts("Billing_PriceAboveMax", tiers["high"], price, price - 1):
        billing.changePlan(tiers["high"], price - 1, {"from": alice})


def test_change_to_an_inactive_plan_reverts(billing, join, alice, operator, tiers, unit):
    join(alice, tiers["low"])
    billing.setPlanActive(tiers["high"], False, {"from": operator})

    with reverts("Billing_PlanInactive", tiers["high"]):
        billing.changePlan(tiers["high"], 100 * unit, {"from": alice})


def test_change_to_an_unknown_plan_reverts(billing, join, alice, tiers, unit):
    join(alice, tiers["low"])
    unknown = billing.planCount() + 1

    with reverts("Billing_UnknownPlan", unknown):
        billing.changePlan(unknown, 100 * unit, {"from": alice})


def test_change_plan_reverts_when_paused(billing, join, alice, admin, tiers, unit):
    join(alice, tiers["low"])
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.changePlan(tiers["high"], 100 * unit, {"from": alice})
