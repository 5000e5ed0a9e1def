"""IptvBilling.renew: the plain assembly pass (RenewalsCharged), the Solidity slow path (Renewed), grace and
suspension, price changes against maxPrice, trials, add-ons, batch validation, and at most one charge per
period."""

import pytest
from brownie import accounts, chain, web3

from tests.conftest import DAY, fund_with, ids, now, reverts, time_travel

NONE, TRIAL, ACTIVE, GRACE, SUSPENDED, CANCELLED, ENDED = range(7)
FLAG_RENEWAL_FAILED, FLAG_PRICE_LAPSED = 4, 32
ADDON_END_CANCELLED, ADDON_END_PRICE, ADDON_END_REFUNDED = 1, 2, 3
PERIOD = 30 * DAY
GRACE_PERIOD = 3 * DAY
CROWD = 30


def release_day(timestamp: int) -> int:
    return (timestamp + DAY - 1) // DAY


def fields(event) -> dict:
    """An event's arguments as a dict. Iterating a brownie event yields events, not keys: hence keys()."""
    return {key: event[key] for key in event.keys()}  # noqa: SIM118


def account(billing, customer) -> dict:
    return billing.accountOf(customer).dict()


def start_of_next_day(offset: int = 3_600) -> None:
    """Moves to `offset` seconds into the next UTC day, so customers subscribed close together in a test share
    their release days whatever the wall clock says."""
    time_travel(DAY - now() % DAY + offset)


def charged_ids(tx) -> bytes:
    return bytes(tx.events["RenewalsCharged"]["customerIds"]) if "RenewalsCharged" in tx.events else b""


def renewed_customers(tx) -> list[str]:
    return [event["customer"] for event in tx.events["Renewed"]] if "Renewed" in tx.events else []


def in_one_block(sender, contract, *calldata: str) -> list:
    """Sends one transaction per calldata from `sender` to `contract`, all mined into a single block (anvil:
    evm_setAutomine; ganache: miner_stop / miner_start)."""
    anvil = "error" not in web3.provider.make_request("evm_setAutomine", [False])
    if not anvil:
        web3.provider.make_request("miner_stop", [])
    try:
        hashes = [
            web3.eth.send_transaction({"from": sender.address, "to": contract.address, "data": data, "gas": 2_000_000})
            for data in calldata
        ]
        web3.provider.make_request("evm_mine", [])
    finally:
        web3.provider.make_request("evm_setAutomine" if anvil else "miner_start", [True] if anvil else [])
    return [chain.get_transaction(h.hex()) for h in hashes]


@pytest.fixture(scope="module")
def crowd(billing, token, admin, unit):
    """CROWD extra customers with gas money and 100 tokens deposited each, not yet registered."""
    customers = []
    for i in range(CROWD):
        customer = accounts.add(web3.keccak(text=f"streamledger renewals crowd {i}").hex())
        admin.transfer(customer, "1 ether")
        fund_with(billing, token, customer, 100 * unit)
        customers.append(customer)
    return customers


@pytest.fixture
def cid(billing):
    """cid(*customers): the packed renewal batch of these customers."""
    return lambda *customers: ids(*(billing.customerIdOf(c) for c in customers))


# ----- the plain batch ---------------------------------------------------------------------------------


def test_plain_batch_charges_every_due_customer_once(billing, subscribed, cid, alice, bob, carol, plans, unit):
    start_of_next_day()
    for customer in (alice, bob, carol):
        subscribed(customer)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice, bob, carol), {"from": alice})

    event = tx.events["RenewalsCharged"]
    assert len(tx.events["RenewalsCharged"]) == 1
    assert {key: event[key] for key in ("planId", "price", "period", "splitId", "releaseDay")} == {
        "planId": plans["basic"],
        "price": 10 * unit,
        "period": PERIOD,
        "splitId": 1,
        "releaseDay": release_day(paid_through + PERIOD),
    }
    assert bytes(event["customerIds"]) == cid(alice, bob, carol)
    assert "Renewed" not in tx.events


def test_plain_batch_moves_balance_and_paid_through_by_exactly_one_period(
    billing, subscribed, cid, alice, bob, plans, unit
):
    start_of_next_day()
    subscribed(alice)
    subscribed(bob, deposit=35 * unit)
    before = {c: account(billing, c)["paidThrough"] for c in (alice, bob)}
    time_travel(PERIOD + 60)

    billing.renew(plans["basic"], cid(alice, bob), {"from": alice})

    assert billing.balanceOf(alice) == 80 * unit
    assert billing.balanceOf(bob) == 15 * unit
    for customer in (alice, bob):
        view = account(billing, customer)
        assert view["paidThrough"] == before[customer] + PERIOD
        assert view["state"] == ACTIVE


def test_plain_batch_escrows_the_price_times_the_count(billing, subscribed, cid, alice, bob, carol, plans, unit):
    start_of_next_day()
    for customer in (alice, bob, carol):
        subscribed(customer)
    day = release_day(account(billing, alice)["paidThrough"] + PERIOD)
    assert billing.escrowOf(1, day) == 0
    time_travel(PERIOD + 60)

    billing.renew(plans["basic"], cid(alice, bob, carol), {"from": alice})

    assert billing.escrowOf(1, day) == 3 * 10 * unit


def test_renew_returns_the_number_of_customers_charged(
    billing, subscribed, fund, cid, alice, bob, carol, rando, plans, unit
):
    start_of_next_day()
    subscribed(alice)
    subscribed(bob)
    subscribed(carol)
    billing.subscribe(plans["sports"], 7 * unit, {"from": carol})  # slow path: add-on
    subscribed(rando, deposit=10 * unit)  # broke at renewal
    batch = cid(alice, bob, carol, rando)
    time_travel(PERIOD + 60)

    renewed = billing.renew.call(plans["basic"], batch, {"from": alice})
    tx = billing.renew(plans["basic"], batch, {"from": alice})

    assert renewed == 3
    assert len(charged_ids(tx)) // 4 + len(renewed_customers(tx)) == 3
    assert renewed_customers(tx) == [carol.address]
    assert tx.events["RenewalFailed"]["customer"] == rando.address


# ----- who is skipped ----------------------------------------------------------------------------------


def test_customers_not_due_are_skipped(billing, subscribed, cid, alice, bob, plans, unit):
    subscribed(alice)
    time_travel(10 * DAY)
    subscribed(bob)
    bob_paid_through = account(billing, bob)["paidThrough"]
    time_travel(20 * DAY + 60)

    assert billing.renew.call(plans["basic"], cid(alice, bob), {"from": alice}) == 1
    tx = billing.renew(plans["basic"], cid(alice, bob), {"from": alice})

    assert charged_ids(tx) == cid(alice)
    assert billing.balanceOf(bob) == 90 * unit
    assert account(billing, bob)["paidThrough"] == bob_paid_through


def test_customers_on_another_plan_are_skipped(billing, subscribed, cid, alice, bob, plans, unit):
    subscribed(alice)
    subscribed(bob, plan="premium")
    time_travel(PERIOD + 60)
    bob_before = account(billing, bob)

    tx = billing.renew(plans["basic"], cid(alice, bob), {"from": alice})

    assert charged_ids(tx) == cid(alice)
    assert "RenewalFailed" not in tx.events and "Renewed" not in tx.events
    assert account(billing, bob) == bob_before


def test_unknown_customer_ids_are_skipped(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    time_travel(PERIOD + 60)
    unknown = billing.customerCount() + 1
    batch = ids(0) + cid(alice) + ids(unknown, 2**32 - 1)

    assert billing.renew.call(plans["basic"], batch, {"from": alice}) == 1
    tx = billing.renew(plans["basic"], batch, {"from": alice})

    assert charged_ids(tx) == cid(alice)
    assert billing.customerCount() == unknown - 1


def test_cancelled_customers_are_skipped(billing, subscribed, cid, alice, bob, plans, unit):
    subscribed(alice)
    subscribed(bob)
    billing.cancel(plans["basic"], {"from": bob})
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice, bob), {"from": alice})

    assert charged_ids(tx) == cid(alice)
    assert billing.balanceOf(bob) == 90 * unit
    assert "RenewalFailed" not in tx.events


def test_customer_listed_twice_is_charged_once(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(PERIOD + 60)

    assert billing.renew.call(plans["basic"], cid(alice, alice), {"from": alice}) == 1
    tx = billing.renew(plans["basic"], cid(alice, alice), {"from": alice})

    assert charged_ids(tx) == cid(alice)
    assert billing.balanceOf(alice) == 80 * unit
    assert account(billing, alice)["paidThrough"] == paid_through + PERIOD


def test_slow_path_customer_listed_twice_is_charged_once(billing, subscribed, fund, cid, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    time_travel(PERIOD + GRACE_PERIOD + DAY)
    fund(alice, 50 * unit)

    tx = billing.renew(plans["basic"], cid(alice, alice), {"from": alice})

    assert renewed_customers(tx) == [alice.address]
    assert billing.balanceOf(alice) == 40 * unit


# ----- failures and grace ------------------------------------------------------------------------------


def test_broke_customer_does_not_revert_the_batch(billing, subscribed, cid, alice, bob, carol, plans, unit):
    start_of_next_day()
    subscribed(alice)
    subscribed(bob, deposit=10 * unit)
    subscribed(carol)
    bob_paid_through = account(billing, bob)["paidThrough"]
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice, bob, carol), {"from": alice})

    assert charged_ids(tx) == cid(alice, carol)
    assert len(tx.events["RenewalFailed"]) == 1
    assert fields(tx.events["RenewalFailed"]) == {
        "customer": bob.address,
        "planId": plans["basic"],
        "price": 10 * unit,
        "balance": 0,
        "graceEnds": bob_paid_through + GRACE_PERIOD,
    }
    assert account(billing, bob)["flags"] & FLAG_RENEWAL_FAILED


def test_failed_renewal_is_reported_only_once(billing, subscribed, cid, alice, bob, plans, unit):
    subscribed(alice)
    subscribed(bob, deposit=10 * unit)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice, bob), {"from": alice})
    time_travel(DAY)

    assert billing.renew.call(plans["basic"], cid(bob), {"from": alice}) == 0
    tx = billing.renew(plans["basic"], cid(bob), {"from": alice})

    assert len(tx.events) == 0
    assert account(billing, bob)["flags"] & FLAG_RENEWAL_FAILED


def test_customer_stays_entitled_during_grace_after_a_failed_renewal(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})

    time_travel(2 * DAY)

    view = account(billing, alice)
    assert view["state"] == GRACE
    assert view["graceEnds"] == view["paidThrough"] + GRACE_PERIOD
    assert billing.isEntitled(alice, 1)


def test_customer_is_suspended_and_not_entitled_after_grace(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})

    time_travel(GRACE_PERIOD)

    assert account(billing, alice)["state"] == SUSPENDED
    assert not billing.isEntitled(alice, 1)


def test_top_up_during_grace_renews_from_the_old_paid_through(billing, subscribed, fund, cid, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})
    time_travel(2 * DAY)
    fund(alice, 10 * unit)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert fields(tx.events["Renewed"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "price": 10 * unit,
        "paidThrough": paid_through + PERIOD,
        "splitId": 1,
        "releaseDay": release_day(paid_through + PERIOD),
    }
    view = account(billing, alice)
    assert view["paidThrough"] == paid_through + PERIOD
    assert view["state"] == ACTIVE
    assert view["flags"] == 0
    assert billing.balanceOf(alice) == 0


def test_renewal_after_suspension_starts_a_fresh_period_from_now(billing, subscribed, fund, cid, alice, plans, unit):
    subscribed(alice, deposit=10 * unit)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})
    time_travel(GRACE_PERIOD + 5 * DAY)
    fund(alice, 10 * unit)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    event = tx.events["Renewed"]
    assert event["paidThrough"] == tx.timestamp + PERIOD
    assert event["releaseDay"] == release_day(tx.timestamp + PERIOD)
    assert event["price"] == 10 * unit
    assert account(billing, alice)["paidThrough"] == tx.timestamp + PERIOD
    assert billing.escrowOf(1, release_day(tx.timestamp + PERIOD)) == 10 * unit
    assert billing.isEntitled(alice, 1)


def test_first_renewal_long_after_due_starts_a_fresh_period_from_now(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    time_travel(PERIOD + GRACE_PERIOD + 4 * DAY)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert "RenewalsCharged" not in tx.events
    assert tx.events["Renewed"]["paidThrough"] == tx.timestamp + PERIOD
    assert billing.balanceOf(alice) == 80 * unit


def test_inactive_plan_keeps_renewing_existing_subscribers(billing, subscribed, cid, alice, operator, plans, unit):
    subscribed(alice)
    billing.setPlanActive(plans["basic"], False, {"from": operator})
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert charged_ids(tx) == cid(alice)
    assert billing.balanceOf(alice) == 80 * unit


# ----- price changes and maxPrice ----------------------------------------------------------------------


def test_price_raise_above_max_price_declines_the_renewal(billing, subscribed, cid, alice, operator, plans, unit):
    subscribed(alice)
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert fields(tx.events["RenewalDeclined"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "price": 12 * unit,
        "maxPrice": 10 * unit,
    }
    assert "RenewalsCharged" not in tx.events and "Renewed" not in tx.events
    assert billing.balanceOf(alice) == 90 * unit
    assert account(billing, alice)["flags"] & FLAG_PRICE_LAPSED


def test_declined_customer_is_entitled_until_paid_through_without_grace(
    billing, subscribed, cid, alice, operator, plans, unit
):
    subscribed(alice)
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    time_travel(PERIOD - DAY)
    assert billing.isEntitled(alice, 1)
    assert account(billing, alice)["state"] == ACTIVE
    time_travel(DAY + 60)

    billing.renew(plans["basic"], cid(alice), {"from": alice})

    view = account(billing, alice)
    assert view["state"] == ENDED
    assert view["graceEnds"] == view["paidThrough"]
    assert not billing.isEntitled(alice, 1)


def test_declined_customer_is_not_declined_again(billing, subscribed, cid, alice, operator, plans, unit):
    subscribed(alice)
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert len(tx.events) == 0


def test_price_raise_within_max_price_charges_the_new_price(
    billing, subscribed, fund, cid, alice, operator, plans, unit
):
    fund(alice, 100 * unit)
    billing.subscribe(plans["basic"], 15 * unit, {"from": alice})
    paid_through = account(billing, alice)["paidThrough"]
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert fields(tx.events["Renewed"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "price": 12 * unit,
        "paidThrough": paid_through + PERIOD,
        "splitId": 1,
        "releaseDay": release_day(paid_through + PERIOD),
    }
    assert billing.balanceOf(alice) == 78 * unit
    assert account(billing, alice)["paidPrice"] == 12 * unit


def test_set_max_price_after_a_lapse_lets_the_next_renewal_charge_a_fresh_period(
    billing, subscribed, cid, alice, operator, plans, unit
):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})
    time_travel(5 * DAY)
    accepted = billing.setMaxPrice(plans["basic"], 12 * unit, {"from": alice})
    assert account(billing, alice)["flags"] & FLAG_PRICE_LAPSED == 0

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    event = tx.events["Renewed"]
    assert event["price"] == 12 * unit
    # The lapsed days were neither paid nor watched: the period restarts when the price was accepted.
    assert event["paidThrough"] == accepted.timestamp + PERIOD
    assert event["paidThrough"] > paid_through + PERIOD
    assert billing.balanceOf(alice) == 78 * unit
    assert account(billing, alice)["state"] == ACTIVE


def test_lowered_max_price_below_the_price_declines_the_renewal(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    billing.setMaxPrice(plans["basic"], 9 * unit, {"from": alice})
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert billing.balanceOf(alice) == 90 * unit, "charged above the maxPrice the customer set"
    assert "RenewalsCharged" not in tx.events
    assert fields(tx.events["RenewalDeclined"]) == {
        "customer": alice.address,
        "planId": plans["basic"],
        "price": 10 * unit,
        "maxPrice": 9 * unit,
    }


# ----- trials ------------------------------------------------------------------------------------------


def test_first_paid_renewal_after_a_trial(billing, fund, cid, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    trial_end = account(billing, alice)["paidThrough"]
    time_travel(7 * DAY + 60)

    tx = billing.renew(plans["premium"], cid(alice), {"from": alice})

    new_paid_through = max(tx.timestamp, trial_end) + PERIOD
    assert fields(tx.events["Renewed"]) == {
        "customer": alice.address,
        "planId": plans["premium"],
        "price": 18 * unit,
        "paidThrough": new_paid_through,
        "splitId": 1,
        "releaseDay": release_day(new_paid_through),
    }
    view = account(billing, alice)
    assert view["state"] == ACTIVE
    assert view["flags"] == 0
    assert billing.balanceOf(alice) == 32 * unit
    assert billing.escrowOf(1, release_day(new_paid_through)) == 18 * unit


def test_failed_renewal_at_the_end_of_a_trial_gives_no_grace(billing, cid, alice, plans, unit):
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    trial_end = account(billing, alice)["paidThrough"]
    time_travel(7 * DAY + 60)

    tx = billing.renew(plans["premium"], cid(alice), {"from": alice})

    assert fields(tx.events["RenewalFailed"]) == {
        "customer": alice.address,
        "planId": plans["premium"],
        "price": 18 * unit,
        "balance": 0,
        "graceEnds": trial_end,
    }
    assert account(billing, alice)["state"] == SUSPENDED
    assert not billing.isEntitled(alice, 1)


# ----- add-ons -----------------------------------------------------------------------------------------


def test_add_ons_renew_with_the_base(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    paid_through = account(billing, alice)["paidThrough"]
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    sports_price = billing.planOf(plans["sports"])["price"]
    day = release_day(paid_through + PERIOD)
    balance = billing.balanceOf(alice)
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert tx.events["Renewed"]["paidThrough"] == paid_through + PERIOD
    assert tx.events["Renewed"]["price"] == 10 * unit
    assert fields(tx.events["AddOnRenewed"]) == {
        "customer": alice.address,
        "addOnPlanId": plans["sports"],
        "price": sports_price,
        "splitId": billing.planOf(plans["sports"])["splitId"],
        "releaseDay": day,
    }
    assert billing.balanceOf(alice) == balance - 10 * unit - sports_price
    assert billing.escrowOf(1, day) == 10 * unit
    assert billing.escrowOf(2, day) == sports_price
    assert list(account(billing, alice)["addOnPlanIds"]) == [plans["sports"]]


def test_add_on_priced_above_its_max_price_is_dropped_while_the_base_renews(
    billing, subscribed, cid, alice, operator, plans, unit
):
    subscribed(alice)
    billing.subscribe(plans["sports"], 13 * unit // 2, {"from": alice})
    billing.setPlanPrice(plans["sports"], 7 * unit, {"from": operator})
    balance = billing.balanceOf(alice)
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert fields(tx.events["AddOnEnded"]) == {
        "customer": alice.address,
        "addOnPlanId": plans["sports"],
        "reason": ADDON_END_PRICE,
    }
    assert "AddOnRenewed" not in tx.events
    assert tx.events["Renewed"]["price"] == 10 * unit
    assert billing.balanceOf(alice) == balance - 10 * unit
    assert list(account(billing, alice)["addOnPlanIds"]) == []
    assert not billing.isEntitled(alice, 3)


def test_broke_customer_with_an_add_on_is_reported_short_of_the_total(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice, deposit=20 * unit)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    balance = billing.balanceOf(alice)
    time_travel(PERIOD + 60)

    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert tx.events["RenewalFailed"]["price"] == 10 * unit + 13 * unit // 2
    assert tx.events["RenewalFailed"]["balance"] == balance
    assert billing.balanceOf(alice) == balance


# ----- batch validation --------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1, 3, 5, 10])
def test_batch_whose_length_is_not_a_multiple_of_four_reverts(billing, subscribed, alice, plans, length):
    subscribed(alice)
    time_travel(PERIOD + 60)

    with reverts("Billing_MalformedBatch"):
        billing.renew(plans["basic"], b"\x00\x00\x00\x01" * (length // 4) + b"\x01" * (length % 4), {"from": alice})


@pytest.mark.parametrize("which", ["zero", "one past the last"])
def test_renew_of_an_unknown_plan_reverts(billing, alice, which):
    plan_id = 0 if which == "zero" else billing.planCount() + 1

    with reverts("Billing_UnknownPlan", plan_id):
        billing.renew(plan_id, ids(1), {"from": alice})


def test_renew_of_an_add_on_plan_reverts(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    time_travel(PERIOD + 60)

    with reverts("Billing_UnknownPlan", plans["sports"]):
        billing.renew(plans["sports"], cid(alice), {"from": alice})


def test_renew_reverts_when_paused(billing, subscribed, cid, alice, admin, plans):
    subscribed(alice)
    time_travel(PERIOD + 60)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.renew(plans["basic"], cid(alice), {"from": alice})


# ----- a batch across two release days -----------------------------------------------------------------


@pytest.fixture
def two_day_batch(billing, crowd, plans, unit):
    """Half the crowd subscribes on one day, the other half the next day; once both halves are due, the batch
    interleaves them. Returns the halves, their paid-through times and the batch."""
    start_of_next_day()
    first, second = crowd[: CROWD // 2], crowd[CROWD // 2 :]
    for customer in first:
        billing.subscribe(plans["basic"], 10 * unit, {"from": customer})
    time_travel(DAY)
    for customer in second:
        billing.subscribe(plans["basic"], 10 * unit, {"from": customer})
    paid = {c.address: account(billing, c)["paidThrough"] for c in crowd}
    time_travel(PERIOD + 3_600)
    order = [c for pair in zip(first, second, strict=True) for c in pair]
    return first, second, paid, ids(*(billing.customerIdOf(c) for c in order))


def test_batch_across_two_release_days_renews_everyone_once(billing, crowd, two_day_batch, plans, unit):
    first, second, paid, batch = two_day_batch

    assert billing.renew.call(plans["basic"], batch, {"from": crowd[0]}) == CROWD
    tx = billing.renew(plans["basic"], batch, {"from": crowd[0]})

    assert charged_ids(tx) == ids(*(billing.customerIdOf(c) for c in first))
    assert renewed_customers(tx) == [c.address for c in second]
    for event in tx.events["Renewed"]:
        assert event["paidThrough"] == paid[event["customer"]] + PERIOD
        assert event["releaseDay"] == release_day(paid[event["customer"]] + PERIOD)
    for customer in crowd:
        assert billing.balanceOf(customer) == 80 * unit
        assert account(billing, customer)["paidThrough"] == paid[customer.address] + PERIOD


def test_batch_across_two_release_days_escrows_each_day_exactly(billing, crowd, two_day_batch, plans, unit):
    first, second, paid, batch = two_day_batch
    first_day = release_day(paid[first[0].address] + PERIOD)
    second_day = release_day(paid[second[0].address] + PERIOD)
    assert second_day == first_day + 1
    assert billing.escrowOf(1, first_day) == billing.escrowOf(1, second_day) == 0

    tx = billing.renew(plans["basic"], batch, {"from": crowd[0]})

    assert tx.events["RenewalsCharged"]["releaseDay"] == first_day
    assert billing.escrowOf(1, first_day) == len(first) * 10 * unit
    assert billing.escrowOf(1, second_day) == len(second) * 10 * unit


# ----- at most one charge per period -------------------------------------------------------------------


def test_second_renew_in_the_same_block_charges_nothing(billing, subscribed, cid, alice, bob, keeper, plans, unit):
    start_of_next_day()
    subscribed(alice)
    subscribed(bob)
    time_travel(PERIOD + 60)
    data = billing.renew.encode_input(plans["basic"], cid(alice, bob))

    first, second = in_one_block(keeper, billing, data, data)

    assert first.block_number == second.block_number
    assert charged_ids(first) == cid(alice, bob)
    assert len(second.events) == 0
    assert billing.balanceOf(alice) == billing.balanceOf(bob) == 80 * unit


def test_second_renew_later_in_the_same_period_charges_nothing(billing, subscribed, cid, alice, plans, unit):
    subscribed(alice)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})
    paid_through = account(billing, alice)["paidThrough"]
    time_travel(15 * DAY)

    assert billing.renew.call(plans["basic"], cid(alice), {"from": alice}) == 0
    tx = billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert len(tx.events) == 0
    assert billing.balanceOf(alice) == 80 * unit
    assert account(billing, alice)["paidThrough"] == paid_through


def test_slow_path_renewal_is_not_repeated_later_in_the_period(billing, fund, cid, alice, plans, unit):
    fund(alice, 50 * unit)
    billing.subscribe(plans["premium"], 18 * unit, {"from": alice})
    time_travel(7 * DAY + 60)
    billing.renew(plans["premium"], cid(alice), {"from": alice})
    time_travel(10 * DAY)

    tx = billing.renew(plans["premium"], cid(alice), {"from": alice})

    assert len(tx.events) == 0
    assert billing.balanceOf(alice) == 32 * unit
