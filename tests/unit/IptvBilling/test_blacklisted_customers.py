"""A stablecoin that freezes addresses (BlacklistToken, as USDC and USDT can): charges are moves inside the
billing ledger, so usage batches, renewals and escrow releases go on for a blacklisted customer like for
anyone; only the token transfers to or from a frozen address - its deposits and withdrawals, or a frozen
payee's earnings withdrawal - revert, with the token's own error, and nobody else is affected.

(A customer who cannot pay does not fail a batch either: test_renewals.py and test_usage_settlement.py.)
"""

from __future__ import annotations

import pytest
from brownie import accounts

from tests.conftest import DAY, deploy, ids, now, reverts, time_travel

BLACKLISTED = "AccountBlacklisted"
PERIOD = 30 * DAY


@pytest.fixture(scope="module")
def system(operator):
    """The billing system on a BlacklistToken (6 decimals), deployed by the product's deployment code."""
    from brownie import BlacklistToken

    token = BlacklistToken.deploy(6, {"from": accounts[0]})
    return deploy(token=token, operators=[operator.address])


@pytest.fixture
def blacklist(token, rando):
    return lambda account: token.setBlacklisted(account, True, {"from": rando})


def test_usage_batch_with_a_blacklisted_customer_charges_every_line(
    billing, token, registered, settle, blacklist, alice, bob, carol, unit
):
    a, b, c = (registered(customer, 10 * unit) for customer in (alice, bob, carol))
    blacklist(bob)
    held = token.balanceOf(billing)

    tx, _ = settle([(a, 30), (b, 45), (c, 10)])

    cent = unit // 100
    assert "UsageDeclined" not in tx.events
    assert tx.events["UsageSettled"]["charged"] == 85 * cent
    assert [billing.balanceOf(x) for x in (alice, bob, carol)] == [10 * unit - q * cent for q in (30, 45, 10)]
    assert token.balanceOf(billing) == held


def test_renewal_batch_with_a_blacklisted_customer_renews_everyone(
    billing, token, subscribed, blacklist, plans, alice, bob, carol, unit
):
    time_travel(DAY - now() % DAY + 3_600)  # early in a UTC day: the three periods end on the same day
    for customer in (alice, bob, carol):
        subscribed(customer)
    blacklist(bob)
    time_travel(PERIOD + 60)

    batch = ids(*(billing.customerIdOf(x) for x in (alice, bob, carol)))

    tx = billing.renew(plans["basic"], batch, {"from": alice})

    assert "RenewalFailed" not in tx.events
    assert bytes(tx.events["RenewalsCharged"]["customerIds"]) == batch
    assert [billing.balanceOf(x) for x in (alice, bob, carol)] == [80 * unit] * 3


def test_blacklisted_customers_withdraw_reverts_with_the_tokens_error(billing, token, fund, blacklist, bob, unit):
    fund(bob, 20 * unit)
    blacklist(bob)

    with reverts(BLACKLISTED, bob):
        billing.withdraw(5 * unit, {"from": bob})

    assert billing.balanceOf(bob) == 20 * unit
    assert token.balanceOf(billing) == 20 * unit


def test_blacklisted_customers_deposit_reverts_with_the_tokens_error(billing, token, blacklist, bob, unit):
    token.mint(bob, 20 * unit, {"from": bob})
    token.approve(billing, 20 * unit, {"from": bob})
    blacklist(bob)

    with reverts(BLACKLISTED, bob):
        billing.deposit(20 * unit, {"from": bob})

    assert billing.balanceOf(bob) == 0


def test_other_customers_withdraw_while_one_is_blacklisted(
    billing, token, registered, settle, blacklist, alice, bob, carol, unit
):
    a, b, c = (registered(customer, 10 * unit) for customer in (alice, bob, carol))
    settle([(a, 30), (b, 45), (c, 10)])
    blacklist(bob)
    held = token.balanceOf(billing)

    for customer in (alice, carol):
        billing.withdraw(billing.balanceOf(customer), {"from": customer})

    cent = unit // 100
    assert [token.balanceOf(x) for x in (alice, carol)] == [10 * unit - 30 * cent, 10 * unit - 10 * cent]
    assert [billing.balanceOf(x) for x in (alice, carol)] == [0, 0]
    assert billing.balanceOf(bob) == 10 * unit - 45 * cent
    assert token.balanceOf(billing) == held - (20 * unit - 40 * cent)


def test_providers_withdraw_earnings_from_a_blacklisted_customers_charges(
    billing, token, deployment, subscribed, blacklist, payouts, bob, rando, unit
):
    day = subscribed(bob).events["Subscribed"]["releaseDay"]
    blacklist(bob)
    time_travel(day * DAY - now() + 1)
    billing.releaseEscrow(deployment.splits["basic"], day, {"from": rando})

    for payee, share in (("newsnet", 7), ("platform", 3)):
        billing.withdrawEarnings({"from": payouts[payee]})
        assert token.balanceOf(payouts[payee]) == share * unit
    assert token.balanceOf(billing) == billing.balanceOf(bob) == 90 * unit


def test_blacklisted_payees_earnings_stay_while_other_payees_are_paid(
    billing, token, deployment, subscribed, blacklist, payouts, alice, rando, unit
):
    day = subscribed(alice).events["Subscribed"]["releaseDay"]
    time_travel(day * DAY - now() + 1)
    billing.releaseEscrow(deployment.splits["basic"], day, {"from": rando})
    blacklist(payouts["newsnet"])

    with reverts(BLACKLISTED, payouts["newsnet"]):
        billing.withdrawEarnings({"from": payouts["newsnet"]})
    billing.withdrawEarnings({"from": payouts["platform"]})

    assert billing.earningsOf(payouts["newsnet"]) == 7 * unit
    assert token.balanceOf(payouts["platform"]) == 3 * unit
    assert token.balanceOf(billing) == 90 * unit + 7 * unit
