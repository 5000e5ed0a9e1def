"""Customer balances: deposit, depositWithPermit, depositFor and withdraw.

The money round trips run on every token kind (`any_system`: 6 decimals, 18 decimals, no return value);
the permit tests need an EIP-2612 token (the default TestStablecoin); a fee-on-transfer token must be
refused outright.
"""

from __future__ import annotations

import pytest
from brownie import ZERO_ADDRESS, accounts, web3
from eth_account import Account as EthAccount

from tests.conftest import DAY, deploy, now, reverts

MAX_BALANCE = 2**80 - 1

PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


# ----- fixtures over every token kind --------------------------------------------------------------------


@pytest.fixture(scope="module")
def any_billing(any_system):
    return any_system[1]


@pytest.fixture(scope="module")
def any_token(any_system):
    return any_system[2]


@pytest.fixture(scope="module")
def any_unit(any_system):
    return 10 ** any_system[0].token_decimals


@pytest.fixture(scope="module")
def any_plans(any_system):
    return any_system[0].plans


@pytest.fixture
def any_fund(any_billing, any_token):
    """any_fund(customer, amount): mints to the customer and deposits into their billing balance."""

    def _fund(customer, amount):
        any_token.mint(customer, amount, {"from": customer})
        any_token.approve(any_billing, amount, {"from": customer})
        return any_billing.deposit(amount, {"from": customer})

    return _fund


# ----- helpers -------------------------------------------------------------------------------------------


def mint_and_approve(token, billing, owner, amount):
    token.mint(owner, amount, {"from": owner})
    token.approve(billing, amount, {"from": owner})


def sign_permit(token, owner, spender, value, deadline):
    """A real EIP-2612 permit signature by `owner` (a local account with a private key)."""
    domain = {
        "name": token.name(),
        "version": "1",
        "chainId": web3.eth.chain_id,
        "verifyingContract": token.address,
    }
    message = {
        "owner": owner.address,
        "spender": spender.address,
        "value": value,
        "nonce": token.nonces(owner),
        "deadline": deadline,
    }
    signed = EthAccount.sign_typed_data(owner.private_key, domain, PERMIT_TYPES, message)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


@pytest.fixture
def permit_owner(admin):
    """A fresh account with a private key we hold (the node does not know it), funded with ETH for gas."""
    owner = accounts.add()
    admin.transfer(owner, "1 ether")
    return owner


# ----- deposit (every token kind) -------------------------------------------------------------------------


def test_deposit_credits_exactly_the_amount_and_takes_it_from_the_wallet(any_billing, any_token, alice, any_unit):
    amount = 25 * any_unit + 3
    mint_and_approve(any_token, any_billing, alice, amount)

    any_billing.deposit(amount, {"from": alice})

    assert any_billing.balanceOf(alice) == amount
    assert any_token.balanceOf(alice) == 0
    assert any_token.balanceOf(any_billing) == amount


def test_deposit_emits_deposited_with_the_new_balance(any_billing, any_fund, alice, any_unit):
    any_fund(alice, 10 * any_unit)

    tx = any_fund(alice, 5 * any_unit)

    event = tx.events["Deposited"]
    assert event["customer"] == alice
    assert event["payer"] == alice
    assert event["amount"] == 5 * any_unit
    assert event["balance"] == 15 * any_unit


def test_withdraw_reduces_the_balance_and_transfers_the_tokens(any_billing, any_token, any_fund, alice, any_unit):
    any_fund(alice, 30 * any_unit)

    any_billing.withdraw(12 * any_unit, {"from": alice})

    assert any_billing.balanceOf(alice) == 18 * any_unit
    assert any_token.balanceOf(alice) == 12 * any_unit
    assert any_token.balanceOf(any_billing) == 18 * any_unit


def test_withdraw_emits_withdrawn_with_the_remaining_balance(any_billing, any_fund, alice, any_unit):
    any_fund(alice, 30 * any_unit)

    tx = any_billing.withdraw(12 * any_unit, {"from": alice})

    assert tx.events["Withdrawn"] == {"customer": alice, "amount": 12 * any_unit, "balance": 18 * any_unit}


def test_deposit_then_withdraw_of_everything_returns_every_token(any_billing, any_token, any_fund, alice, any_unit):
    amount = 7 * any_unit + 1
    any_fund(alice, amount)

    any_billing.withdraw(amount, {"from": alice})

    assert any_billing.balanceOf(alice) == 0
    assert any_token.balanceOf(alice) == amount
    assert any_token.balanceOf(any_billing) == 0


def test_withdraw_of_more_than_the_balance_reverts_with_insufficient_balance(any_billing, any_fund, alice, any_unit):
    any_fund(alice, 5 * any_unit)

    with reverts("Billing_InsufficientBalance", alice, 5 * any_unit + 1, 5 * any_unit):
        any_billing.withdraw(5 * any_unit + 1, {"from": alice})


def test_deposit_for_credits_the_customer_and_takes_the_payers_tokens(any_billing, any_token, alice, bob, any_unit):
    mint_and_approve(any_token, any_billing, bob, 8 * any_unit)

    tx = any_billing.depositFor(alice, 8 * any_unit, {"from": bob})

    assert any_billing.balanceOf(alice) == 8 * any_unit
    assert any_billing.balanceOf(bob) == 0
    assert any_token.balanceOf(bob) == 0
    assert tx.events["Deposited"] == {
        "customer": alice,
        "payer": bob,
        "amount": 8 * any_unit,
        "balance": 8 * any_unit,
    }


def test_registered_customer_deposits_and_withdraws_through_the_account_word(
    any_billing, any_token, any_fund, any_plans, alice, any_unit
):
    any_fund(alice, 50 * any_unit)
    price = any_billing.planOf(any_plans["basic"])["price"]
    any_billing.subscribe(any_plans["basic"], price, {"from": alice})
    assert any_billing.customerIdOf(alice) != 0
    after_subscribe = 50 * any_unit - price

    any_fund(alice, 20 * any_unit)
    assert any_billing.balanceOf(alice) == after_subscribe + 20 * any_unit
    any_billing.withdraw(30 * any_unit, {"from": alice})

    expected = after_subscribe - 10 * any_unit
    assert any_billing.balanceOf(alice) == expected
    assert any_billing.accountOf(alice)["balance"] == expected
    assert any_token.balanceOf(alice) == 30 * any_unit
    # The subscription itself is untouched by the balance moves.
    assert any_billing.accountOf(alice)["planId"] == any_plans["basic"]


def test_registered_customer_withdrawing_more_than_the_balance_reverts_with_insufficient_balance(
    any_billing, any_fund, any_plans, alice, any_unit
):
    any_fund(alice, 50 * any_unit)
    price = any_billing.planOf(any_plans["basic"])["price"]
    any_billing.subscribe(any_plans["basic"], price, {"from": alice})
    available = 50 * any_unit - price

    with reverts("Billing_InsufficientBalance", alice, available + 1, available):
        any_billing.withdraw(available + 1, {"from": alice})


# ----- zero amounts and the balance ceiling ---------------------------------------------------------------


def test_deposit_of_zero_reverts_with_zero_amount(billing, token, alice):
    token.approve(billing, 1, {"from": alice})

    with reverts("Billing_ZeroAmount"):
        billing.deposit(0, {"from": alice})


def test_withdraw_of_zero_reverts_with_zero_amount(billing, fund, alice, unit):
    fund(alice, unit)

    with reverts("Billing_ZeroAmount"):
        billing.withdraw(0, {"from": alice})


def test_deposit_up_to_the_maximum_balance_is_credited(billing, token, alice):
    mint_and_approve(token, billing, alice, MAX_BALANCE)

    billing.deposit(MAX_BALANCE, {"from": alice})

    assert billing.balanceOf(alice) == MAX_BALANCE


def test_deposit_above_the_maximum_balance_reverts_with_balance_overflow(billing, token, fund, alice):
    fund(alice, MAX_BALANCE)
    mint_and_approve(token, billing, alice, 1)

    with reverts("Billing_BalanceOverflow", alice, MAX_BALANCE + 1, MAX_BALANCE):
        billing.deposit(1, {"from": alice})


def test_single_deposit_above_the_maximum_balance_reverts_with_balance_overflow(billing, token, alice):
    mint_and_approve(token, billing, alice, MAX_BALANCE + 1)

    with reverts("Billing_BalanceOverflow", alice, MAX_BALANCE + 1, MAX_BALANCE):
        billing.deposit(MAX_BALANCE + 1, {"from": alice})


def test_deposit_above_the_maximum_balance_of_a_registered_customer_reverts_with_balance_overflow(
    billing, token, fund, plans, alice, unit
):
    fund(alice, MAX_BALANCE)
    billing.subscribe(plans["basic"], 10 * unit, {"from": alice})
    headroom = 10 * unit  # the subscription took one period's price
    mint_and_approve(token, billing, alice, headroom + 1)

    with reverts("Billing_BalanceOverflow", alice, MAX_BALANCE + 1, MAX_BALANCE):
        billing.deposit(headroom + 1, {"from": alice})


# ----- depositFor -----------------------------------------------------------------------------------------


def test_deposit_for_is_withdrawable_only_by_the_customer(billing, token, alice, bob, unit):
    mint_and_approve(token, billing, bob, 8 * unit)
    billing.depositFor(alice, 8 * unit, {"from": bob})

    with reverts("Billing_InsufficientBalance", bob, 8 * unit, 0):
        billing.withdraw(8 * unit, {"from": bob})
    billing.withdraw(8 * unit, {"from": alice})

    assert token.balanceOf(alice) == 8 * unit
    assert token.balanceOf(bob) == 0


def test_deposit_for_the_zero_address_reverts_with_invalid_customer(billing, token, bob, unit):
    mint_and_approve(token, billing, bob, unit)

    with reverts("Billing_InvalidCustomer", ZERO_ADDRESS):
        billing.depositFor(ZERO_ADDRESS, unit, {"from": bob})


def test_deposit_for_the_billing_contract_itself_reverts_with_invalid_customer(billing, token, bob, unit):
    mint_and_approve(token, billing, bob, unit)

    with reverts("Billing_InvalidCustomer", billing):
        billing.depositFor(billing, unit, {"from": bob})


def test_deposit_for_of_zero_reverts_with_zero_amount(billing, alice, bob):
    with reverts("Billing_ZeroAmount"):
        billing.depositFor(alice, 0, {"from": bob})


# ----- depositWithPermit ----------------------------------------------------------------------------------


def test_deposit_with_permit_deposits_without_a_prior_approve(billing, token, permit_owner, unit):
    amount = 40 * unit
    token.mint(permit_owner, amount, {"from": permit_owner})
    deadline = now() + DAY
    v, r, s = sign_permit(token, permit_owner, billing, amount, deadline)
    assert token.allowance(permit_owner, billing) == 0

    tx = billing.depositWithPermit(amount, deadline, v, r, s, {"from": permit_owner})

    assert billing.balanceOf(permit_owner) == amount
    assert token.balanceOf(permit_owner) == 0
    assert token.nonces(permit_owner) == 1
    assert token.allowance(permit_owner, billing) == 0
    assert tx.events["Deposited"]["balance"] == amount


def test_deposit_with_permit_succeeds_when_a_front_runner_used_the_permit_first(
    billing, token, permit_owner, rando, unit
):
    amount = 40 * unit
    token.mint(permit_owner, amount, {"from": permit_owner})
    deadline = now() + DAY
    v, r, s = sign_permit(token, permit_owner, billing, amount, deadline)
    # The front-runner copies the signature from the mempool and submits it first.
    token.permit(permit_owner, billing, amount, deadline, v, r, s, {"from": rando})
    assert token.allowance(permit_owner, billing) == amount

    billing.depositWithPermit(amount, deadline, v, r, s, {"from": permit_owner})

    assert billing.balanceOf(permit_owner) == amount
    assert token.balanceOf(permit_owner) == 0


def test_deposit_with_an_invalid_permit_and_no_allowance_reverts_with_insufficient_allowance(
    billing, token, permit_owner, unit
):
    amount = 40 * unit
    token.mint(permit_owner, amount, {"from": permit_owner})
    deadline = now() + DAY
    # Signed for a smaller value than the deposit: the permit fails and no allowance is in place.
    v, r, s = sign_permit(token, permit_owner, billing, amount - 1, deadline)

    with reverts("ERC20InsufficientAllowance", billing, 0, amount):
        billing.depositWithPermit(amount, deadline, v, r, s, {"from": permit_owner})


# ----- pause ----------------------------------------------------------------------------------------------


def test_pause_blocks_deposit(billing, token, admin, alice, unit):
    mint_and_approve(token, billing, alice, unit)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.deposit(unit, {"from": alice})


def test_pause_blocks_deposit_for(billing, token, admin, alice, bob, unit):
    mint_and_approve(token, billing, bob, unit)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.depositFor(alice, unit, {"from": bob})


def test_pause_blocks_deposit_with_permit(billing, token, admin, permit_owner, unit):
    token.mint(permit_owner, unit, {"from": permit_owner})
    deadline = now() + DAY
    v, r, s = sign_permit(token, permit_owner, billing, unit, deadline)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.depositWithPermit(unit, deadline, v, r, s, {"from": permit_owner})


def test_withdraw_while_paused_still_pays_the_customer(billing, token, fund, admin, alice, unit):
    fund(alice, 20 * unit)
    billing.pause({"from": admin})

    billing.withdraw(20 * unit, {"from": alice})

    assert billing.balanceOf(alice) == 0
    assert token.balanceOf(alice) == 20 * unit


def test_withdraw_while_paused_still_pays_a_registered_customer(billing, token, subscribed, admin, alice, unit):
    subscribed(alice, deposit=30 * unit)
    billing.pause({"from": admin})

    billing.withdraw(20 * unit, {"from": alice})

    assert billing.balanceOf(alice) == 0
    assert token.balanceOf(alice) == 20 * unit


# ----- fee-on-transfer tokens ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fee_system(admin, operator):
    from brownie import FeeOnTransferToken

    fee_token = FeeOnTransferToken.deploy(6, {"from": admin})
    return deploy(token=fee_token, operators=[operator.address])


def test_fee_on_transfer_deposit_reverts_with_transfer_amount_mismatch(fee_system, alice):
    _, fee_billing, fee_token = fee_system
    amount = 100 * 10**6
    mint_and_approve(fee_token, fee_billing, alice, amount)

    with reverts("Billing_TransferAmountMismatch", amount, amount - amount // 100):
        fee_billing.deposit(amount, {"from": alice})


def test_refused_fee_on_transfer_deposit_leaves_balances_untouched(fee_system, alice):
    _, fee_billing, fee_token = fee_system
    amount = 100 * 10**6
    mint_and_approve(fee_token, fee_billing, alice, amount)

    with reverts("Billing_TransferAmountMismatch"):
        fee_billing.deposit(amount, {"from": alice})

    assert fee_billing.balanceOf(alice) == 0
    assert fee_token.balanceOf(alice) == amount
    assert fee_token.balanceOf(fee_billing) == 0


def test_fee_on_transfer_deposit_for_reverts_with_transfer_amount_mismatch(fee_system, alice, bob):
    _, fee_billing, fee_token = fee_system
    amount = 100 * 10**6
    mint_and_approve(fee_token, fee_billing, bob, amount)

    with reverts("Billing_TransferAmountMismatch", amount, amount - amount // 100):
        fee_billing.depositFor(alice, amount, {"from": bob})

    assert fee_billing.balanceOf(alice) == 0
