"""Escrow buckets (splitId, releaseDay), their release to the providers' earnings, provider withdrawals, and
the solvency invariant: the contract holds exactly what it owes.
"""

from __future__ import annotations

import pytest
from brownie import accounts

from tests.conftest import DAY, ids, now, reverts, time_travel


def release_day(timestamp: int) -> int:
    return -(-timestamp // DAY)


def travel_to(timestamp: int) -> None:
    """Moves the chain to just after `timestamp`."""
    time_travel(max(timestamp - now(), 0) + 1)


@pytest.fixture(scope="module")
def providers(deployment):
    return deployment.providers


@pytest.fixture(scope="module")
def splits(deployment):
    return deployment.splits


@pytest.fixture
def subscribe(billing, fund, unit):
    """subscribe(customer, plan_id): funds 100 tokens, subscribes at the plan's price, returns the event."""

    def _subscribe(customer, plan_id):
        price = billing.planOf(plan_id)["price"]
        fund(customer, 100 * unit)
        return billing.subscribe(plan_id, price, {"from": customer}).events["Subscribed"]

    return _subscribe


@pytest.fixture
def odd_plan(make_plan, unit):
    """A plan on the basic split priced 10 tokens + 1 token unit: the split does not divide it evenly."""
    return make_plan(price=10 * unit + 1)


# ----- escrow buckets -------------------------------------------------------------------------------------


def test_subscription_charge_lands_in_the_bucket_of_the_paid_through_day(billing, fund, plans, splits, alice, unit):
    fund(alice, 100 * unit)

    tx = billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    event = tx.events["Subscribed"]
    paid_through = tx.timestamp + 30 * DAY
    assert event["paidThrough"] == paid_through
    assert event["splitId"] == splits["basic"]
    assert event["releaseDay"] == release_day(paid_through)
    assert billing.escrowOf(splits["basic"], release_day(paid_through)) == 10 * unit


def test_charges_ending_on_the_same_day_share_one_bucket(billing, subscribe, plans, splits, alice, bob, unit):
    time_travel(DAY - now() % DAY + DAY // 2)  # midday: both periods end on the same day
    first = subscribe(alice, plans["basic"])
    second = subscribe(bob, plans["basic"])

    assert first["releaseDay"] == second["releaseDay"]
    assert billing.escrowOf(splits["basic"], first["releaseDay"]) == 20 * unit


def test_renewal_charge_lands_in_the_bucket_of_the_new_paid_through_day(billing, subscribe, plans, splits, alice, unit):
    paid_through = subscribe(alice, plans["basic"])["paidThrough"]
    travel_to(paid_through)

    tx = billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})

    day = release_day(paid_through + 30 * DAY)
    assert tx.events["RenewalsCharged"]["releaseDay"] == day
    assert tx.events["RenewalsCharged"]["splitId"] == splits["basic"]
    assert billing.escrowOf(splits["basic"], day) == 10 * unit
    assert billing.escrowOf(splits["basic"], release_day(paid_through)) == 10 * unit


def test_renewal_batch_spanning_two_release_days_escrows_each_charge_in_its_own_bucket(
    billing, subscribe, plans, splits, alice, bob, unit
):
    alice_paid = subscribe(alice, plans["basic"])["paidThrough"]
    time_travel(DAY + 3600)
    bob_paid = subscribe(bob, plans["basic"])["paidThrough"]
    travel_to(bob_paid)  # both due, alice still within her 3 days of grace

    tx = billing.renew(plans["basic"], ids(billing.customerIdOf(alice), billing.customerIdOf(bob)), {"from": alice})

    alice_day = release_day(alice_paid + 30 * DAY)
    bob_day = release_day(bob_paid + 30 * DAY)
    assert alice_day != bob_day
    assert billing.escrowOf(splits["basic"], alice_day) == 10 * unit
    assert billing.escrowOf(splits["basic"], bob_day) == 10 * unit
    assert billing.balanceOf(alice) == billing.balanceOf(bob) == 80 * unit
    assert tx.events["RenewalsCharged"]["releaseDay"] == alice_day
    assert tx.events["Renewed"]["releaseDay"] == bob_day


def test_trial_conversion_charge_lands_in_the_bucket_of_its_new_paid_through_day(
    billing, subscribe, plans, splits, alice, unit
):
    trial = subscribe(alice, plans["premium"])
    assert trial["trial"]
    assert trial["price"] == 0
    travel_to(trial["paidThrough"])

    tx = billing.renew(plans["premium"], ids(billing.customerIdOf(alice)), {"from": alice})

    renewed = tx.events["Renewed"]
    assert renewed["paidThrough"] == tx.timestamp + 30 * DAY
    assert renewed["releaseDay"] == release_day(renewed["paidThrough"])
    assert billing.escrowOf(splits["basic"], renewed["releaseDay"]) == 18 * unit
    assert billing.balanceOf(alice) == 82 * unit


def test_add_on_charge_lands_in_the_add_on_splits_bucket_of_the_base_day(billing, subscribe, plans, splits, alice):
    day = subscribe(alice, plans["basic"])["releaseDay"]

    tx = billing.subscribe(plans["sports"], billing.planOf(plans["sports"])["price"], {"from": alice})

    charge = tx.events["AddOnSubscribed"]["charge"]
    assert charge > 0
    assert tx.events["AddOnSubscribed"]["releaseDay"] == day
    assert billing.escrowOf(splits["sports"], day) == charge


# ----- releaseEscrow --------------------------------------------------------------------------------------


def test_release_right_after_the_charge_reverts_with_escrow_not_releasable(
    billing, subscribe, plans, splits, alice, rando
):
    day = subscribe(alice, plans["basic"])["releaseDay"]

    with reverts("Billing_EscrowNotReleasable", splits["basic"], day, day * DAY):
        billing.releaseEscrow(splits["basic"], day, {"from": rando})


def test_release_a_minute_before_the_day_starts_reverts_with_escrow_not_releasable(
    billing, subscribe, plans, splits, alice, rando, unit
):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    time_travel(day * DAY - now() - 60)

    with reverts("Billing_EscrowNotReleasable", splits["basic"], day, day * DAY):
        billing.releaseEscrow(splits["basic"], day, {"from": rando})
    assert billing.escrowOf(splits["basic"], day) == 10 * unit


def test_release_once_the_day_started_empties_the_bucket_and_emits_escrow_released(
    billing, subscribe, plans, splits, alice, rando, unit
):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(day * DAY)

    tx = billing.releaseEscrow(splits["basic"], day, {"from": rando})

    assert tx.events["EscrowReleased"] == {"splitId": splits["basic"], "day": day, "amount": 10 * unit}
    assert billing.escrowOf(splits["basic"], day) == 0


def test_release_credits_the_payees_by_the_split(billing, subscribe, plans, splits, payouts, alice, unit):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(day * DAY)

    billing.releaseEscrow(splits["basic"], day, {"from": alice})

    assert billing.earningsOf(payouts["platform"]) == 3 * unit
    assert billing.earningsOf(payouts["newsnet"]) == 7 * unit


def test_release_gives_the_rounding_remainder_to_the_first_entry(
    billing, subscribe, odd_plan, splits, payouts, alice, unit
):
    amount = 10 * unit + 1
    day = subscribe(alice, odd_plan)["releaseDay"]
    travel_to(day * DAY)

    billing.releaseEscrow(splits["basic"], day, {"from": alice})

    newsnet = amount * 7000 // 10_000
    assert newsnet * 10_000 != amount * 7000  # the share does not divide evenly
    assert billing.earningsOf(payouts["newsnet"]) == newsnet
    assert billing.earningsOf(payouts["platform"]) == amount - newsnet
    assert billing.earningsOf(payouts["platform"]) == amount * 3000 // 10_000 + 1


def test_release_shares_sum_exactly_to_the_bucket_for_a_three_way_split(
    billing, operator, subscribe, make_plan, providers, payouts, alice, unit
):
    entries = [providers["sportsco"], providers["platform"], providers["newsnet"]]
    bps = [3334, 3333, 3333]
    split = billing.addSplit(entries, bps, {"from": operator}).events["SplitAdded"]["splitId"]
    amount = 10 * unit + 1
    day = subscribe(alice, make_plan(price=amount, split=split))["releaseDay"]
    travel_to(day * DAY)

    tx = billing.releaseEscrow(split, day, {"from": alice})

    credited = {e["payee"]: e["amount"] for e in tx.events["EarningsCredited"]}
    assert credited[payouts["platform"]] == amount * 3333 // 10_000
    assert credited[payouts["newsnet"]] == amount * 3333 // 10_000
    assert credited[payouts["sportsco"]] == amount - 2 * (amount * 3333 // 10_000)
    assert sum(credited.values()) == amount
    assert sum(billing.earningsOf(payouts[k]) for k in ("platform", "newsnet", "sportsco")) == amount


def test_release_emits_earnings_credited_per_payee(billing, subscribe, plans, splits, providers, payouts, alice, unit):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(day * DAY)

    tx = billing.releaseEscrow(splits["basic"], day, {"from": alice})

    events = sorted((e["providerId"], e["payee"], e["splitId"], e["amount"]) for e in tx.events["EarningsCredited"])
    assert events == [
        (providers["platform"], payouts["platform"], splits["basic"], 3 * unit),
        (providers["newsnet"], payouts["newsnet"], splits["basic"], 7 * unit),
    ]


def test_releasing_a_bucket_twice_credits_once(billing, subscribe, plans, splits, payouts, alice, unit):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(day * DAY)
    billing.releaseEscrow(splits["basic"], day, {"from": alice})

    tx = billing.releaseEscrow(splits["basic"], day, {"from": alice})

    assert "EscrowReleased" not in tx.events
    assert "EarningsCredited" not in tx.events
    assert billing.earningsOf(payouts["platform"]) == 3 * unit
    assert billing.earningsOf(payouts["newsnet"]) == 7 * unit


def test_releasing_an_empty_bucket_is_a_no_op(billing, splits, payouts, rando):
    day = release_day(now()) - 1

    tx = billing.releaseEscrow(splits["basic"], day, {"from": rando})

    assert tx.status == 1
    assert len(tx.events) == 0
    assert billing.earningsOf(payouts["platform"]) == 0


def test_release_of_one_split_leaves_another_splits_bucket_on_the_same_day(
    billing, subscribe, plans, splits, alice, unit
):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    charge = billing.subscribe(plans["sports"], 10 * unit, {"from": alice}).events["AddOnSubscribed"]["charge"]
    travel_to(day * DAY)

    billing.releaseEscrow(splits["basic"], day, {"from": alice})

    assert billing.escrowOf(splits["sports"], day) == charge


def test_pause_blocks_escrow_release(billing, subscribe, plans, splits, admin, alice, unit):
    day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(day * DAY)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.releaseEscrow(splits["basic"], day, {"from": alice})
    assert billing.escrowOf(splits["basic"], day) == 10 * unit


# ----- provider earnings ----------------------------------------------------------------------------------


@pytest.fixture
def released(billing, subscribe, plans, splits, alice):
    """Releases one basic subscription: platform earns 3 tokens, newsnet 7."""
    day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(day * DAY)
    return billing.releaseEscrow(splits["basic"], day, {"from": alice})


def test_withdraw_earnings_pays_the_payee_and_zeroes_the_earnings(billing, token, released, payouts, unit):
    newsnet = payouts["newsnet"]
    before = token.balanceOf(newsnet)

    billing.withdrawEarnings({"from": newsnet})

    assert token.balanceOf(newsnet) == before + 7 * unit
    assert billing.earningsOf(newsnet) == 0
    assert billing.earningsOf(payouts["platform"]) == 3 * unit


def test_withdraw_earnings_emits_earnings_withdrawn(billing, released, payouts, unit):
    tx = billing.withdrawEarnings({"from": payouts["newsnet"]})

    assert tx.events["EarningsWithdrawn"] == {"payee": payouts["newsnet"], "amount": 7 * unit}


def test_withdraw_earnings_twice_reverts_with_no_earnings(billing, released, payouts):
    billing.withdrawEarnings({"from": payouts["newsnet"]})

    with reverts("Billing_NoEarnings", payouts["newsnet"]):
        billing.withdrawEarnings({"from": payouts["newsnet"]})


def test_withdraw_earnings_without_earnings_reverts_with_no_earnings(billing, payouts):
    with reverts("Billing_NoEarnings", payouts["sportsco"]):
        billing.withdrawEarnings({"from": payouts["sportsco"]})


def test_pause_blocks_provider_withdrawal(billing, token, released, admin, payouts, unit):
    newsnet = payouts["newsnet"]
    before = token.balanceOf(newsnet)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.withdrawEarnings({"from": newsnet})
    assert billing.earningsOf(newsnet) == 7 * unit
    assert token.balanceOf(newsnet) == before


def test_provider_payout_change_redirects_future_credits_only(
    billing, token, operator, subscribe, plans, splits, providers, payouts, alice, bob, carol, unit
):
    first_day = subscribe(alice, plans["basic"])["releaseDay"]
    travel_to(first_day * DAY)
    billing.releaseEscrow(splits["basic"], first_day, {"from": alice})

    billing.setProviderPayout(providers["newsnet"], carol, {"from": operator})
    second_day = subscribe(bob, plans["basic"])["releaseDay"]
    travel_to(second_day * DAY)
    tx = billing.releaseEscrow(splits["basic"], second_day, {"from": bob})

    assert billing.earningsOf(carol) == 7 * unit
    assert billing.earningsOf(payouts["newsnet"]) == 7 * unit
    newsnet_credit = [e for e in tx.events["EarningsCredited"] if e["providerId"] == providers["newsnet"]]
    assert newsnet_credit[0]["payee"] == carol
    # Earnings credited before the change stay withdrawable by the previous payout.
    before = token.balanceOf(payouts["newsnet"])
    billing.withdrawEarnings({"from": payouts["newsnet"]})
    assert token.balanceOf(payouts["newsnet"]) == before + 7 * unit


# ----- solvency (every token kind) ------------------------------------------------------------------------


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


class Ledger:
    """Recomputes what the billing contract owes from its views, tracking every escrow bucket seen in events."""

    def __init__(self, billing, token):
        self.billing = billing
        self.token = token
        self.buckets: set[tuple[int, int]] = set()

    # Every event that moves money into or out of an escrow bucket names the bucket's day.
    ESCROW_EVENTS = ("Subscribed", "AddOnSubscribed", "Renewed", "RenewalsCharged", "PlanChanged", "Refunded")

    def record(self, tx):
        splits = range(1, self.billing.splitCount() + 1)
        for name in self.ESCROW_EVENTS:
            if name not in tx.events:
                continue
            for event in tx.events[name]:
                self.buckets.update((split, event["releaseDay"]) for split in splits)
        return tx

    def owed(self):
        balances = sum(self.billing.balanceOf(a) for a in accounts)
        escrow = sum(self.billing.escrowOf(s, d) for s, d in self.buckets)
        earnings = sum(self.billing.earningsOf(a) for a in accounts)
        return balances + escrow + earnings

    def assert_solvent(self):
        assert self.token.balanceOf(self.billing) == self.owed()


def test_contract_holds_exactly_balances_plus_escrow_plus_earnings(
    any_billing, any_token, any_plans, alice, bob, carol, payouts, any_unit
):
    billing, token, unit = any_billing, any_token, any_unit
    ledger = Ledger(billing, token)
    price = {key: billing.planOf(plan_id)["price"] for key, plan_id in any_plans.items()}

    def deposit(customer, amount, payer=None):
        payer = payer or customer
        token.mint(payer, amount, {"from": payer})
        token.approve(billing, amount, {"from": payer})
        if payer == customer:
            return billing.deposit(amount, {"from": payer})
        return billing.depositFor(customer, amount, {"from": payer})

    # Deposits, including a gift.
    deposit(alice, 100 * unit + 7)
    deposit(bob, 40 * unit)
    deposit(carol, 60 * unit, payer=bob)
    ledger.assert_solvent()

    # Subscriptions: a paid base plan, a trial, a base plan with a pro-rated add-on.
    start = ledger.record(billing.subscribe(any_plans["basic"], price["basic"], {"from": alice}))
    ledger.record(billing.subscribe(any_plans["premium"], price["premium"], {"from": bob}))
    ledger.record(billing.subscribe(any_plans["basic"], price["basic"], {"from": carol}))
    time_travel(DAY)
    ledger.record(billing.subscribe(any_plans["sports"], price["sports"], {"from": carol}))
    ledger.assert_solvent()

    # Bob's trial ends and converts; later the base plans renew (carol with her add-on).
    travel_to(start.events["Subscribed"]["paidThrough"] - 20 * DAY)
    ledger.record(billing.renew(any_plans["premium"], ids(billing.customerIdOf(bob)), {"from": bob}))
    travel_to(start.events["Subscribed"]["releaseDay"] * DAY)  # paid through, within grace
    batch = ids(billing.customerIdOf(alice), billing.customerIdOf(carol))
    ledger.record(billing.renew(any_plans["basic"], batch, {"from": alice}))
    assert billing.balanceOf(alice) == 100 * unit + 7 - 2 * price["basic"]
    ledger.assert_solvent()

    # Everything releasable is released; a payee withdraws.
    for split, day in sorted(ledger.buckets):
        if day * DAY <= now():
            billing.releaseEscrow(split, day, {"from": alice})
    assert billing.earningsOf(payouts["newsnet"]) > 0
    ledger.assert_solvent()
    billing.withdrawEarnings({"from": payouts["newsnet"]})
    ledger.assert_solvent()

    # An upgrade moves the rest of carol's period from the basic plan's bucket to the premium plan's.
    ledger.record(billing.changePlan(any_plans["premium"], price["premium"], {"from": carol}))
    ledger.assert_solvent()

    # Customers leave: an immediate cancellation with refund and withdrawals.
    ledger.record(billing.cancelNow(any_plans["premium"], {"from": bob}))
    billing.withdraw(billing.balanceOf(bob), {"from": bob})
    billing.withdraw(10 * unit, {"from": alice})
    ledger.assert_solvent()

    # After every bucket is released and everyone withdraws, nothing is left behind.
    travel_to(max(day for _, day in ledger.buckets) * DAY)
    for split, day in sorted(ledger.buckets):
        billing.releaseEscrow(split, day, {"from": alice})
    for account in accounts:
        if billing.balanceOf(account) > 0:
            billing.withdraw(billing.balanceOf(account), {"from": account})
        if billing.earningsOf(account) > 0:
            billing.withdrawEarnings({"from": account})
    assert token.balanceOf(billing) == 0
