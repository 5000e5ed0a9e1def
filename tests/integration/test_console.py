"""The operator console's helpers: readable tables, decoded errors, the operator's daily actions."""

from brownie import web3

from streamledger.chain import Chain, Sender
from streamledger.console import Operator
from tests.conftest import DAY, time_travel


def operator_console(deployment, account):
    return Operator(Chain(web3, Sender(account.address)), deployment)


def test_plans_show_as_a_table(deployment, admin):
    shown = operator_console(deployment, admin).plans()
    assert repr(shown).startswith("Plans\nid  key")
    assert [row["key"] for row in shown.data] == ["basic", "premium", "sports"]


def test_a_reverted_action_shows_the_decoded_custom_error(deployment, admin):
    shown = operator_console(deployment, admin).set_price(9, "11")
    assert not shown
    assert "Billing_UnknownPlan(planId=9)" in repr(shown)


def test_add_plan_and_price_change(deployment, billing, admin, unit):
    ops = operator_console(deployment, admin)
    plan = ops.add_plan("Family", "24", packages=[1, 2], max_streams=6).data
    assert billing.planOf(plan)["price"] == 24 * unit
    assert ops.set_price(plan, "25.5")
    assert billing.planOf(plan)["price"] == 51 * unit // 2


def test_customer_view_and_keeper_actions(deployment, subscribed, alice, admin):
    ops = operator_console(deployment, admin)
    subscribed(alice)
    assert ops.customer(alice).data["state"] == "active"
    time_travel(30 * DAY + 60)
    assert ops.renew().data.renewed == 1
    time_travel(2 * DAY)
    assert ops.release().data.released
    assert "newsnet" in repr(ops.providers())


def test_disputes_listed_and_resolved_by_the_arbiter(deployment, billing, registered, settle, alice, arbiter, admin):
    cid = registered(alice, 10 * 10**6)
    tx, batch = settle([(cid, 30)])
    settled = tx.events["UsageSettled"]
    billing.disputeUsage(tuple(settled["settlement"]), batch.batch_id, 0, settled["lines"], [], {"from": alice})
    ops = operator_console(deployment, admin)
    assert [d["id"] for d in ops.disputes().data] == [1]
    assert ops.resolve(1, refund=True, arbiter=arbiter)
    assert ops.disputes().data == []


def test_pause_and_unpause(deployment, billing, admin):
    ops = operator_console(deployment, admin)
    assert ops.pause() and billing.paused()
    assert ops.unpause() and not billing.paused()
