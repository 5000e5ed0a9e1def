"""IptvBilling.cancel (renewal stops, access continues until paid-through) and cancelNow (pro-rata refund,
rounded down, out of the escrow bucket that holds the charge), for base plans and add-ons."""

import pytest

from tests.conftest import DAY, ids, now, reverts, time_travel

NONE, TRIAL, ACTIVE, GRACE, SUSPENDED, CANCELLED, ENDED = range(7)
PERIOD = 30 * DAY
ADDON_END_CANCELLED, ADDON_END_PRICE, ADDON_END_REFUNDED = 1, 2, 3


def release_day(timestamp: int) -> int:
    return (timestamp + DAY - 1) // DAY


def fields(event) -> dict:
    """An event's arguments as a dict. Iterating a brownie event yields events, not keys: hence keys()."""
    return {key: event[key] for key in event.keys()}  # noqa: SIM118


def account(billing, customer) -> dict:
    return billing.accountOf(customer).dict()


def listed(billing, plan_id: int) -> list[int]:
    return list(billing.subscribersOf(plan_id, 0, 1_000))


@pytest.fixture
def join(billing, fund, unit):
    """join(customer, plan_id, deposit=100 tokens, max_price=price): funds and subscribes."""

    def _join(customer, plan_id, deposit=None, max_price=None):
        price = billing.planOf(plan_id)["price"]
        deposit = 100 * unit if deposit is None else deposit
        if deposit:
            fund(customer, deposit)
        return billing.subscribe(plan_id, price if max_price is None else max_price, {"from": customer})

    return _join


@pytest.fixture
def odd_base(make_plan, unit):
    """10 tokens + 7 units per 30 days: coprime with the period in seconds, so every refund has a remainder."""
    return make_plan(price=10 * unit + 7, name="Odd base")


@pytest.fixture
def odd_add_on(make_plan, unit):
    """6.5 tokens + 3 units, split 2, package 4: coprime with the period in seconds."""
    return make_plan(price=13 * unit // 2 + 3, add_on=True, split=2, packages=(4,), name="Odd add-on")


# ----- cancel: base plan -------------------------------------------------------------------------------


def test_cancel_keeps_access_until_paid_through(billing, subscribed, alice, plans):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(10 * DAY)

    tx = billing.cancel(plans["basic"], {"from": alice})

    assert fields(tx.events["Cancelled"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "paidThrough": paid_through,
    }
    time_travel(19 * DAY)
    view = account(billing, alice)
    assert view["paidThrough"] == paid_through
    assert view["state"] == CANCELLED
    assert billing.isEntitled(alice, 1)


def test_cancel_charges_and_refunds_nothing(billing, subscribed, alice, plans, unit):
    subscribed(alice)

    tx = billing.cancel(plans["basic"], {"from": alice})

    assert "Refunded" not in tx.events
    assert billing.balanceOf(alice) == 90 * unit


def test_cancelled_subscription_gets_no_grace_after_paid_through(billing, subscribed, alice, plans):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})

    time_travel(PERIOD + 1)

    assert not billing.isEntitled(alice, 1)
    assert account(billing, alice)["state"] == ENDED


def test_cancel_removes_the_customer_from_the_plan_subscribers(billing, subscribed, alice, bob, plans):
    subscribed(alice)
    subscribed(bob)
    alice_id, bob_id = billing.customerIdOf(alice), billing.customerIdOf(bob)

    billing.cancel(plans["basic"], {"from": alice})

    assert listed(billing, plans["basic"]) == [bob_id]
    assert alice_id not in listed(billing, plans["basic"])
    assert billing.subscriberCount(plans["basic"]) == 1


def test_renewal_batch_skips_a_cancelled_customer(billing, subscribed, alice, bob, plans, unit):
    subscribed(alice)
    subscribed(bob)
    billing.cancel(plans["basic"], {"from": alice})
    time_travel(PERIOD + 1)
    batch = ids(billing.customerIdOf(alice), billing.customerIdOf(bob))

    assert billing.renew.call(plans["basic"], batch, {"from": bob}) == 1
    tx = billing.renew(plans["basic"], batch, {"from": bob})

    assert bytes(tx.events["RenewalsCharged"]["customerIds"]) == ids(billing.customerIdOf(bob))
    assert "Renewed" not in tx.events
    assert "RenewalFailed" not in tx.events
    assert billing.balanceOf(alice) == 90 * unit
    assert account(billing, alice)["state"] == ENDED


def test_cancel_twice_reverts(billing, subscribed, alice, plans):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})

    with reverts("Billing_NotSubscribed", alice, plans["basic"]):
        billing.cancel(plans["basic"], {"from": alice})


def test_cancel_without_a_subscription_reverts(billing, rando, plans):
    with reverts("Billing_NotSubscribed", rando, plans["basic"]):
        billing.cancel(plans["basic"], {"from": rando})


def test_cancel_of_a_base_plan_not_held_reverts(billing, subscribed, alice, plans):
    subscribed(alice)

    with reverts("Billing_NotSubscribed", alice, plans["premium"]):
        billing.cancel(plans["premium"], {"from": alice})


def test_cancel_of_the_base_plan_ends_its_add_ons_at_period_end(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})

    billing.cancel(plans["basic"], {"from": alice})

    view = account(billing, alice)
    assert list(view["addOnPlanIds"]) == [plans["sports"]]
    assert list(view["addOnsEnding"]) == [plans["sports"]]
    assert billing.isEntitled(alice, 3)


# ----- cancelNow: base plan ----------------------------------------------------------------------------


def test_cancel_now_refunds_the_unused_time_rounded_down(billing, join, alice, odd_base):
    join(alice, odd_base)
    paid_through = account(billing, alice)["paidThrough"]
    price = billing.planOf(odd_base)["price"]
    time_travel(11 * DAY + 3_333)
    balance = billing.balanceOf(alice)

    tx = billing.cancelNow(odd_base, {"from": alice})

    remaining = paid_through - tx.timestamp
    assert price * remaining % PERIOD != 0, "the refund must have a remainder to show the rounding"
    refund = price * remaining // PERIOD
    assert billing.balanceOf(alice) == balance + refund
    assert fields(tx.events["Refunded"]) == {
        "customer": alice.address,
        "planId": odd_base,
        "amount": refund,
        "splitId": 1,
        "releaseDay": release_day(paid_through),
    }


def test_cancel_now_takes_the_refund_out_of_the_escrow_bucket(billing, join, alice, odd_base):
    join(alice, odd_base)
    day = release_day(account(billing, alice)["paidThrough"])
    escrow = billing.escrowOf(1, day)
    time_travel(4 * DAY + 999)

    tx = billing.cancelNow(odd_base, {"from": alice})

    assert billing.escrowOf(1, day) == escrow - tx.events["Refunded"]["amount"]


def test_cancel_now_ends_access_now(billing, join, alice, odd_base):
    join(alice, odd_base)
    time_travel(2 * DAY)

    tx = billing.cancelNow(odd_base, {"from": alice})

    assert fields(tx.events["Cancelled"]) == {
        "customer": alice.address,
        "planId": odd_base,
        "paidThrough": tx.timestamp,
    }
    view = account(billing, alice)
    assert view["paidThrough"] == tx.timestamp
    assert view["state"] == ENDED
    assert not billing.isEntitled(alice, 1)
    assert billing.customerIdOf(alice) not in listed(billing, odd_base)


def test_cancel_now_ends_add_ons_with_their_own_refunds(billing, join, alice, odd_base, odd_add_on):
    join(alice, odd_base)
    paid_through = account(billing, alice)["paidThrough"]
    day = release_day(paid_through)
    base_price = billing.planOf(odd_base)["price"]
    add_on_price = billing.planOf(odd_add_on)["price"]
    time_travel(5 * DAY + 77)
    billing.subscribe(odd_add_on, add_on_price, {"from": alice})
    time_travel(8 * DAY + 1_234)
    balance = billing.balanceOf(alice)
    base_escrow, add_on_escrow = billing.escrowOf(1, day), billing.escrowOf(2, day)

    tx = billing.cancelNow(odd_base, {"from": alice})

    remaining = paid_through - tx.timestamp
    base_refund = base_price * remaining // PERIOD
    add_on_refund = add_on_price * remaining // PERIOD
    assert add_on_price * remaining % PERIOD != 0
    refunds = {event["planId"]: fields(event) for event in tx.events["Refunded"]}
    assert refunds == {
        odd_base: {
            "customer": alice.address,
            "planId": odd_base,
            "amount": base_refund,
            "splitId": 1,
            "releaseDay": day,
        },
        odd_add_on: {
            "customer": alice.address,
            "planId": odd_add_on,
            "amount": add_on_refund,
            "splitId": 2,
            "releaseDay": day,
        },
    }
    assert fields(tx.events["AddOnEnded"]) == {
        "customer": alice.address,
        "addOnPlanId": odd_add_on,
        "reason": ADDON_END_REFUNDED,
    }
    assert billing.balanceOf(alice) == balance + base_refund + add_on_refund
    assert billing.escrowOf(1, day) == base_escrow - base_refund
    assert billing.escrowOf(2, day) == add_on_escrow - add_on_refund
    assert list(account(billing, alice)["addOnPlanIds"]) == []
    assert not billing.isEntitled(alice, 4)


def test_cancel_now_during_a_trial_refunds_nothing(billing, fund, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    time_travel(2 * DAY)

    tx = billing.cancelNow(plans["premium"], {"from": alice})

    assert "Refunded" not in tx.events
    assert tx.events["Cancelled"]["paidThrough"] == tx.timestamp
    assert billing.balanceOf(alice) == 50 * unit
    assert account(billing, alice)["state"] == ENDED


def test_cancel_now_during_a_trial_refunds_nothing_for_an_add_on_taken_in_the_trial(billing, fund, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})  # free during the trial
    time_travel(2 * DAY)

    tx = billing.cancelNow(plans["premium"], {"from": alice})

    assert "Refunded" not in tx.events
    assert tx.events["AddOnEnded"]["reason"] == ADDON_END_REFUNDED
    assert billing.balanceOf(alice) == 50 * unit


def test_cancel_now_during_a_trial_leaves_other_customers_escrow_alone(billing, fund, alice, bob, plans, unit):
    # Bob's add-on charge and Alice's trial end fall into the same escrow bucket (sports split, same day).
    time_travel(DAY - now() % DAY + 3_600)
    fund(bob, 100 * unit)
    billing.subscribe(plans["basic"], 10 * unit, {"from": bob})
    time_travel(23 * DAY)
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})  # free during the trial
    billing.subscribe(plans["sports"], 7 * unit, {"from": bob})
    day = release_day(account(billing, alice)["paidThrough"])
    assert day == release_day(account(billing, bob)["paidThrough"])
    escrow = billing.escrowOf(2, day)
    time_travel(DAY)

    billing.cancelNow(plans["premium"], {"from": alice})

    assert billing.balanceOf(alice) == 50 * unit
    assert billing.escrowOf(2, day) == escrow


def test_cancel_now_after_cancel_still_refunds_the_unused_time(billing, join, alice, odd_base):
    join(alice, odd_base)
    paid_through = account(billing, alice)["paidThrough"]
    price = billing.planOf(odd_base)["price"]
    billing.cancel(odd_base, {"from": alice})
    time_travel(6 * DAY + 5)
    balance = billing.balanceOf(alice)

    tx = billing.cancelNow(odd_base, {"from": alice})

    refund = price * (paid_through - tx.timestamp) // PERIOD
    assert tx.events["Refunded"]["amount"] == refund
    assert billing.balanceOf(alice) == balance + refund


def test_cancel_now_of_an_ended_cancelled_subscription_reverts(billing, subscribed, alice, plans):
    subscribed(alice)
    billing.cancel(plans["basic"], {"from": alice})
    time_travel(PERIOD + 1)

    with reverts("Billing_NotSubscribed", alice, plans["basic"]):
        billing.cancelNow(plans["basic"], {"from": alice})


def test_cancel_now_without_a_subscription_reverts(billing, rando, plans):
    with reverts("Billing_NotSubscribed", rando, plans["basic"]):
        billing.cancelNow(plans["basic"], {"from": rando})


# ----- add-ons -----------------------------------------------------------------------------------------


def test_add_on_cancel_keeps_the_add_on_until_the_end_of_the_period(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    balance = billing.balanceOf(alice)

    tx = billing.cancel(plans["sports"], {"from": alice})

    assert fields(tx.events["Cancelled"]) == {
        "customer": alice.address,
        "planId": plans["sports"],
        "paidThrough": paid_through,
    }
    view = account(billing, alice)
    assert list(view["addOnPlanIds"]) == [plans["sports"]]
    assert list(view["addOnsEnding"]) == [plans["sports"]]
    assert view["state"] == ACTIVE
    assert billing.isEntitled(alice, 3)
    assert billing.balanceOf(alice) == balance


def test_add_on_cancelled_at_period_end_is_dropped_at_the_next_renewal(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    billing.cancel(plans["sports"], {"from": alice})
    time_travel(PERIOD + 1)
    balance = billing.balanceOf(alice)

    tx = billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})

    assert fields(tx.events["AddOnEnded"]) == {
        "customer": alice.address,
        "addOnPlanId": plans["sports"],
        "reason": ADDON_END_CANCELLED,
    }
    assert "AddOnRenewed" not in tx.events
    assert tx.events["Renewed"]["price"] == 10 * unit
    assert billing.balanceOf(alice) == balance - 10 * unit
    view = account(billing, alice)
    assert list(view["addOnPlanIds"]) == []
    assert list(view["addOnsEnding"]) == []
    assert billing.isEntitled(alice, 1)
    assert not billing.isEntitled(alice, 3)


def test_add_on_cancel_twice_reverts(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    billing.cancel(plans["sports"], {"from": alice})

    with reverts("Billing_NotSubscribed", alice, plans["sports"]):
        billing.cancel(plans["sports"], {"from": alice})


def test_add_on_cancel_without_the_add_on_reverts(billing, subscribed, alice, plans):
    subscribed(alice)

    with reverts("Billing_NotSubscribed", alice, plans["sports"]):
        billing.cancel(plans["sports"], {"from": alice})


def test_add_on_cancel_now_refunds_the_unused_time_rounded_down(billing, subscribed, alice, odd_add_on):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    day = release_day(paid_through)
    price = billing.planOf(odd_add_on)["price"]
    time_travel(3 * DAY + 11)
    billing.subscribe(odd_add_on, price, {"from": alice})
    time_travel(6 * DAY + 4_444)
    balance, escrow = billing.balanceOf(alice), billing.escrowOf(2, day)

    tx = billing.cancelNow(odd_add_on, {"from": alice})

    remaining = paid_through - tx.timestamp
    assert price * remaining % PERIOD != 0
    refund = price * remaining // PERIOD
    assert fields(tx.events["Refunded"]) == {
        "customer": alice.address,
        "planId": odd_add_on,
        "amount": refund,
        "splitId": 2,
        "releaseDay": day,
    }
    assert fields(tx.events["AddOnEnded"]) == {
        "customer": alice.address,
        "addOnPlanId": odd_add_on,
        "reason": ADDON_END_REFUNDED,
    }
    assert billing.balanceOf(alice) == balance + refund
    assert billing.escrowOf(2, day) == escrow - refund


def test_add_on_cancel_now_leaves_the_base_running(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    time_travel(DAY)

    tx = billing.cancelNow(plans["sports"], {"from": alice})

    assert "Cancelled" not in tx.events
    view = account(billing, alice)
    assert view["state"] == ACTIVE
    assert view["paidThrough"] == paid_through
    assert list(view["addOnPlanIds"]) == []
    assert billing.isEntitled(alice, 1)
    assert not billing.isEntitled(alice, 3)
    assert billing.customerIdOf(alice) in listed(billing, plans["basic"])


def test_add_on_cancel_now_without_the_add_on_reverts(billing, subscribed, alice, plans):
    subscribed(alice)

    with reverts("Billing_NotSubscribed", alice, plans["sports"]):
        billing.cancelNow(plans["sports"], {"from": alice})


def test_cancel_now_refund_that_would_overflow_the_balance_reverts(billing, token, subscribed, alice, unit):
    subscribed(alice)
    top_up = 2**80 - 1 - billing.balanceOf(alice)  # the balance at its maximum
    token.mint(alice, top_up, {"from": alice})
    token.approve(billing, top_up, {"from": alice})
    billing.deposit(top_up, {"from": alice})

    with reverts("Billing_BalanceOverflow") as exc:
        billing.cancelNow(1, {"from": alice})
    assert exc.value.revert_msg.split(": ")[1].startswith(alice.address.lower())
