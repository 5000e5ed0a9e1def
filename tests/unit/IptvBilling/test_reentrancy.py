"""Re-entrancy through the token: a billing system on ReentrantToken, whose transfer and transferFrom call
back into the billing contract (before or after moving the balance) while deposit, withdraw or
withdrawEarnings is in the middle of its token transfer.

The attacker is the token contract itself: through `execute` it is a customer (100 tokens in the ledger,
1,000 in its wallet, an unlimited allowance) and the newsnet payee (7 tokens of earnings), so every
re-entered call would succeed on its own (checked below) and comes from the account whose call it
interrupts. Every token-moving entry point is nonReentrant, so a re-entered one reverts with OpenZeppelin's
ReentrancyGuardReentrantCall; with the hook's failure swallowed, the interrupted call completes and the books
move by exactly its own amount. The unguarded functions a hook can still reach see the ledger as the
checks-effects-interactions order leaves it: a withdrawal already debited, a deposit not yet credited.
"""

from __future__ import annotations

import pytest
from brownie import accounts, web3

from tests.conftest import DAY, deploy, now, reverts, time_travel

NONE, BEFORE, AFTER = 0, 1, 2
TIMINGS = {"before the move": BEFORE, "after the move": AFTER}
REENTRANT_CALL = "ReentrancyGuardReentrantCall"
REENTRANT_CALL_SELECTOR = bytes(web3.keccak(text="ReentrancyGuardReentrantCall()")[:4])
MAX_UINT = 2**256 - 1

# What the attacker holds before each test, in whole tokens.
LEDGER, WALLET, EARNINGS = 100, 1_000, 7
# A re-entered withdrawal of AMOUNT would still be covered after the interrupted WITHDRAWAL (40 + 60 = 100).
AMOUNT = 60  # what a re-entered deposit or withdrawal moves
ALICE_DEPOSIT = 50
WITHDRAWAL = 40


def reentered_call(name, billing, alice, unit) -> str:
    """Calldata of a re-entered call, made by the token contract."""
    amount = AMOUNT * unit
    r, s = b"\x01" * 32, b"\x02" * 32  # a permit the token cannot check: depositWithPermit goes on without it
    return {
        "deposit": lambda: billing.deposit.encode_input(amount),
        "depositFor": lambda: billing.depositFor.encode_input(alice, amount),
        "depositWithPermit": lambda: billing.depositWithPermit.encode_input(amount, now() + DAY, 27, r, s),
        "withdraw": lambda: billing.withdraw.encode_input(amount),
        "withdrawEarnings": lambda: billing.withdrawEarnings.encode_input(),
    }[name]()


GUARDED = ("deposit", "depositFor", "depositWithPermit", "withdraw", "withdrawEarnings")


@pytest.fixture(scope="module")
def system(operator):
    """The billing system on a ReentrantToken (6 decimals), deployed by the product's deployment code."""
    from brownie import ReentrantToken

    token = ReentrantToken.deploy(6, {"from": accounts[0]})
    return deploy(token=token, operators=[operator.address])


@pytest.fixture
def attacker(billing, token, operator, deployment, fund, plans, alice, rando, unit):
    """The token contract as customer and payee: LEDGER tokens deposited, WALLET tokens in its wallet, an
    unlimited allowance, EARNINGS tokens of newsnet's share of alice's released basic subscription. Alice
    has ALICE_DEPOSIT tokens in her wallet, approved."""
    token.mint(token, (WALLET + LEDGER) * unit, {"from": rando})
    token.execute(token, token.approve.encode_input(billing, MAX_UINT), {"from": rando})
    token.execute(billing, billing.deposit.encode_input(LEDGER * unit), {"from": rando})
    billing.setProviderPayout(deployment.providers["newsnet"], token, {"from": operator})
    fund(alice, 10 * unit)
    day = billing.subscribe(plans["basic"], 10 * unit, {"from": alice}).events["Subscribed"]["releaseDay"]
    time_travel(day * DAY - now() + 1)
    billing.releaseEscrow(deployment.splits["basic"], day, {"from": rando})
    token.mint(alice, ALICE_DEPOSIT * unit, {"from": alice})
    token.approve(billing, MAX_UINT, {"from": alice})
    assert billing.earningsOf(token) == EARNINGS * unit
    return token


def books(billing, token, alice) -> dict:
    """Everything a re-entrant call could move, in token units."""
    return {
        "alice ledger": billing.balanceOf(alice),
        "alice wallet": token.balanceOf(alice),
        "attacker ledger": billing.balanceOf(token),
        "attacker earnings": billing.earningsOf(token),
        "attacker wallet": token.balanceOf(token),
        "held by billing": token.balanceOf(billing),
    }


def arm(token, when, billing, calldata, bubble, sender):
    token.setHook(when, billing, calldata, bubble, {"from": sender})


def assert_hook_refused(token):
    """The hook fired once and the re-entered call reverted with ReentrancyGuardReentrantCall."""
    assert token.hookCalls() == 1
    assert not token.lastHookSucceeded()
    assert bytes(token.lastHookResult()) == REENTRANT_CALL_SELECTOR


# ----- the attack calls are valid on their own ------------------------------------------------------------


@pytest.mark.parametrize("name", GUARDED)
def test_every_reentered_call_succeeds_outside_a_transfer(billing, attacker, alice, rando, unit, name):
    tx = attacker.execute(billing, reentered_call(name, billing, alice, unit), {"from": rando})

    assert tx.status == 1
    assert attacker.hookCalls() == 0


# ----- deposit --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
@pytest.mark.parametrize("name", GUARDED)
def test_deposit_reentered_during_its_transfer_reverts_with_reentrancy_guard_reentrant_call(
    billing, attacker, alice, rando, unit, name, when
):
    arm(attacker, when, billing, reentered_call(name, billing, alice, unit), True, rando)
    before = books(billing, attacker, alice)

    with reverts(REENTRANT_CALL):
        billing.deposit(ALICE_DEPOSIT * unit, {"from": alice})

    assert books(billing, attacker, alice) == before


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
@pytest.mark.parametrize("name", GUARDED)
def test_refused_reentry_during_deposit_credits_the_deposit_exactly_once(
    billing, attacker, alice, rando, unit, name, when
):
    arm(attacker, when, billing, reentered_call(name, billing, alice, unit), False, rando)
    before = books(billing, attacker, alice)

    billing.deposit(ALICE_DEPOSIT * unit, {"from": alice})

    assert_hook_refused(attacker)
    amount = ALICE_DEPOSIT * unit
    assert books(billing, attacker, alice) == {
        **before,
        "alice ledger": before["alice ledger"] + amount,
        "alice wallet": before["alice wallet"] - amount,
        "held by billing": before["held by billing"] + amount,
    }


# ----- withdraw -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
@pytest.mark.parametrize("name", GUARDED)
def test_withdraw_reentered_during_its_transfer_reverts_with_reentrancy_guard_reentrant_call(
    billing, attacker, alice, rando, unit, name, when
):
    arm(attacker, when, billing, reentered_call(name, billing, alice, unit), True, rando)
    before = books(billing, attacker, alice)

    with reverts(REENTRANT_CALL):
        attacker.execute(billing, billing.withdraw.encode_input(WITHDRAWAL * unit), {"from": rando})

    assert books(billing, attacker, alice) == before


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
@pytest.mark.parametrize("name", GUARDED)
def test_refused_reentry_during_withdraw_pays_out_exactly_once(billing, attacker, alice, rando, unit, name, when):
    arm(attacker, when, billing, reentered_call(name, billing, alice, unit), False, rando)
    before = books(billing, attacker, alice)

    attacker.execute(billing, billing.withdraw.encode_input(WITHDRAWAL * unit), {"from": rando})

    assert_hook_refused(attacker)
    amount = WITHDRAWAL * unit
    assert books(billing, attacker, alice) == {
        **before,
        "attacker ledger": before["attacker ledger"] - amount,
        "attacker wallet": before["attacker wallet"] + amount,
        "held by billing": before["held by billing"] - amount,
    }


# ----- withdrawEarnings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
@pytest.mark.parametrize("name", GUARDED)
def test_withdraw_earnings_reentered_during_its_transfer_reverts_with_reentrancy_guard_reentrant_call(
    billing, attacker, alice, rando, unit, name, when
):
    arm(attacker, when, billing, reentered_call(name, billing, alice, unit), True, rando)
    before = books(billing, attacker, alice)

    with reverts(REENTRANT_CALL):
        attacker.execute(billing, billing.withdrawEarnings.encode_input(), {"from": rando})

    assert books(billing, attacker, alice) == before


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
@pytest.mark.parametrize("name", GUARDED)
def test_refused_reentry_during_withdraw_earnings_pays_the_earnings_exactly_once(
    billing, attacker, alice, rando, unit, name, when
):
    arm(attacker, when, billing, reentered_call(name, billing, alice, unit), False, rando)
    before = books(billing, attacker, alice)

    attacker.execute(billing, billing.withdrawEarnings.encode_input(), {"from": rando})

    assert_hook_refused(attacker)
    amount = EARNINGS * unit
    assert books(billing, attacker, alice) == {
        **before,
        "attacker earnings": 0,
        "attacker wallet": before["attacker wallet"] + amount,
        "held by billing": before["held by billing"] - amount,
    }


# ----- unguarded functions reached from a hook ------------------------------------------------------------


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
def test_a_subscription_from_inside_a_withdrawal_sees_the_balance_already_debited(
    billing, attacker, plans, alice, rando, unit, when
):
    subscribe = billing.subscribe.encode_input(plans["basic"], 10 * unit)
    arm(attacker, when, billing, subscribe, True, rando)

    # 95 of the attacker's 100 leave the ledger before the transfer: 5 remain for a 10-token plan.
    with reverts("Billing_InsufficientBalance", attacker, 10 * unit, 5 * unit):
        attacker.execute(billing, billing.withdraw.encode_input(95 * unit), {"from": rando})


@pytest.mark.parametrize("when", TIMINGS.values(), ids=TIMINGS.keys())
def test_a_subscription_from_inside_a_deposit_cannot_spend_the_deposit_before_it_is_credited(
    billing, attacker, plans, alice, rando, unit, when
):
    attacker.execute(billing, billing.withdraw.encode_input(95 * unit), {"from": rando})
    subscribe = billing.subscribe.encode_input(plans["basic"], 10 * unit)
    arm(attacker, when, billing, subscribe, True, rando)

    # 5 in the ledger; the 10 being deposited are credited only once the transfer has returned.
    with reverts("Billing_InsufficientBalance", attacker, 10 * unit, 5 * unit):
        attacker.execute(billing, billing.deposit.encode_input(10 * unit), {"from": rando})


def test_earnings_released_from_inside_a_withdraw_earnings_are_kept_for_the_next_withdrawal(
    billing, attacker, deployment, fund, plans, alice, bob, rando, unit
):
    fund(bob, 10 * unit)
    day = billing.subscribe(plans["basic"], 10 * unit, {"from": bob}).events["Subscribed"]["releaseDay"]
    time_travel(day * DAY - now() + 1)
    release = billing.releaseEscrow.encode_input(deployment.splits["basic"], day)
    arm(attacker, BEFORE, billing, release, True, rando)
    before = books(billing, attacker, alice)

    attacker.execute(billing, billing.withdrawEarnings.encode_input(), {"from": rando})

    # releaseEscrow is not guarded and runs: the 7 it credits arrive after the 7 withdrawn were zeroed.
    assert attacker.lastHookSucceeded()
    assert billing.escrowOf(deployment.splits["basic"], day) == 0
    assert books(billing, attacker, alice) == {
        **before,
        "attacker earnings": EARNINGS * unit,
        "attacker wallet": before["attacker wallet"] + EARNINGS * unit,
        "held by billing": before["held by billing"] - EARNINGS * unit,
    }
