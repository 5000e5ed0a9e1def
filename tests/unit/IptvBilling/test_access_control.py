"""Who may do what: operator functions, pausing, customers' money, and the modules behind the fallback."""

from __future__ import annotations

import pytest
from brownie import Contract, web3

from streamledger import artifacts
from tests.conftest import DAY, now, reverts, time_travel

# bytes, not HexBytes: the revert message shows the role as the ABI decoder returns it.
OPERATOR_ROLE = bytes(web3.keccak(text="OPERATOR_ROLE"))
PAUSER_ROLE = bytes(web3.keccak(text="PAUSER_ROLE"))
DEFAULT_ADMIN_ROLE = bytes(32)


def operator_calls(rando, unit):
    """Every OPERATOR_ROLE function with valid arguments against the development catalogue."""
    return {
        "addProvider": (rando, "Rando TV"),
        "setProviderPayout": (1, rando),
        "addSplit": ([1], [10_000]),
        "addPlan": (("Rando plan", unit, 30 * DAY, 0, 0, 1, 1, False, [1]),),
        "setPlanPrice": (1, 2 * unit),
        "setPlanActive": (1, False),
        "setPlanPackages": (1, [7]),
        "setPlanSplit": (1, 2),
    }


OPERATOR_FUNCTIONS = list(operator_calls(None, 1))


@pytest.fixture(scope="module")
def modules(deployment):
    """The module contracts at their own addresses, with the full billing ABI."""
    abi = artifacts.billing_abi()
    return {
        name: Contract.from_abi(f"{name.title()}Module", address, abi) for name, address in deployment.modules.items()
    }


# ----- operator functions ---------------------------------------------------------------------------------


def test_role_constants_are_the_keccak_of_their_names(billing):
    assert bytes(billing.OPERATOR_ROLE()) == OPERATOR_ROLE
    assert bytes(billing.PAUSER_ROLE()) == PAUSER_ROLE


@pytest.mark.parametrize("function", OPERATOR_FUNCTIONS)
def test_operator_function_refuses_a_caller_without_the_operator_role(billing, rando, unit, function):
    args = operator_calls(rando, unit)[function]

    with reverts("AccessControlUnauthorizedAccount", rando, OPERATOR_ROLE):
        getattr(billing, function)(*args, {"from": rando})


@pytest.mark.parametrize("function", OPERATOR_FUNCTIONS)
def test_operator_function_succeeds_for_the_granted_operator(billing, operator, rando, unit, function):
    args = operator_calls(rando, unit)[function]

    tx = getattr(billing, function)(*args, {"from": operator})

    assert tx.status == 1


def test_account_granted_the_operator_role_can_operate(billing, admin, carol):
    billing.grantRole(OPERATOR_ROLE, carol, {"from": admin})

    tx = billing.addProvider(carol, "Carol Films", {"from": carol})

    assert billing.providerPayout(tx.events["ProviderAdded"]["providerId"]) == carol


def test_account_whose_operator_role_was_revoked_is_refused(billing, admin, operator, carol):
    billing.revokeRole(OPERATOR_ROLE, operator, {"from": admin})

    with reverts("AccessControlUnauthorizedAccount", operator, OPERATOR_ROLE):
        billing.addProvider(carol, "Carol Films", {"from": operator})


def test_rando_cannot_grant_itself_the_operator_role(billing, rando):
    with reverts("AccessControlUnauthorizedAccount", rando, DEFAULT_ADMIN_ROLE):
        billing.grantRole(OPERATOR_ROLE, rando, {"from": rando})


def test_operator_cannot_grant_the_operator_role(billing, operator, rando):
    with reverts("AccessControlUnauthorizedAccount", operator, DEFAULT_ADMIN_ROLE):
        billing.grantRole(OPERATOR_ROLE, rando, {"from": operator})


# ----- pause and unpause ----------------------------------------------------------------------------------


def test_pause_by_a_caller_without_the_pauser_role_reverts(billing, rando):
    with reverts("AccessControlUnauthorizedAccount", rando, PAUSER_ROLE):
        billing.pause({"from": rando})


def test_pause_by_an_operator_without_the_pauser_role_reverts(billing, operator):
    with reverts("AccessControlUnauthorizedAccount", operator, PAUSER_ROLE):
        billing.pause({"from": operator})


def test_admin_holds_the_pauser_role_and_can_pause(billing, admin):
    tx = billing.pause({"from": admin})

    assert billing.paused()
    assert tx.events["Paused"]["account"] == admin


def test_granted_pauser_can_pause(billing, admin, keeper):
    billing.grantRole(PAUSER_ROLE, keeper, {"from": admin})

    billing.pause({"from": keeper})

    assert billing.paused()


def test_pauser_who_is_not_admin_cannot_unpause(billing, admin, keeper):
    billing.grantRole(PAUSER_ROLE, keeper, {"from": admin})
    billing.pause({"from": keeper})

    with reverts("AccessControlUnauthorizedAccount", keeper, DEFAULT_ADMIN_ROLE):
        billing.unpause({"from": keeper})
    assert billing.paused()


def test_admin_can_unpause(billing, admin):
    billing.pause({"from": admin})

    tx = billing.unpause({"from": admin})

    assert not billing.paused()
    assert tx.events["Unpaused"]["account"] == admin


def test_rando_cannot_unpause(billing, admin, rando):
    billing.pause({"from": admin})

    with reverts("AccessControlUnauthorizedAccount", rando, DEFAULT_ADMIN_ROLE):
        billing.unpause({"from": rando})


# ----- customers' money -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["operator", "admin", "rando"])
def test_nobody_but_the_customer_can_withdraw_the_customers_balance(billing, token, fund, alice, unit, role, request):
    caller = request.getfixturevalue(role)
    fund(alice, 50 * unit)

    with reverts("Billing_InsufficientBalance", caller, 50 * unit, 0):
        billing.withdraw(50 * unit, {"from": caller})

    assert billing.balanceOf(alice) == 50 * unit
    assert token.balanceOf(billing) == 50 * unit


@pytest.mark.parametrize("role", ["operator", "admin", "rando"])
def test_withdraw_by_another_account_takes_only_its_own_balance(billing, token, fund, alice, unit, role, request):
    caller = request.getfixturevalue(role)
    fund(alice, 50 * unit)
    fund(caller, 5 * unit)

    billing.withdraw(5 * unit, {"from": caller})

    assert billing.balanceOf(alice) == 50 * unit
    assert billing.balanceOf(caller) == 0
    assert token.balanceOf(caller) == 5 * unit
    with reverts("Billing_InsufficientBalance", caller, 1, 0):
        billing.withdraw(1, {"from": caller})


def test_nobody_but_the_payee_can_withdraw_provider_earnings(billing, subscribed, payouts, alice, rando, unit):
    day = subscribed(alice).events["Subscribed"]["releaseDay"]
    time_travel(day * DAY - now() + 1)
    billing.releaseEscrow(1, day, {"from": rando})
    assert billing.earningsOf(payouts["newsnet"]) == 7 * unit

    with reverts("Billing_NoEarnings", rando):
        billing.withdrawEarnings({"from": rando})

    assert billing.earningsOf(payouts["newsnet"]) == 7 * unit


# ----- the modules behind the fallback --------------------------------------------------------------------


def test_billing_delegates_to_the_first_module_of_the_chain(billing, deployment):
    assert billing.module() == deployment.modules["usage"]


def test_registering_directly_on_a_module_does_not_register_on_billing(billing, modules, rando):
    count = billing.customerCount()

    modules["subscription"].register(rando, {"from": rando})

    assert billing.customerIdOf(rando) == 0
    assert billing.customerCount() == count


def test_subscribing_directly_on_a_module_fails_and_leaves_the_billing_balance(
    billing, modules, fund, plans, alice, unit
):
    fund(alice, 20 * unit)

    with reverts("Billing_UnknownPlan", plans["basic"]):
        modules["subscription"].subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert billing.balanceOf(alice) == 20 * unit
    assert billing.customerIdOf(alice) == 0


def test_releasing_escrow_directly_on_a_module_leaves_the_billing_escrow(
    billing, modules, subscribed, payouts, rando, alice, unit
):
    day = subscribed(alice).events["Subscribed"]["releaseDay"]
    time_travel(day * DAY - now() + 1)

    modules["subscription"].releaseEscrow(1, day, {"from": rando})

    assert billing.escrowOf(1, day) == 10 * unit
    assert billing.earningsOf(payouts["platform"]) == 0
    assert billing.earningsOf(payouts["newsnet"]) == 0


@pytest.mark.parametrize("module", ["usage", "subscription", "catalogue"])
def test_operator_call_directly_on_a_module_is_refused_and_changes_nothing(billing, modules, admin, carol, module):
    count = billing.providerCount()

    with reverts("AccessControlUnauthorizedAccount", admin, OPERATOR_ROLE):
        modules[module].addProvider(carol, "Carol Films", {"from": admin})

    assert billing.providerCount() == count


@pytest.mark.parametrize("module", ["usage", "subscription", "catalogue"])
def test_pausing_directly_on_a_module_is_refused_and_leaves_billing_running(billing, modules, admin, module):
    with reverts("AccessControlUnauthorizedAccount", admin, PAUSER_ROLE):
        modules[module].pause({"from": admin})

    assert not billing.paused()


@pytest.mark.parametrize("module", ["CatalogueModule", "SubscriptionModule", "UsageModule"])
def test_a_module_refuses_a_zero_next_module(module, admin):
    """A zero next hop would let every selector the module does not implement succeed with no effect."""
    import brownie

    with reverts("Billing_InvalidSetting", "next module"):
        getattr(brownie, module).deploy("0x" + "00" * 20, {"from": admin})


def test_the_view_module_at_the_end_of_the_chain_refuses_unknown_selectors(billing, admin):
    with pytest.raises(Exception):  # noqa: B017 - no error data: the call reaches no function
        web3.eth.call({"to": billing.address, "data": "0xdeadbeef", "from": admin.address})
