"""Spending caps: what a customer lets usage lines and rentals charge per cap period.

A line (or rental) that would take more than what remains of the cap is declined with reason 1 and charges
nothing; the cap resets every cap period; lowering it mid-period keeps what was spent. Caps count in cap
units (1 token unit up to 6 decimals, 1e-6 token above), consumption rounded up. Customer-signed charges
(subscriptions, pay-per-view) are not capped.
"""

from __future__ import annotations

import pytest
from brownie import TestStablecoin, web3

from streamledger.oracle import RentalBatchData, RentalReport, UsageBatchData, UsageLine, sign_batch
from tests.conftest import DAY, deploy, fund_with, now, reverts, time_travel

DECLINED_CAP = 1
DECLINED_BALANCE = 2
MAX_CAP_UNITS = 2**48 - 1
CAP_PERIOD = 30 * DAY

_batch_ids = iter(range(10**6, 10**9))


def cap_of(billing, customer) -> tuple[int, int, int]:
    """spendingCapOf as plain integers: (cap, remaining, periodEnds)."""
    return tuple(int(v) for v in billing.spendingCapOf(customer))


def signed_usage(billing, keys, meter_id, lines):
    batch = UsageBatchData(
        batch_id=next(_batch_ids),
        deadline=now() + 3600,
        meter_id=meter_id,
        window_start=now() - 3600,
        window_end=now(),
        lines=[UsageLine(cid, qty) for cid, qty in lines],
    )
    return batch, sign_batch(batch, web3.eth.chain_id, billing.address, keys)


# ----- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minute(unit):
    """Price of one premium minute (0.01 token)."""
    return unit // 100


@pytest.fixture
def set_cap(billing):
    """set_cap(customer, cap): the customer sets their spending cap; returns the transaction."""
    return lambda customer, cap: billing.setSpendingCap(cap, {"from": customer})


@pytest.fixture
def rent(billing, oracle_keys, operator):
    """rent([(customer_id, title_id), ...]): settles a signed rental batch, first play a minute ago."""

    def _rent(rentals):
        batch = RentalBatchData(
            batch_id=next(_batch_ids),
            deadline=now() + 3600,
            rentals=[RentalReport(cid, tid, now() - 60) for cid, tid in rentals],
        )
        signatures = sign_batch(batch, web3.eth.chain_id, billing.address, oracle_keys[:2])
        return billing.settleRentals(batch.header(), batch.packed(), signatures, {"from": operator})

    return _rent


@pytest.fixture(scope="module")
def title(deployment):
    return deployment.vod_titles["the_long_night"]


# ----- setting a cap ----------------------------------------------------------------------------------------


def test_set_spending_cap_registers_an_unregistered_caller(billing, fund, alice, unit):
    fund(alice, 10 * unit)
    assert billing.customerIdOf(alice) == 0

    tx = billing.setSpendingCap(5 * unit, {"from": alice})

    customer_id = billing.customerIdOf(alice)
    assert customer_id != 0
    assert tx.events["CustomerRegistered"] == {"customer": alice, "customerId": customer_id}
    assert billing.balanceOf(alice) == 10 * unit


def test_set_spending_cap_emits_spending_cap_set(set_cap, alice, unit):
    tx = set_cap(alice, 5 * unit)

    assert tx.events["SpendingCapSet"] == {"customer": alice, "cap": 5 * unit}


def test_spending_cap_of_reports_the_cap_what_remains_and_the_period_end(billing, set_cap, alice, unit):
    tx = set_cap(alice, 5 * unit)

    cap, remaining, period_ends = cap_of(billing, alice)

    assert (cap, remaining) == (5 * unit, 5 * unit)
    assert period_ends == (tx.timestamp // CAP_PERIOD + 1) * CAP_PERIOD


def test_spending_cap_of_a_customer_without_a_cap_is_all_zero(billing, registered, alice, rando, unit):
    registered(alice, 10 * unit)

    assert cap_of(billing, alice) == (0, 0, 0)
    assert cap_of(billing, rando) == (0, 0, 0)


def test_a_cap_above_the_maximum_reverts_with_cap_too_large(billing, alice):
    with reverts("Billing_CapTooLarge", MAX_CAP_UNITS + 1, MAX_CAP_UNITS):
        billing.setSpendingCap(MAX_CAP_UNITS + 1, {"from": alice})


def test_the_maximum_cap_is_accepted(billing, set_cap, alice):
    set_cap(alice, MAX_CAP_UNITS)

    assert cap_of(billing, alice)[:2] == (MAX_CAP_UNITS, MAX_CAP_UNITS)


# ----- usage against the cap ----------------------------------------------------------------------------------


def test_usage_within_the_cap_reduces_what_remains(billing, registered, set_cap, settle, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)

    settle([(a, 60)])

    assert cap_of(billing, alice)[1] == unit - 60 * minute
    assert billing.balanceOf(alice) == 10 * unit - 60 * minute


def test_a_line_beyond_what_remains_of_the_cap_is_declined_with_reason_cap(
    registered, set_cap, settle, minute, alice, unit
):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)

    tx, batch = settle([(a, 60), (a, 50)])

    assert [dict(e) for e in tx.events["UsageDeclined"]] == [
        {"batchId": batch.batch_id, "lineIndex": 1, "customerId": a, "amount": 50 * minute, "reason": DECLINED_CAP}
    ]


def test_a_line_declined_by_the_cap_leaves_balance_and_cap_while_earlier_lines_are_charged(
    billing, registered, set_cap, settle, minute, alice, unit
):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)

    tx, _ = settle([(a, 60), (a, 50)])

    assert tx.events["UsageSettled"]["charged"] == 60 * minute
    assert billing.balanceOf(alice) == 10 * unit - 60 * minute
    assert cap_of(billing, alice)[1] == unit - 60 * minute


def test_a_line_that_uses_exactly_what_remains_is_charged(billing, registered, set_cap, settle, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)

    tx, _ = settle([(a, 60), (a, 40)])

    assert "UsageDeclined" not in tx.events
    assert cap_of(billing, alice)[1] == 0
    assert billing.balanceOf(alice) == 9 * unit


def test_a_line_declined_for_balance_does_not_use_the_cap(billing, registered, set_cap, settle, alice, unit):
    a = registered(alice, unit)
    set_cap(alice, 10 * unit)

    tx, _ = settle([(a, 200)])

    assert tx.events["UsageDeclined"]["reason"] == DECLINED_BALANCE
    assert cap_of(billing, alice)[1] == 10 * unit


def test_the_cap_of_one_customer_does_not_limit_another(billing, registered, set_cap, settle, minute, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, 10 * unit)
    set_cap(alice, 10 * minute)

    tx, _ = settle([(a, 20), (b, 200)])

    assert [(e["customerId"], e["reason"]) for e in tx.events["UsageDeclined"]] == [(a, DECLINED_CAP)]
    assert billing.balanceOf(bob) == 8 * unit


def test_the_cap_resets_in_the_next_cap_period(billing, registered, set_cap, settle, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)
    settle([(a, 90)])
    period_ends = cap_of(billing, alice)[2]

    time_travel(period_ends - now() + 1)

    assert cap_of(billing, alice)[:2] == (unit, unit)
    tx, _ = settle([(a, 90)])
    assert "UsageDeclined" not in tx.events
    assert cap_of(billing, alice)[1] == unit - 90 * minute
    assert cap_of(billing, alice)[2] == period_ends + CAP_PERIOD


def test_lowering_the_cap_mid_period_keeps_what_was_spent(billing, registered, set_cap, settle, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)
    settle([(a, 60)])

    set_cap(alice, 80 * minute)

    assert cap_of(billing, alice)[:2] == (80 * minute, 20 * minute)


def test_lowering_the_cap_below_what_was_spent_leaves_nothing(
    billing, registered, set_cap, settle, minute, alice, unit
):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)
    settle([(a, 60)])

    set_cap(alice, 50 * minute)

    assert cap_of(billing, alice)[:2] == (50 * minute, 0)
    tx, _ = settle([(a, 1)])
    assert tx.events["UsageDeclined"]["reason"] == DECLINED_CAP


def test_raising_the_cap_mid_period_keeps_what_was_spent(billing, registered, set_cap, settle, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, unit)
    settle([(a, 60)])

    set_cap(alice, 2 * unit)

    assert cap_of(billing, alice)[:2] == (2 * unit, 2 * unit - 60 * minute)


def test_removing_the_cap_lifts_the_limit(billing, registered, set_cap, settle, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, 10 * minute)

    tx = set_cap(alice, 0)

    assert tx.events["SpendingCapSet"] == {"customer": alice, "cap": 0}
    assert cap_of(billing, alice) == (0, 0, 0)
    settled, _ = settle([(a, 500)])
    assert "UsageDeclined" not in settled.events
    assert billing.balanceOf(alice) == 5 * unit


# ----- what caps do not limit, and what they do -------------------------------------------------------------


def test_a_cap_does_not_limit_subscriptions(billing, fund, set_cap, plans, alice, unit):
    fund(alice, 100 * unit)
    set_cap(alice, 1)

    tx = billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert tx.events["Subscribed"]["price"] == 10 * unit
    assert billing.balanceOf(alice) == 90 * unit
    assert cap_of(billing, alice)[1] == 1


def test_a_cap_does_not_limit_ppv_purchases(billing, fund, set_cap, deployment, alice, unit):
    fund(alice, 100 * unit)
    set_cap(alice, 1)

    tx = billing.buyPpv(deployment.ppv_events["title_fight"], {"from": alice})

    assert tx.events["PpvPurchased"]["price"] == 15 * unit
    assert billing.balanceOf(alice) == 85 * unit
    assert cap_of(billing, alice)[1] == 1


def test_a_rental_within_the_cap_uses_it(billing, registered, set_cap, rent, title, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, 5 * unit)
    price = billing.vodTitleOf(title)["price"]

    tx = rent([(a, title)])

    assert tx.events["RentalCharged"]["price"] == price
    assert cap_of(billing, alice)[1] == 5 * unit - price


def test_a_rental_beyond_the_cap_is_declined_with_reason_cap(billing, registered, set_cap, rent, title, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, 3 * unit)
    price = billing.vodTitleOf(title)["price"]

    tx = rent([(a, title)])

    assert dict(tx.events["UsageDeclined"]) == {
        "batchId": tx.events["UsageDeclined"]["batchId"],
        "lineIndex": 0,
        "customerId": a,
        "amount": price,
        "reason": DECLINED_CAP,
    }
    assert "RentalCharged" not in tx.events
    assert billing.balanceOf(alice) == 10 * unit
    assert cap_of(billing, alice)[1] == 3 * unit


def test_usage_and_rentals_share_one_cap(billing, registered, set_cap, settle, rent, title, minute, alice, unit):
    a = registered(alice, 10 * unit)
    set_cap(alice, 4 * unit)
    settle([(a, 2)])  # 0.02 token: 3.98 left, less than the 3.99 rental

    tx = rent([(a, title)])

    assert tx.events["UsageDeclined"]["reason"] == DECLINED_CAP
    assert cap_of(billing, alice)[1] == 4 * unit - 2 * minute


# ----- 18 decimals: caps count in micro-tokens ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dai_system(admin, operator):
    """A deployment on an 18-decimal token, with a meter charging 1 token unit (1 wei) per unit."""
    token = TestStablecoin.deploy("Test DAI", "tDAI", 18, {"from": admin})
    dep, billing, token = deploy(token=token, operators=[operator.address])
    meter = billing.addMeter("wei units", 1, 1, dep.splits["basic"], {"from": operator}).events["MeterAdded"]
    return dep, billing, token, meter["meterId"]


@pytest.fixture
def dai_customer(dai_system, alice):
    """alice on the 18-decimal deployment with 10 tokens; returns (billing, customer id)."""
    _, billing, token, _ = dai_system
    fund_with(billing, token, alice, 10 * 10**18)
    billing.register(alice, {"from": alice})
    return billing, billing.customerIdOf(alice)


@pytest.fixture
def dai_settle(dai_system, oracle_keys, operator):
    """dai_settle(lines): settles a signed batch of the 1-wei meter on the 18-decimal deployment."""
    _, billing, _, meter = dai_system

    def _settle(lines):
        batch, signatures = signed_usage(billing, oracle_keys[:2], meter, lines)
        return billing.settleUsage(batch.header(), batch.packed_lines(), signatures, {"from": operator})

    return _settle


def test_cap_unit_is_a_micro_token_on_an_18_decimal_token(dai_system):
    billing = dai_system[1]

    assert billing.capUnit() == 10**12


def test_cap_consumption_rounds_up_to_whole_cap_units_on_an_18_decimal_token(dai_customer, dai_settle, alice):
    billing, a = dai_customer
    billing.setSpendingCap(10**18, {"from": alice})

    dai_settle([(a, 1)])  # 1 wei consumes one whole cap unit (1e12 wei)

    assert billing.balanceOf(alice) == 10 * 10**18 - 1
    assert cap_of(billing, alice)[1] == 10**18 - 10**12


def test_a_one_wei_line_after_the_last_cap_unit_is_declined_on_an_18_decimal_token(dai_customer, dai_settle, alice):
    billing, a = dai_customer
    billing.setSpendingCap(10**12, {"from": alice})  # one cap unit

    tx = dai_settle([(a, 1), (a, 1)])

    assert [(e["lineIndex"], e["amount"], e["reason"]) for e in tx.events["UsageDeclined"]] == [(1, 1, DECLINED_CAP)]
    assert billing.balanceOf(alice) == 10 * 10**18 - 1
    assert cap_of(billing, alice)[1] == 0


def test_what_remains_is_reported_in_whole_cap_units_on_an_18_decimal_token(dai_customer, alice):
    billing, _ = dai_customer

    billing.setSpendingCap(3 * 10**12 // 2, {"from": alice})  # 1.5 cap units allow one

    assert cap_of(billing, alice)[:2] == (3 * 10**12 // 2, 10**12)


def test_what_remains_is_reported_in_whole_cap_units_in_a_new_period_on_an_18_decimal_token(
    dai_customer, dai_settle, alice
):
    billing, a = dai_customer
    billing.setSpendingCap(3 * 10**12 // 2, {"from": alice})  # 1.5 cap units allow one
    time_travel(cap_of(billing, alice)[2] - now() + 1)

    assert cap_of(billing, alice)[:2] == (3 * 10**12 // 2, 10**12)
    tx = dai_settle([(a, 1), (a, 1)])  # what the contract really allows: one unit
    assert [e["lineIndex"] for e in tx.events["UsageDeclined"]] == [1]


def test_a_cap_above_the_maximum_reverts_with_cap_too_large_on_an_18_decimal_token(dai_system, alice):
    billing = dai_system[1]
    cap = (MAX_CAP_UNITS + 1) * 10**12

    with reverts("Billing_CapTooLarge", cap, MAX_CAP_UNITS * 10**12):
        billing.setSpendingCap(cap, {"from": alice})
