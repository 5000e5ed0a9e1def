"""The deployment works on every supported token and chain: the smoke test `brownie test --network ganache`
also runs."""

from tests.conftest import DAY, ids, reverts, time_travel


def test_deployment_loads_the_default_catalogue(billing, plans, unit):
    basic = billing.planOf(plans["basic"])
    assert plans["basic"] == 1
    assert basic["price"] == 10 * unit
    assert basic["period"] == 30 * DAY
    assert basic["grace"] == 3 * DAY
    assert list(basic["packages"]) == [1]
    assert basic["active"]


def test_subscribe_renew_and_entitlement_end_to_end(billing, subscribed, alice, plans, unit):
    subscribed(alice)
    assert billing.isEntitled(alice, 1)
    time_travel(30 * DAY + 1)
    tx = billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})
    assert tx.events["RenewalsCharged"]["price"] == 10 * unit
    assert billing.balanceOf(alice) == 80 * unit
    assert billing.isEntitled(alice, 1)


def test_withdraw_of_more_than_the_balance_reverts_with_the_custom_error(billing, fund, alice, unit):
    fund(alice, 5 * unit)
    with reverts("Billing_InsufficientBalance", alice, 6 * unit, 5 * unit):
        billing.withdraw(6 * unit, {"from": alice})
