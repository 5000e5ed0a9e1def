"""Chainlink Automation entry points: checkUpkeep (which due customers to renew, and the checkData window) and
performUpkeep (renews them, re-checking everything so stale or hostile performData charges no one not due)."""

import pytest
from brownie import accounts, web3
from eth_abi import decode, encode

from tests.conftest import DAY, fund_with, ids, now, reverts, time_travel

PERIOD = 30 * DAY
GRACE_PERIOD = 3 * DAY


def check_data(plan_id: int, offset: int, scan_limit: int, max_batch: int) -> bytes:
    return encode(["uint16", "uint32", "uint32", "uint32"], [plan_id, offset, scan_limit, max_batch])


def perform_data(plan_id: int, customer_ids: bytes) -> bytes:
    return encode(["uint16", "bytes"], [plan_id, customer_ids])


def check(billing, data: bytes = b"") -> tuple[bool, tuple[int, bytes] | None]:
    """checkUpkeep, with performData decoded into (planId, customerIds)."""
    needed, payload = billing.checkUpkeep(data)
    payload = bytes(payload)
    return needed, (tuple(decode(["uint16", "bytes"], payload)) if payload else None)


@pytest.fixture(scope="module")
def customers(billing, token, admin, unit):
    """Six extra customers with gas money and 100 tokens deposited each, not yet registered."""
    extra = []
    for i in range(6):
        customer = accounts.add(web3.keccak(text=f"streamledger upkeep customer {i}").hex())
        admin.transfer(customer, "1 ether")
        fund_with(billing, token, customer, 100 * unit)
        extra.append(customer)
    return extra


@pytest.fixture
def cid(billing):
    """cid(*customers): the packed ids of these customers."""
    return lambda *customers: ids(*(billing.customerIdOf(c) for c in customers))


@pytest.fixture
def five_due(billing, customers, plans, unit):
    """Five customers on basic, subscribed on the same UTC day (one renewal run), all due; returns them in
    subscriber-list order."""
    time_travel(DAY - now() % DAY + 3_600)
    for customer in customers[:5]:
        billing.subscribe(plans["basic"], 10 * unit, {"from": customer})
    time_travel(PERIOD + 60)
    return customers[:5]


# ----- checkUpkeep with empty checkData ----------------------------------------------------------------


def test_check_upkeep_returns_false_and_no_data_without_subscribers(billing):
    needed, payload = billing.checkUpkeep(b"")

    assert needed is False
    assert bytes(payload) == b""


def test_check_upkeep_returns_false_and_no_data_when_no_one_is_due(billing, subscribed, alice, bob):
    subscribed(alice)
    subscribed(bob, plan="premium")
    time_travel(5 * DAY)

    needed, payload = billing.checkUpkeep(b"")

    assert needed is False
    assert bytes(payload) == b""


def test_check_upkeep_proposes_the_due_customers_of_the_first_plan_that_has_some(
    billing, subscribed, cid, alice, bob, carol, plans
):
    subscribed(alice)
    subscribed(bob, plan="premium")
    subscribed(carol, plan="premium")
    time_travel(7 * DAY + 60)  # the premium trials ended; basic is not due

    assert check(billing) == (True, (plans["premium"], cid(bob, carol)))


def test_check_upkeep_takes_the_lowest_plan_id_first(billing, subscribed, cid, alice, bob, plans):
    subscribed(bob, plan="premium")
    subscribed(alice)
    time_travel(PERIOD + 60)

    assert check(billing) == (True, (plans["basic"], cid(alice)))


def test_check_upkeep_leaves_out_customers_not_due(billing, subscribed, cid, alice, bob, plans):
    subscribed(alice)
    time_travel(10 * DAY)
    subscribed(bob)
    time_travel(20 * DAY + 60)

    assert check(billing) == (True, (plans["basic"], cid(alice)))


def test_check_upkeep_proposes_a_short_customer_not_yet_reported(billing, subscribed, cid, alice, bob, plans, unit):
    subscribed(alice)
    subscribed(bob, deposit=10 * unit)
    time_travel(PERIOD + 60)

    assert check(billing) == (True, (plans["basic"], cid(alice, bob)))


def test_check_upkeep_skips_a_customer_reported_short_while_still_short(
    billing, subscribed, fund, cid, alice, bob, plans, unit
):
    subscribed(alice)
    subscribed(bob, deposit=10 * unit)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(bob), {"from": alice})
    fund(bob, 10 * unit - 1)

    assert check(billing) == (True, (plans["basic"], cid(alice)))


def test_check_upkeep_proposes_a_reported_customer_again_after_a_top_up(
    billing, subscribed, fund, cid, alice, bob, plans, unit
):
    subscribed(bob, deposit=10 * unit)
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(bob), {"from": alice})
    assert check(billing) == (False, None)

    fund(bob, 10 * unit)

    assert check(billing) == (True, (plans["basic"], cid(bob)))


def test_check_upkeep_counts_add_ons_before_proposing_a_reported_customer(
    billing, subscribed, fund, cid, alice, plans, unit
):
    subscribed(alice, deposit=20 * unit)
    billing.subscribe(plans["sports"], 7 * unit, {"from": alice})
    time_travel(PERIOD + 60)
    billing.renew(plans["basic"], cid(alice), {"from": alice})
    fund(alice, 10 * unit - billing.balanceOf(alice))  # covers basic alone, not basic + sports

    assert check(billing) == (False, None)

    fund(alice, 13 * unit // 2)

    assert check(billing) == (True, (plans["basic"], cid(alice)))


def test_check_upkeep_proposes_a_reported_customer_who_can_pay_a_scheduled_downgrade(
    billing, fund, make_plan, cid, alice, plans, unit
):
    gold = make_plan(price=25 * unit, name="Gold")
    fund(alice, 25 * unit)
    billing.subscribe(gold, 25 * unit, {"from": alice})
    billing.changePlan(plans["basic"], 10 * unit, {"from": alice})  # renews as basic, for 10 tokens
    time_travel(PERIOD + 60)
    tx = billing.renew(gold, cid(alice), {"from": alice})
    assert tx.events["RenewalFailed"]["price"] == 10 * unit

    fund(alice, 12 * unit)

    assert check(billing) == (True, (gold, cid(alice)))


def test_check_upkeep_skips_a_customer_whose_renewal_was_declined(
    billing, subscribed, cid, alice, operator, plans, unit
):
    subscribed(alice)
    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    time_travel(PERIOD + 60)
    assert check(billing) == (True, (plans["basic"], cid(alice)))
    billing.renew(plans["basic"], cid(alice), {"from": alice})

    assert check(billing) == (False, None)


# ----- checkData window --------------------------------------------------------------------------------


def test_check_data_restricts_the_scan_to_its_plan(billing, subscribed, cid, alice, bob, plans):
    subscribed(alice)
    subscribed(bob, plan="premium")
    time_travel(PERIOD + 60)

    assert check(billing, check_data(plans["premium"], 0, 100, 100)) == (True, (plans["premium"], cid(bob)))


def test_check_data_offset_skips_the_first_subscribers(billing, five_due, cid, plans):
    assert check(billing, check_data(plans["basic"], 2, 100, 100)) == (True, (plans["basic"], cid(*five_due[2:])))


def test_check_data_scan_limit_bounds_the_subscribers_scanned(billing, five_due, cid, plans):
    assert check(billing, check_data(plans["basic"], 1, 3, 100)) == (True, (plans["basic"], cid(*five_due[1:4])))


def test_check_data_max_batch_bounds_the_customers_proposed(billing, five_due, cid, plans):
    assert check(billing, check_data(plans["basic"], 0, 100, 2)) == (True, (plans["basic"], cid(*five_due[:2])))


def test_check_data_scan_limit_counts_customers_not_due(billing, customers, cid, plans, unit):
    billing.subscribe(plans["basic"], 10 * unit, {"from": customers[0]})
    time_travel(10 * DAY)
    for customer in customers[1:4]:
        billing.subscribe(plans["basic"], 10 * unit, {"from": customer})
    time_travel(20 * DAY + 60)  # only customers[0] is due

    assert check(billing, check_data(plans["basic"], 1, 3, 100)) == (False, None)
    assert check(billing, check_data(plans["basic"], 0, 1, 100)) == (True, (plans["basic"], cid(customers[0])))


def test_check_data_offset_past_the_end_returns_false(billing, five_due, plans):
    assert check(billing, check_data(plans["basic"], 5, 100, 100)) == (False, None)


def test_check_data_max_batch_zero_returns_false(billing, five_due, plans):
    assert check(billing, check_data(plans["basic"], 0, 100, 0)) == (False, None)


# ----- performUpkeep -----------------------------------------------------------------------------------


def test_perform_upkeep_renews_what_check_upkeep_proposed(billing, five_due, cid, keeper, plans, unit):
    needed, payload = billing.checkUpkeep(b"")
    assert needed

    tx = billing.performUpkeep(payload, {"from": keeper})

    assert bytes(tx.events["RenewalsCharged"]["customerIds"]) == cid(*five_due)
    for customer in five_due:
        assert billing.balanceOf(customer) == 80 * unit
    assert check(billing) == (False, None)


def test_perform_upkeep_with_stale_data_charges_no_one(billing, five_due, cid, keeper, rando, plans, unit):
    _, stale = billing.checkUpkeep(b"")
    billing.renew(plans["basic"], cid(*five_due), {"from": rando})

    tx = billing.performUpkeep(stale, {"from": keeper})

    assert len(tx.events) == 0
    for customer in five_due:
        assert billing.balanceOf(customer) == 80 * unit


def test_perform_upkeep_with_hostile_data_charges_only_due_customers_once(
    billing, subscribed, cid, alice, bob, keeper, plans, unit
):
    subscribed(alice)
    time_travel(10 * DAY)
    subscribed(bob)
    time_travel(20 * DAY + 60)  # alice is due, bob is not
    hostile = perform_data(plans["basic"], cid(alice, bob, alice, bob) + ids(0, 999, 2**32 - 1))

    tx = billing.performUpkeep(hostile, {"from": keeper})

    assert bytes(tx.events["RenewalsCharged"]["customerIds"]) == cid(alice)
    assert "Renewed" not in tx.events
    assert billing.balanceOf(alice) == 80 * unit
    assert billing.balanceOf(bob) == 90 * unit


def test_perform_upkeep_for_a_plan_the_customers_do_not_hold_charges_no_one(
    billing, subscribed, cid, alice, keeper, plans, unit
):
    subscribed(alice)
    time_travel(PERIOD + 60)

    tx = billing.performUpkeep(perform_data(plans["premium"], cid(alice)), {"from": keeper})

    assert len(tx.events) == 0
    assert billing.balanceOf(alice) == 90 * unit


def test_perform_upkeep_with_malformed_ids_reverts(billing, keeper, plans):
    with reverts("Billing_MalformedBatch"):
        billing.performUpkeep(perform_data(plans["basic"], b"\x00\x00\x01"), {"from": keeper})


def test_perform_upkeep_for_an_add_on_plan_reverts(billing, keeper, plans):
    with reverts("Billing_UnknownPlan", plans["sports"]):
        billing.performUpkeep(perform_data(plans["sports"], ids(1)), {"from": keeper})


def test_perform_upkeep_reverts_when_paused(billing, five_due, admin, keeper):
    _, payload = billing.checkUpkeep(b"")
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.performUpkeep(payload, {"from": keeper})
