"""IptvBilling.subscribe (base plans, trials, resuming, add-ons), registration on first subscribe, and
setMaxPrice on plans not held."""

import pytest
from brownie import history

from tests.conftest import DAY, ids, reverts, time_travel

NONE, TRIAL, ACTIVE, GRACE, SUSPENDED, CANCELLED, ENDED = range(7)


def release_day(timestamp: int) -> int:
    """BillingMath.releaseDay: the first UTC day starting at or after `timestamp`."""
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
def odd_add_on(make_plan, unit):
    """An add-on (split 2, package 4) whose price has no common factor with a 30-day period in seconds, so
    every pro-rata charge has a remainder and the rounding direction shows."""
    return make_plan(price=13 * unit // 2 + 3, add_on=True, split=2, packages=(4,), name="Odd add-on")


# ----- base plans --------------------------------------------------------------------------------------


def test_subscribe_charges_the_first_period_and_sets_paid_through(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)

    tx = billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    view = account(billing, alice)
    assert billing.balanceOf(alice) == 90 * unit
    assert view["planId"] == plans["basic"]
    assert view["paidThrough"] == tx.timestamp + 30 * DAY
    assert view["state"] == ACTIVE


def test_subscribe_escrows_the_first_charge_in_the_release_day_bucket(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)
    split = billing.planOf(plans["basic"])["splitId"]

    tx = billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert billing.escrowOf(split, release_day(tx.timestamp + 30 * DAY)) == 10 * unit


def test_subscribe_emits_subscribed_with_the_charge_and_its_escrow_bucket(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)

    tx = billing.subscribe(plans["basic"], 12 * unit, {"from": alice})

    paid_through = tx.timestamp + 30 * DAY
    assert fields(tx.events["Subscribed"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "price": 10 * unit,
        "maxPrice": 12 * unit,
        "paidThrough": paid_through,
        "trial": False,
        "splitId": billing.planOf(plans["basic"])["splitId"],
        "releaseDay": release_day(paid_through),
    }


def test_subscribe_to_a_trial_plan_starts_a_free_trial(billing, fund, alice, plans, unit):
    fund(alice, 50 * unit)

    tx = billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    assert fields(tx.events["Subscribed"]) == {
        "customer": alice.address,
        "planId": plans["premium"],
        "price": 0,
        "maxPrice": 18 * unit,
        "paidThrough": tx.timestamp + 7 * DAY,
        "trial": True,
        "splitId": billing.planOf(plans["premium"])["splitId"],
        "releaseDay": 0,
    }
    assert billing.balanceOf(alice) == 50 * unit
    assert account(billing, alice)["state"] == TRIAL


def test_trial_needs_no_balance(billing, alice, plans, unit):
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    assert account(billing, alice)["state"] == TRIAL
    assert billing.isEntitled(alice, 2)


def test_second_subscription_to_a_trial_plan_after_the_trial_ended_is_charged(billing, fund, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    time_travel(7 * DAY + 1)

    tx = billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    event = tx.events["Subscribed"]
    assert event["trial"] is False
    assert event["price"] == 18 * unit
    assert event["paidThrough"] == tx.timestamp + 30 * DAY
    assert billing.balanceOf(alice) == 32 * unit
    assert account(billing, alice)["state"] == ACTIVE


def test_cancelling_a_trial_early_does_not_grant_a_second_trial(billing, fund, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    time_travel(DAY)
    billing.cancelNow(plans["premium"], {"from": alice})

    tx = billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    assert tx.events["Subscribed"]["trial"] is False
    assert billing.balanceOf(alice) == 32 * unit


def test_trial_of_one_customer_leaves_other_customers_their_trial(billing, alice, bob, plans, unit):
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    tx = billing.subscribe(plans["premium"], 18 * unit, {"from": bob})

    assert tx.events["Subscribed"]["trial"] is True


def test_trial_used_on_one_plan_leaves_the_trial_of_another_plan(billing, alice, plans, make_plan, unit):
    other = make_plan(price=15 * unit, trial_days=5)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    time_travel(7 * DAY + 1)

    tx = billing.subscribe(other, 15 * unit, {"from": alice})

    assert tx.events["Subscribed"]["trial"] is True
    assert tx.events["Subscribed"]["paidThrough"] == tx.timestamp + 5 * DAY


def test_subscribe_reverts_when_the_price_is_above_max_price(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)

    with reverts("Billing_PriceAboveMax", plans["basic"], 10 * unit, 10 * unit - 1):
        billing.subscribe(plans["basic"], 10 * unit - 1, {"from": alice})


def test_subscribe_reverts_on_an_inactive_plan(billing, fund, alice, operator, plans, unit):
    fund(alice, 100 * unit)
    billing.setPlanActive(plans["basic"], False, {"from": operator})

    with reverts("Billing_PlanInactive", plans["basic"]):
        billing.subscribe(plans["basic"], 10 * unit, {"from": alice})


@pytest.mark.parametrize("which", ["zero", "one past the last", "beyond uint16"])
def test_subscribe_reverts_on_an_unknown_plan_id(billing, fund, alice, unit, which):
    fund(alice, 100 * unit)
    plan_id = {"zero": 0, "one past the last": billing.planCount() + 1, "beyond uint16": 2**16 + 1}[which]

    with reverts("Billing_UnknownPlan", plan_id):
        billing.subscribe(plan_id, 100 * unit, {"from": alice})


def test_subscribe_reverts_when_the_balance_does_not_cover_the_price(billing, fund, alice, plans, unit):
    fund(alice, 10 * unit - 1)

    with reverts("Billing_InsufficientBalance", alice, 10 * unit, 10 * unit - 1):
        billing.subscribe(plans["basic"], 10 * unit, {"from": alice})


def test_subscribe_reverts_when_already_subscribed_to_the_same_plan(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    with reverts("Billing_AlreadySubscribed", alice, plans["basic"]):
        billing.subscribe(plans["basic"], 10 * unit, {"from": alice})


def test_subscribe_to_another_base_plan_reverts_while_subscribed(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    with reverts("Billing_AlreadySubscribed", alice, plans["basic"]):
        billing.subscribe(plans["premium"], 18 * unit, {"from": alice})


def test_subscribe_reverts_while_the_subscription_is_in_grace(billing, subscribed, fund, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    time_travel(30 * DAY + 1)
    billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})
    assert account(billing, alice)["state"] == GRACE
    fund(alice, 50 * unit)

    with reverts("Billing_AlreadySubscribed", alice, plans["basic"]):
        billing.subscribe(plans["premium"], 18 * unit, {"from": alice})


def test_subscribe_reverts_while_a_cancelled_plan_is_still_paid(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})

    with reverts("Billing_AlreadySubscribed", alice, plans["basic"]):
        billing.subscribe(plans["premium"], 18 * unit, {"from": alice})


def test_subscribe_reverts_when_paused(billing, fund, alice, admin, plans, unit):
    fund(alice, 100 * unit)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.subscribe(plans["basic"], 10 * unit, {"from": alice})


# ----- resuming and switching after the end ----------------------------------------------------------------


def test_resubscribing_a_cancelled_but_paid_plan_resumes_it_without_a_charge(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    billing.cancel(plans["basic"], {"from": alice})
    time_travel(5 * DAY)

    tx = billing.subscribe(plans["basic"], 11 * unit, {"from": alice})

    assert "Subscribed" not in tx.events
    assert fields(tx.events["Resumed"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "maxPrice": 11 * unit,
        "paidThrough": paid_through,
    }
    view = account(billing, alice)
    assert billing.balanceOf(alice) == 90 * unit
    assert view["state"] == ACTIVE
    assert view["paidThrough"] == paid_through
    assert view["maxPrice"] == 11 * unit


def test_resumed_subscription_is_listed_and_renewed_again(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    customer_id = billing.customerIdOf(alice)
    billing.cancel(plans["basic"], {"from": alice})
    billing.subscribe(plans["basic"], 10 * unit, {"from": alice})
    assert customer_id in listed(billing, plans["basic"])
    time_travel(30 * DAY + 1)

    tx = billing.renew(plans["basic"], ids(customer_id), {"from": alice})

    assert bytes(tx.events["RenewalsCharged"]["customerIds"]) == ids(customer_id)
    assert billing.balanceOf(alice) == 80 * unit


def test_after_the_subscription_ended_subscribing_to_another_plan_works(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    customer_id = billing.customerIdOf(alice)
    billing.cancel(plans["basic"], {"from": alice})
    time_travel(30 * DAY + 1)

    tx = billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    assert tx.events["Subscribed"]["planId"] == plans["premium"]
    assert account(billing, alice)["planId"] == plans["premium"]
    assert account(billing, alice)["state"] == TRIAL
    assert customer_id not in listed(billing, plans["basic"])
    assert customer_id in listed(billing, plans["premium"])


def test_after_a_suspension_subscribing_to_another_plan_moves_the_customer_between_lists(
    billing, subscribed, fund, alice, plans, unit
):
    subscribed(alice, deposit=10 * unit)
    customer_id = billing.customerIdOf(alice)
    time_travel(33 * DAY + 1)
    assert account(billing, alice)["state"] == SUSPENDED
    fund(alice, 50 * unit)

    tx = billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    assert tx.events["Subscribed"]["planId"] == plans["premium"]
    assert customer_id not in listed(billing, plans["basic"])
    assert customer_id in listed(billing, plans["premium"])


# ----- add-ons -----------------------------------------------------------------------------------------


def test_add_on_reverts_without_a_base_subscription(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)

    with reverts("Billing_AddOnNeedsBase", alice, plans["sports"]):
        billing.subscribe(plans["sports"], 10 * unit, {"from": alice})


def test_add_on_reverts_when_the_base_period_differs(billing, fund, alice, make_plan, plans, unit):
    weekly = make_plan(price=3 * unit, period_days=7, grace_days=1)
    fund(alice, 100 * unit)
    billing.subscribe(weekly, 3 * unit, {"from": alice})

    with reverts("Billing_AddOnNeedsBase", alice, plans["sports"]):
        billing.subscribe(plans["sports"], 10 * unit, {"from": alice})


def test_add_on_reverts_when_the_base_is_in_grace(billing, subscribed, fund, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    time_travel(30 * DAY + 1)
    billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})
    fund(alice, 50 * unit)

    with reverts("Billing_AddOnNeedsBase", alice, plans["sports"]):
        billing.subscribe(plans["sports"], 10 * unit, {"from": alice})


def test_add_on_reverts_when_the_base_is_cancelled(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})

    with reverts("Billing_AddOnNeedsBase", alice, plans["sports"]):
        billing.subscribe(plans["sports"], 10 * unit, {"from": alice})


def test_add_on_charges_the_rest_of_the_base_period_rounded_up(billing, subscribed, alice, odd_add_on, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    price = billing.planOf(odd_add_on)["price"]
    period = 30 * DAY
    time_travel(9 * DAY + 4_321)
    balance = billing.balanceOf(alice)

    tx = billing.subscribe(odd_add_on, price, {"from": alice})

    remaining = paid_through - tx.timestamp
    assert price * remaining % period != 0, "the charge must have a remainder to show the rounding"
    charge = ceil_div(price * remaining, period)
    assert tx.events["AddOnSubscribed"]["charge"] == charge
    assert billing.balanceOf(alice) == balance - charge


def test_add_on_charge_goes_to_the_add_on_split_bucket_of_the_base_release_day(
    billing, subscribed, alice, odd_add_on, unit
):
    subscribed(alice)
    day = release_day(account(billing, alice)["paidThrough"])
    price = billing.planOf(odd_add_on)["price"]
    time_travel(3 * DAY + 17)
    before = billing.escrowOf(2, day)

    tx = billing.subscribe(odd_add_on, price, {"from": alice})

    assert billing.escrowOf(2, day) == before + tx.events["AddOnSubscribed"]["charge"]


def test_add_on_subscribe_emits_add_on_subscribed(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(5 * DAY)

    tx = billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    charge = ceil_div(13 * unit // 2 * (paid_through - tx.timestamp), 30 * DAY)
    assert fields(tx.events["AddOnSubscribed"]) == {
        "customer": alice.address,
        "addOnPlanId": plans["sports"],
        "charge": charge,
        "maxPrice": 7 * unit,
        "splitId": billing.planOf(plans["sports"])["splitId"],
        "releaseDay": release_day(paid_through),
    }
    assert "Subscribed" not in tx.events
    view = account(billing, alice)
    assert list(view["addOnPlanIds"]) == [plans["sports"]]
    assert view["planId"] == 1
    assert view["paidThrough"] == paid_through


def test_add_on_taken_during_a_trial_is_free(billing, fund, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})

    tx = billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    assert tx.events["AddOnSubscribed"]["charge"] == 0
    assert billing.balanceOf(alice) == 50 * unit


def test_add_on_reverts_when_the_balance_does_not_cover_the_pro_rata_charge(billing, subscribed, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(DAY)

    with reverts("Billing_InsufficientBalance") as exc:
        billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    charge = ceil_div(13 * unit // 2 * (paid_through - history[-1].timestamp), 30 * DAY)
    assert exc.value.revert_msg == f"Billing_InsufficientBalance: {alice.address.lower()}, {charge}, 0"


def test_add_on_subscribed_twice_reverts(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    with reverts("Billing_AlreadySubscribed", alice, plans["sports"]):
        billing.subscribe(plans["sports"], 7 * unit, {"from": alice})


# ----- registration ------------------------------------------------------------------------------------


def test_subscribe_registers_the_customer(billing, fund, alice, plans, unit):
    fund(alice, 100 * unit)
    assert billing.customerIdOf(alice) == 0
    expected_id = billing.customerCount() + 1

    tx = billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert fields(tx.events["CustomerRegistered"]) == {"customer": alice.address, "customerId": expected_id}
    assert billing.customerIdOf(alice) == expected_id
    assert billing.customerAddress(expected_id) == alice.address
    assert billing.customerCount() == expected_id
    assert account(billing, alice)["customerId"] == expected_id


def test_subscribe_moves_the_unregistered_balance_into_the_account(billing, fund, alice, plans, unit):
    fund(alice, 25 * unit)
    before = account(billing, alice)
    assert (before["customerId"], before["balance"]) == (0, 25 * unit)

    billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert account(billing, alice)["balance"] == 15 * unit
    assert billing.balanceOf(alice) == 15 * unit


def test_subscribe_keeps_the_id_of_a_registered_customer(billing, fund, alice, rando, plans, unit):
    billing.register(alice, {"from": rando})
    customer_id = billing.customerIdOf(alice)
    fund(alice, 100 * unit)

    tx = billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert "CustomerRegistered" not in tx.events
    assert billing.customerIdOf(alice) == customer_id
    assert billing.balanceOf(alice) == 90 * unit


# ----- setMaxPrice on plans not held --------------------------------------------------------------------


def test_set_max_price_reverts_for_an_unregistered_customer(billing, rando, plans, unit):
    with reverts("Billing_NotSubscribed", rando, plans["basic"]):
        billing.setMaxPrice(plans["basic"], 20 * unit, {"from": rando})


def test_set_max_price_reverts_on_a_base_plan_not_held(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    with reverts("Billing_NotSubscribed", alice, plans["premium"]):
        billing.setMaxPrice(plans["premium"], 20 * unit, {"from": alice})


def test_set_max_price_reverts_on_an_add_on_not_held(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    with reverts("Billing_NotSubscribed", alice, plans["sports"]):
        billing.setMaxPrice(plans["sports"], 20 * unit, {"from": alice})


def test_set_max_price_on_a_held_plan_emits_max_price_changed(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    tx = billing.setMaxPrice(plans["basic"], 20 * unit, {"from": alice})

    assert fields(tx.events["MaxPriceChanged"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "maxPrice": 20 * unit,
    }
    assert account(billing, alice)["maxPrice"] == 20 * unit
