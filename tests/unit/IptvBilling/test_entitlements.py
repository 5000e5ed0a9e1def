"""What the streaming middleware and the portal read: isEntitled, expiresAt (both overloads), maxStreams,
and accountOf with its SubscriptionState through a subscription's life."""

import pytest

from tests.conftest import DAY, ids, time_travel

# IBillingTypes.SubscriptionState
NONE, TRIAL, ACTIVE, GRACE, SUSPENDED, CANCELLED, ENDED = range(7)
FLAG_CANCELLED, FLAG_TRIAL, FLAG_RENEWAL_FAILED, FLAG_DOWNGRADE_PENDING = 1, 2, 4, 8
PERIOD = 30 * DAY
GRACE_PERIOD = 3 * DAY


def account(billing, customer) -> dict:
    return billing.accountOf(customer).dict()


def expires_at(billing, customer, plan_id: int | None = None) -> int:
    if plan_id is None:
        return billing.expiresAt["address"](customer)
    return billing.expiresAt["address,uint256"](customer, plan_id)


@pytest.fixture
def failed(billing, subscribed, plans, unit):
    """failed(customer): subscribed to basic with nothing left, due, and reported short (in grace)."""

    def _failed(customer):
        subscribed(customer, deposit=10 * unit)
        time_travel(PERIOD + 60)
        billing.renew(plans["basic"], ids(billing.customerIdOf(customer)), {"from": customer})

    return _failed


# ----- isEntitled --------------------------------------------------------------------------------------


def test_basic_subscriber_is_entitled_to_the_basic_package(billing, subscribed, alice):
    subscribed(alice)

    assert billing.isEntitled(alice, 1)


def test_subscriber_is_not_entitled_to_packages_outside_the_plan(billing, subscribed, alice):
    subscribed(alice)

    assert not billing.isEntitled(alice, 2)
    assert not billing.isEntitled(alice, 3)
    assert not billing.isEntitled(alice, 0)


def test_trial_subscriber_is_entitled_to_every_package_of_the_plan(billing, subscribed, alice):
    subscribed(alice, plan="premium")

    assert billing.isEntitled(alice, 1)
    assert billing.isEntitled(alice, 2)
    assert not billing.isEntitled(alice, 3)


def test_add_on_holder_is_entitled_to_the_add_on_packages(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    assert billing.isEntitled(alice, 3)
    assert billing.isEntitled(alice, 1)


def test_add_on_entitlement_ends_with_the_base(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    billing.cancel(plans["basic"], {"from": alice})

    time_travel(PERIOD + 1)

    assert not billing.isEntitled(alice, 3)


def test_unregistered_customer_is_not_entitled(billing, fund, alice, rando, unit):
    fund(alice, 100 * unit)

    assert not billing.isEntitled(rando, 1)
    assert not billing.isEntitled(alice, 1)


def test_registered_customer_without_a_plan_is_not_entitled(billing, rando):
    billing.register(rando, {"from": rando})

    assert not billing.isEntitled(rando, 1)


def test_entitlement_continues_through_grace(billing, failed, alice):
    failed(alice)

    time_travel(GRACE_PERIOD - DAY)

    assert billing.isEntitled(alice, 1)


def test_entitlement_ends_when_grace_ends(billing, failed, alice):
    failed(alice)

    time_travel(GRACE_PERIOD)

    assert not billing.isEntitled(alice, 1)


def test_package_line_up_change_applies_to_entitlements_now(billing, subscribed, alice, operator, plans):
    subscribed(alice)

    billing.setPlanPackages(plans["basic"], [5, 6], {"from": operator})

    assert not billing.isEntitled(alice, 1)
    assert billing.isEntitled(alice, 5)


# ----- expiresAt ---------------------------------------------------------------------------------------


def test_expires_at_is_the_paid_through_time_of_the_base_plan(billing, subscribed, alice):
    tx = subscribed(alice)

    assert expires_at(billing, alice) == tx.timestamp + PERIOD


def test_expires_at_is_the_trial_end_during_a_trial(billing, subscribed, alice):
    tx = subscribed(alice, plan="premium")

    assert expires_at(billing, alice) == tx.timestamp + 7 * DAY


def test_expires_at_excludes_grace(billing, failed, alice):
    failed(alice)

    assert expires_at(billing, alice) == account(billing, alice)["paidThrough"]
    assert expires_at(billing, alice) < account(billing, alice)["graceEnds"]


def test_expires_at_is_zero_without_a_subscription(billing, fund, alice, rando, unit):
    fund(alice, 100 * unit)
    billing.register(rando, {"from": rando})

    assert expires_at(billing, alice) == 0
    assert expires_at(billing, rando) == 0


def test_expires_at_of_the_base_plan_id_is_its_paid_through(billing, subscribed, alice, plans):
    tx = subscribed(alice)

    assert expires_at(billing, alice, plans["basic"]) == tx.timestamp + PERIOD


def test_expires_at_of_a_held_add_on_is_the_base_paid_through(billing, subscribed, alice, plans, unit):
    tx = subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    assert expires_at(billing, alice, plans["sports"]) == tx.timestamp + PERIOD


@pytest.mark.parametrize("plan", ["premium", "sports", "zero", "unknown"])
def test_expires_at_of_a_plan_not_held_is_zero(billing, subscribed, alice, plans, plan):
    subscribed(alice)
    plan_id = {
        "premium": plans["premium"],
        "sports": plans["sports"],
        "zero": 0,
        "unknown": billing.planCount() + 1,
    }[plan]

    assert expires_at(billing, alice, plan_id) == 0


def test_expires_at_of_a_plan_for_an_unregistered_customer_is_zero(billing, rando, plans):
    assert expires_at(billing, rando, plans["basic"]) == 0


def test_expires_at_after_cancel_now_is_the_cancellation_time(billing, subscribed, alice, plans):
    subscribed(alice)
    time_travel(DAY)

    tx = billing.cancelNow(plans["basic"], {"from": alice})

    assert expires_at(billing, alice) == tx.timestamp


# ----- maxStreams --------------------------------------------------------------------------------------


def test_max_streams_is_the_base_plan_value_while_entitled(billing, subscribed, alice, bob):
    subscribed(alice)
    subscribed(bob, plan="premium")

    assert billing.maxStreams(alice) == 2
    assert billing.maxStreams(bob) == 4


def test_max_streams_holds_during_grace(billing, failed, alice):
    failed(alice)

    assert billing.maxStreams(alice) == 2


def test_max_streams_is_zero_after_grace(billing, failed, alice):
    failed(alice)

    time_travel(GRACE_PERIOD)

    assert billing.maxStreams(alice) == 0


def test_max_streams_is_zero_after_a_cancelled_subscription_ended(billing, subscribed, alice, plans):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})
    assert billing.maxStreams(alice) == 2

    time_travel(PERIOD + 1)

    assert billing.maxStreams(alice) == 0


def test_max_streams_is_zero_without_a_subscription(billing, rando):
    assert billing.maxStreams(rando) == 0
    billing.register(rando, {"from": rando})
    assert billing.maxStreams(rando) == 0


# ----- accountOf through the lifecycle -----------------------------------------------------------------


def test_account_of_an_unregistered_customer_shows_only_the_balance(billing, fund, alice, unit):
    fund(alice, 25 * unit)

    assert account(billing, alice) == {
        "customerId": 0,
        "balance": 25 * unit,
        "planId": 0,
        "state": NONE,
        "paidThrough": 0,
        "graceEnds": 0,
        "maxPrice": 0,
        "paidPrice": 0,
        "pendingPlanId": 0,
        "addOnPlanIds": (),
        "addOnsEnding": (),
        "flags": 0,
    }


def test_account_of_a_registered_customer_without_a_plan_is_in_state_none(billing, fund, alice, unit):
    fund(alice, 25 * unit)
    billing.register(alice, {"from": alice})

    view = account(billing, alice)

    assert view["customerId"] == billing.customerIdOf(alice) != 0
    assert view["balance"] == 25 * unit
    assert (view["planId"], view["state"], view["paidThrough"]) == (0, NONE, 0)


def test_account_of_an_active_subscriber(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)

    tx = billing.subscribe(plans["basic"], 12 * unit, {"from": alice})

    assert account(billing, alice) == {
        "customerId": billing.customerIdOf(alice),
        "balance": 90 * unit,
        "planId": plans["basic"],
        "state": ACTIVE,
        "paidThrough": tx.timestamp + PERIOD,
        "graceEnds": tx.timestamp + PERIOD + GRACE_PERIOD,
        "maxPrice": 12 * unit,
        "paidPrice": 10 * unit,
        "pendingPlanId": 0,
        "addOnPlanIds": (),
        "addOnsEnding": (),
        "flags": 0,
    }


def test_account_of_a_trial_subscriber(billing, alice, plans, unit):
    tx = billing.subscribe(plans["premium"], 20 * unit, {"from": alice})

    view = account(billing, alice)

    assert view["state"] == TRIAL
    assert view["planId"] == plans["premium"]
    assert view["paidThrough"] == tx.timestamp + 7 * DAY
    assert view["graceEnds"] == view["paidThrough"]
    assert view["maxPrice"] == 20 * unit
    assert view["flags"] == FLAG_TRIAL


def test_account_of_a_customer_in_grace(billing, failed, alice, plans):
    failed(alice)

    view = account(billing, alice)

    assert view["state"] == GRACE
    assert view["graceEnds"] == view["paidThrough"] + GRACE_PERIOD
    assert view["flags"] == FLAG_RENEWAL_FAILED
    assert view["balance"] == 0
    assert view["planId"] == plans["basic"]


def test_account_of_a_suspended_customer(billing, failed, alice):
    failed(alice)

    time_travel(GRACE_PERIOD)

    assert account(billing, alice)["state"] == SUSPENDED


def test_account_of_a_trial_that_ended_unpaid_is_suspended(billing, alice, plans, unit):
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    time_travel(7 * DAY + 1)

    assert account(billing, alice)["state"] == SUSPENDED
    assert not billing.isEntitled(alice, 1)


def test_account_of_a_cancelled_customer_still_paid(billing, subscribed, alice, plans):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})

    view = account(billing, alice)

    assert view["state"] == CANCELLED
    assert view["graceEnds"] == view["paidThrough"]
    assert view["flags"] == FLAG_CANCELLED


def test_account_of_a_cancelled_customer_past_paid_through_is_ended(billing, subscribed, alice, plans):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})

    time_travel(PERIOD + 1)

    assert account(billing, alice)["state"] == ENDED


def test_account_of_lists_held_and_ending_add_ons(billing, subscribed, alice, plans, make_plan, unit):
    extra = make_plan(price=2 * unit, add_on=True, packages=(7,), name="Extra add-on")
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    billing.subscribe(extra, 2 * unit, {"from": alice})

    billing.cancel(extra, {"from": alice})

    view = account(billing, alice)
    assert sorted(view["addOnPlanIds"]) == sorted([plans["sports"], extra])
    assert list(view["addOnsEnding"]) == [extra]


def test_account_of_shows_a_scheduled_downgrade(billing, fund, alice, plans, make_plan, unit):
    gold = make_plan(price=25 * unit, name="Gold")
    fund(alice, 100 * unit)
    billing.subscribe(gold, 25 * unit, {"from": alice})

    billing.changePlan(plans["basic"], 11 * unit, {"from": alice})

    view = account(billing, alice)
    assert view["planId"] == gold
    assert view["pendingPlanId"] == plans["basic"]
    assert view["flags"] == FLAG_DOWNGRADE_PENDING
    assert view["paidPrice"] == 25 * unit
    assert view["state"] == ACTIVE


def test_account_of_shows_the_price_paid_after_a_price_change(billing, fund, alice, operator, plans, unit):
    fund(alice, 100 * unit)
    billing.subscribe(plans["basic"], 15 * unit, {"from": alice})
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    assert account(billing, alice)["paidPrice"] == 10 * unit
    time_travel(PERIOD + 60)

    billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})

    view = account(billing, alice)
    assert view["paidPrice"] == 12 * unit
    assert view["maxPrice"] == 15 * unit
    assert view["balance"] == 78 * unit


def test_account_of_tracks_max_price_changes(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    billing.setMaxPrice(plans["basic"], 30 * unit, {"from": alice})

    assert account(billing, alice)["maxPrice"] == 30 * unit
