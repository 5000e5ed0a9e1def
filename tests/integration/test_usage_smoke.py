"""A signed usage batch made by the package settles on the contract deployed from the catalogue."""

from tests.conftest import reverts


def test_signed_batch_charges_each_line(billing, registered, settle, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, 10 * unit)

    tx, batch = settle([(a, 30), (b, 45)])

    assert tx.events["UsageSettled"]["charged"] == 75 * unit // 100
    assert billing.balanceOf(alice) == 10 * unit - 30 * unit // 100
    assert billing.balanceOf(bob) == 10 * unit - 45 * unit // 100
    assert billing.batchSettled(batch.batch_id)


def test_the_same_batch_is_accepted_once(billing, registered, settle, alice, unit):
    a = registered(alice, 10 * unit)
    _, batch = settle([(a, 30)])

    with reverts("Billing_BatchReplayed", batch.batch_id):
        settle([(a, 30)], batch_id=batch.batch_id)
