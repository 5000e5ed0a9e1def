"""The operator's catalogue: providers, splits, plans and their changes, and the catalogue views.

The development catalogue gives providers 1 platform, 2 newsnet, 3 sportsco; splits 1 basic (platform 30% /
newsnet 70%) and 2 sports (platform 20% / sportsco 80%); plans 1 basic, 2 premium, 3 sports add-on.
"""

from __future__ import annotations

import pytest
from brownie import ZERO_ADDRESS, accounts

from tests.conftest import DAY, ids, reverts, time_travel

MAX_PRICE = 2**80 - 1
MAX_ADDONS = 16


def plan_params(
    price,
    period=30 * DAY,
    trial=0,
    grace=3 * DAY,
    max_streams=2,
    split=1,
    add_on=False,
    packages=(1,),
    name="Test plan",
):
    """A PlanParams tuple for addPlan; every field can be overridden."""
    return (name, price, period, trial, grace, max_streams, split, add_on, list(packages))


@pytest.fixture(scope="module")
def providers(deployment):
    return deployment.providers


@pytest.fixture(scope="module")
def splits(deployment):
    return deployment.splits


@pytest.fixture
def add_providers(billing, operator):
    """add_providers(n): adds n providers (payouts cycling through the dev accounts) and returns their ids."""

    def _add(n):
        added = []
        for i in range(n):
            tx = billing.addProvider(accounts[i % len(accounts)], f"Provider {i}", {"from": operator})
            added.append(tx.events["ProviderAdded"]["providerId"])
        return added

    return _add


# ----- providers ------------------------------------------------------------------------------------------


def test_add_provider_assigns_the_next_id_and_emits_provider_added(billing, operator, carol):
    count = billing.providerCount()

    tx = billing.addProvider(carol, "Carol Films", {"from": operator})

    assert tx.events["ProviderAdded"] == {"providerId": count + 1, "payout": carol, "name": "Carol Films"}
    assert billing.providerCount() == count + 1
    assert billing.providerPayout(count + 1) == carol


def test_add_provider_with_zero_payout_reverts_with_invalid_payout(billing, operator):
    with reverts("Billing_InvalidPayout"):
        billing.addProvider(ZERO_ADDRESS, "Nobody", {"from": operator})


def test_set_provider_payout_changes_the_payout_and_emits_previous_and_new(
    billing, operator, providers, payouts, carol
):
    tx = billing.setProviderPayout(providers["newsnet"], carol, {"from": operator})

    assert tx.events["ProviderPayoutChanged"] == {
        "providerId": providers["newsnet"],
        "previousPayout": payouts["newsnet"],
        "payout": carol,
    }
    assert billing.providerPayout(providers["newsnet"]) == carol


def test_set_provider_payout_to_zero_reverts_with_invalid_payout(billing, operator, providers):
    with reverts("Billing_InvalidPayout"):
        billing.setProviderPayout(providers["newsnet"], ZERO_ADDRESS, {"from": operator})


@pytest.mark.parametrize("provider_id", [0, 4, 999])
def test_set_provider_payout_of_an_unknown_provider_reverts_with_unknown_provider(
    billing, operator, carol, provider_id
):
    with reverts("Billing_UnknownProvider", provider_id):
        billing.setProviderPayout(provider_id, carol, {"from": operator})


# ----- splits ---------------------------------------------------------------------------------------------


def test_add_split_stores_the_entries_and_emits_split_added(billing, operator, providers):
    entries = [providers["sportsco"], providers["platform"], providers["newsnet"]]
    bps = [5000, 1000, 4000]

    tx = billing.addSplit(entries, bps, {"from": operator})

    split_id = tx.events["SplitAdded"]["splitId"]
    assert split_id == 3
    assert list(tx.events["SplitAdded"]["providerIds"]) == entries
    assert list(tx.events["SplitAdded"]["bps"]) == bps
    assert billing.splitCount() == 3
    stored_ids, stored_bps = billing.splitOf(split_id)
    assert (list(stored_ids), list(stored_bps)) == (entries, bps)


def test_add_split_with_eight_entries_is_accepted(billing, operator, add_providers):
    entries = add_providers(8)

    tx = billing.addSplit(entries, [1250] * 8, {"from": operator})

    assert list(billing.splitOf(tx.events["SplitAdded"]["splitId"])[0]) == entries


def test_add_split_without_entries_reverts_with_invalid_split(billing, operator):
    with reverts("Billing_InvalidSplit"):
        billing.addSplit([], [], {"from": operator})


def test_add_split_with_more_than_eight_entries_reverts_with_invalid_split(billing, operator, add_providers):
    entries = add_providers(9)
    bps = [1111] * 8 + [1112]

    with reverts("Billing_InvalidSplit"):
        billing.addSplit(entries, bps, {"from": operator})


def test_add_split_with_a_zero_share_reverts_with_invalid_split(billing, operator, providers):
    entries = [providers["platform"], providers["newsnet"], providers["sportsco"]]

    with reverts("Billing_InvalidSplit"):
        billing.addSplit(entries, [5000, 0, 5000], {"from": operator})


def test_add_split_with_a_duplicated_provider_reverts_with_invalid_split(billing, operator, providers):
    entries = [providers["platform"], providers["newsnet"], providers["platform"]]

    with reverts("Billing_InvalidSplit"):
        billing.addSplit(entries, [3000, 4000, 3000], {"from": operator})


@pytest.mark.parametrize("bps", [[3000, 6999], [3000, 7001], [10000, 10000]], ids=["below", "above", "double"])
def test_add_split_whose_shares_do_not_sum_to_10000_reverts_with_invalid_split(billing, operator, providers, bps):
    with reverts("Billing_InvalidSplit"):
        billing.addSplit([providers["platform"], providers["newsnet"]], bps, {"from": operator})


def test_add_split_with_more_shares_than_providers_reverts_with_invalid_split(billing, operator, providers):
    with reverts("Billing_InvalidSplit"):
        billing.addSplit([providers["platform"]], [5000, 5000], {"from": operator})


@pytest.mark.parametrize("unknown", [0, 4, 999])
def test_add_split_with_an_unknown_provider_reverts_with_unknown_provider(billing, operator, providers, unknown):
    with reverts("Billing_UnknownProvider", unknown):
        billing.addSplit([providers["platform"], unknown], [5000, 5000], {"from": operator})


# ----- addPlan --------------------------------------------------------------------------------------------


def test_add_plan_stores_the_plan_and_emits_plan_added(billing, operator, splits, unit):
    params = plan_params(
        7 * unit,
        period=7 * DAY,
        trial=2 * DAY,
        grace=DAY,
        max_streams=3,
        split=splits["sports"],
        packages=(5, 6),
        name="Weekly",
    )

    tx = billing.addPlan(params, {"from": operator})

    plan_id = tx.events["PlanAdded"]["planId"]
    assert plan_id == 4
    assert billing.planCount() == 4
    event = tx.events["PlanAdded"]
    assert event["name"] == "Weekly"
    assert event["price"] == 7 * unit
    assert (event["period"], event["trial"], event["grace"]) == (7 * DAY, 2 * DAY, DAY)
    assert (event["maxStreams"], event["splitId"], event["addOnBit"]) == (3, splits["sports"], 0)
    assert list(event["packages"]) == [5, 6]
    plan = billing.planOf(plan_id)
    assert plan["price"] == 7 * unit
    assert (plan["period"], plan["trial"], plan["grace"]) == (7 * DAY, 2 * DAY, DAY)
    assert (plan["maxStreams"], plan["splitId"], plan["addOnBit"]) == (3, splits["sports"], 0)
    assert plan["active"]
    assert list(plan["packages"]) == [5, 6]


def test_add_plan_for_an_add_on_takes_the_next_add_on_slot(billing, operator, plans, unit):
    tx = billing.addPlan(plan_params(2 * unit, add_on=True, grace=0, packages=(9,)), {"from": operator})

    plan_id = tx.events["PlanAdded"]["planId"]
    assert tx.events["PlanAdded"]["addOnBit"] == 2
    assert billing.planOf(plan_id)["addOnBit"] == 2
    assert billing.addOnPlan(2) == plan_id
    assert billing.addOnPlan(1) == plans["sports"]


def test_add_plan_with_zero_price_reverts_with_invalid_plan(billing, operator):
    with reverts("Billing_InvalidPlan", "price out of range"):
        billing.addPlan(plan_params(0), {"from": operator})


def test_add_plan_priced_above_the_balance_maximum_reverts_with_invalid_plan(billing, operator):
    with reverts("Billing_InvalidPlan", "price out of range"):
        billing.addPlan(plan_params(MAX_PRICE + 1), {"from": operator})


def test_add_plan_priced_at_the_balance_maximum_is_accepted(billing, operator):
    tx = billing.addPlan(plan_params(MAX_PRICE), {"from": operator})

    assert billing.planOf(tx.events["PlanAdded"]["planId"])["price"] == MAX_PRICE


def test_add_plan_with_a_period_shorter_than_a_day_reverts_with_invalid_plan(billing, operator, unit):
    with reverts("Billing_InvalidPlan", "period < 1 day"):
        billing.addPlan(plan_params(unit, period=DAY - 1, grace=0), {"from": operator})


def test_add_plan_with_a_period_of_exactly_one_day_is_accepted(billing, operator, unit):
    tx = billing.addPlan(plan_params(unit, period=DAY, grace=0), {"from": operator})

    assert billing.planOf(tx.events["PlanAdded"]["planId"])["period"] == DAY


@pytest.mark.parametrize("grace", [30 * DAY, 31 * DAY], ids=["equal", "longer"])
def test_add_plan_with_grace_not_shorter_than_the_period_reverts_with_invalid_plan(billing, operator, unit, grace):
    with reverts("Billing_InvalidPlan", "grace >= period"):
        billing.addPlan(plan_params(unit, period=30 * DAY, grace=grace), {"from": operator})


def test_add_plan_for_an_add_on_with_a_trial_reverts_with_invalid_plan(billing, operator, unit):
    with reverts("Billing_InvalidPlan", "add-ons have no trial"):
        billing.addPlan(plan_params(unit, add_on=True, trial=DAY), {"from": operator})


@pytest.mark.parametrize("split_id", [0, 3, 999])
def test_add_plan_with_an_unknown_split_reverts_with_unknown_split(billing, operator, unit, split_id):
    with reverts("Billing_UnknownSplit", split_id):
        billing.addPlan(plan_params(unit, split=split_id), {"from": operator})


def test_add_plan_with_more_than_64_packages_reverts_with_invalid_plan(billing, operator, unit):
    with reverts("Billing_InvalidPlan", "too many packages"):
        billing.addPlan(plan_params(unit, packages=range(1, 66)), {"from": operator})


def test_add_plan_for_a_17th_add_on_reverts_with_too_many_add_ons(billing, operator, unit):
    taken = sum(1 for bit in range(1, MAX_ADDONS + 1) if billing.addOnPlan(bit) != 0)
    for _ in range(MAX_ADDONS - taken):
        billing.addPlan(plan_params(unit, add_on=True), {"from": operator})
    assert billing.addOnPlan(MAX_ADDONS) != 0

    with reverts("Billing_TooManyAddOns"):
        billing.addPlan(plan_params(unit, add_on=True), {"from": operator})


def test_base_plans_can_still_be_added_when_every_add_on_slot_is_taken(billing, operator, unit):
    taken = sum(1 for bit in range(1, MAX_ADDONS + 1) if billing.addOnPlan(bit) != 0)
    for _ in range(MAX_ADDONS - taken):
        billing.addPlan(plan_params(unit, add_on=True), {"from": operator})

    tx = billing.addPlan(plan_params(unit), {"from": operator})

    assert billing.planOf(tx.events["PlanAdded"]["planId"])["addOnBit"] == 0


# ----- setPlanPrice ---------------------------------------------------------------------------------------


def test_set_plan_price_emits_plan_price_changed_with_the_new_epoch(billing, operator, plans, unit):
    epoch = billing.priceEpoch()

    tx = billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})

    assert tx.events["PlanPriceChanged"] == {
        "planId": plans["basic"],
        "previousPrice": 10 * unit,
        "price": 12 * unit,
        "epoch": epoch + 1,
    }
    assert billing.priceEpoch() == epoch + 1
    assert billing.planOf(plans["basic"])["price"] == 12 * unit


def test_every_price_change_starts_a_new_epoch(billing, operator, plans, unit):
    epoch = billing.priceEpoch()

    billing.setPlanPrice(plans["basic"], 12 * unit, {"from": operator})
    billing.setPlanPrice(plans["premium"], 20 * unit, {"from": operator})
    tx = billing.setPlanPrice(plans["basic"], 11 * unit, {"from": operator})

    assert billing.priceEpoch() == epoch + 3
    assert tx.events["PlanPriceChanged"]["epoch"] == epoch + 3
    assert tx.events["PlanPriceChanged"]["previousPrice"] == 12 * unit


def test_set_plan_price_of_an_unknown_plan_reverts_with_unknown_plan(billing, operator, unit):
    with reverts("Billing_UnknownPlan", 99):
        billing.setPlanPrice(99, unit, {"from": operator})


@pytest.mark.parametrize("price", [0, MAX_PRICE + 1], ids=["zero", "above_max"])
def test_set_plan_price_out_of_range_reverts_with_invalid_plan(billing, operator, plans, price):
    with reverts("Billing_InvalidPlan", "price out of range"):
        billing.setPlanPrice(plans["basic"], price, {"from": operator})


# ----- setPlanActive --------------------------------------------------------------------------------------


def test_set_plan_active_emits_plan_active_changed(billing, operator, plans):
    tx = billing.setPlanActive(plans["basic"], False, {"from": operator})

    assert tx.events["PlanActiveChanged"] == {"planId": plans["basic"], "active": False}
    assert not billing.planOf(plans["basic"])["active"]


def test_inactive_plan_refuses_new_subscribers_with_plan_inactive(billing, operator, fund, plans, alice, unit):
    fund(alice, 100 * unit)
    billing.setPlanActive(plans["basic"], False, {"from": operator})

    with reverts("Billing_PlanInactive", plans["basic"]):
        billing.subscribe(plans["basic"], 10 * unit, {"from": alice})


def test_existing_subscribers_of_an_inactive_plan_keep_renewing(billing, operator, subscribed, plans, alice, unit):
    subscribed(alice)
    billing.setPlanActive(plans["basic"], False, {"from": operator})
    time_travel(30 * DAY + 1)

    tx = billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})

    assert tx.events["RenewalsCharged"]["price"] == 10 * unit
    assert billing.balanceOf(alice) == 80 * unit
    assert billing.isEntitled(alice, 1)


def test_reactivated_plan_accepts_new_subscribers(billing, operator, fund, plans, alice, unit):
    fund(alice, 100 * unit)
    billing.setPlanActive(plans["basic"], False, {"from": operator})
    billing.setPlanActive(plans["basic"], True, {"from": operator})

    billing.subscribe(plans["basic"], 10 * unit, {"from": alice})

    assert billing.accountOf(alice)["planId"] == plans["basic"]


def test_set_plan_active_of_an_unknown_plan_reverts_with_unknown_plan(billing, operator):
    with reverts("Billing_UnknownPlan", 99):
        billing.setPlanActive(99, False, {"from": operator})


# ----- setPlanPackages ------------------------------------------------------------------------------------


def test_set_plan_packages_emits_plan_packages_changed_and_updates_the_plan(billing, operator, plans):
    tx = billing.setPlanPackages(plans["basic"], [4, 5], {"from": operator})

    assert tx.events["PlanPackagesChanged"]["planId"] == plans["basic"]
    assert list(tx.events["PlanPackagesChanged"]["packages"]) == [4, 5]
    assert list(billing.planOf(plans["basic"])["packages"]) == [4, 5]


def test_entitlement_follows_the_new_package_set_immediately(billing, operator, subscribed, plans, alice):
    subscribed(alice)
    assert billing.isEntitled(alice, 1)
    assert not billing.isEntitled(alice, 4)

    billing.setPlanPackages(plans["basic"], [4, 5], {"from": operator})

    assert not billing.isEntitled(alice, 1)
    assert billing.isEntitled(alice, 4)
    assert billing.isEntitled(alice, 5)


def test_set_plan_packages_to_an_empty_set_removes_every_entitlement(billing, operator, subscribed, plans, alice):
    subscribed(alice)

    billing.setPlanPackages(plans["basic"], [], {"from": operator})

    assert not billing.isEntitled(alice, 1)
    assert list(billing.planOf(plans["basic"])["packages"]) == []


def test_set_plan_packages_with_more_than_64_packages_reverts_with_invalid_plan(billing, operator, plans):
    with reverts("Billing_InvalidPlan", "too many packages"):
        billing.setPlanPackages(plans["basic"], list(range(1, 66)), {"from": operator})


def test_set_plan_packages_of_an_unknown_plan_reverts_with_unknown_plan(billing, operator):
    with reverts("Billing_UnknownPlan", 99):
        billing.setPlanPackages(99, [1], {"from": operator})


# ----- setPlanSplit ---------------------------------------------------------------------------------------


def test_set_plan_split_emits_plan_split_changed_and_bumps_the_epoch(billing, operator, plans, splits):
    epoch = billing.priceEpoch()

    tx = billing.setPlanSplit(plans["basic"], splits["sports"], {"from": operator})

    assert tx.events["PlanSplitChanged"] == {"planId": plans["basic"], "splitId": splits["sports"]}
    assert billing.priceEpoch() == epoch + 1
    assert billing.planOf(plans["basic"])["splitId"] == splits["sports"]


def test_future_renewals_escrow_to_the_new_split(billing, operator, subscribed, plans, splits, alice, unit):
    subscribed(alice)
    billing.setPlanSplit(plans["basic"], splits["sports"], {"from": operator})
    time_travel(30 * DAY + 1)

    tx = billing.renew(plans["basic"], ids(billing.customerIdOf(alice)), {"from": alice})

    renewed = tx.events["Renewed"]
    assert renewed["splitId"] == splits["sports"]
    assert billing.escrowOf(splits["sports"], renewed["releaseDay"]) == 10 * unit
    assert billing.escrowOf(splits["basic"], renewed["releaseDay"]) == 0


def test_escrow_already_held_keeps_its_split_after_a_split_change(
    billing, operator, subscribed, plans, splits, alice, unit
):
    day = subscribed(alice).events["Subscribed"]["releaseDay"]

    billing.setPlanSplit(plans["basic"], splits["sports"], {"from": operator})

    assert billing.escrowOf(splits["basic"], day) == 10 * unit
    assert billing.escrowOf(splits["sports"], day) == 0


def test_new_subscribers_after_a_split_change_escrow_to_the_new_split(
    billing, operator, subscribed, plans, splits, alice, unit
):
    billing.setPlanSplit(plans["basic"], splits["sports"], {"from": operator})

    event = subscribed(alice).events["Subscribed"]

    assert event["splitId"] == splits["sports"]
    assert billing.escrowOf(splits["sports"], event["releaseDay"]) == 10 * unit


@pytest.mark.parametrize("split_id", [0, 3])
def test_set_plan_split_to_an_unknown_split_reverts_with_unknown_split(billing, operator, plans, split_id):
    with reverts("Billing_UnknownSplit", split_id):
        billing.setPlanSplit(plans["basic"], split_id, {"from": operator})


def test_set_plan_split_of_an_unknown_plan_reverts_with_unknown_plan(billing, operator, splits):
    with reverts("Billing_UnknownPlan", 99):
        billing.setPlanSplit(99, splits["basic"], {"from": operator})


# ----- views ----------------------------------------------------------------------------------------------


def test_counts_match_the_development_catalogue(billing):
    assert billing.providerCount() == 3
    assert billing.splitCount() == 2
    assert billing.planCount() == 3


def test_provider_payout_returns_each_providers_payout_address(billing, providers, payouts):
    for key, provider_id in providers.items():
        assert billing.providerPayout(provider_id) == payouts[key]


def test_provider_payout_of_an_unknown_provider_is_the_zero_address(billing):
    assert billing.providerPayout(99) == ZERO_ADDRESS


def test_split_of_returns_the_entries_in_order(billing, providers, splits):
    provider_ids, bps = billing.splitOf(splits["basic"])
    assert list(provider_ids) == [providers["platform"], providers["newsnet"]]
    assert list(bps) == [3000, 7000]
    provider_ids, bps = billing.splitOf(splits["sports"])
    assert list(provider_ids) == [providers["platform"], providers["sportsco"]]
    assert list(bps) == [2000, 8000]


def test_split_of_an_unknown_split_is_empty(billing):
    provider_ids, bps = billing.splitOf(99)
    assert list(provider_ids) == []
    assert list(bps) == []


def test_plan_of_returns_the_development_catalogue_plans(billing, plans, splits, unit):
    premium = billing.planOf(plans["premium"])
    assert premium["price"] == 18 * unit
    assert (premium["period"], premium["trial"], premium["grace"]) == (30 * DAY, 7 * DAY, 3 * DAY)
    assert (premium["maxStreams"], premium["splitId"], premium["addOnBit"]) == (4, splits["basic"], 0)
    assert list(premium["packages"]) == [1, 2]
    sports = billing.planOf(plans["sports"])
    assert sports["price"] == 65 * unit // 10
    assert (sports["splitId"], sports["addOnBit"]) == (splits["sports"], 1)
    assert list(sports["packages"]) == [3]


@pytest.mark.parametrize("plan_id", [0, 4, 999])
def test_plan_of_an_unknown_plan_reverts_with_unknown_plan(billing, plan_id):
    with reverts("Billing_UnknownPlan", plan_id):
        billing.planOf(plan_id)


def test_a_plan_cannot_take_the_package_of_a_ppv_event(billing, operator, plans):
    with reverts("Billing_PackageTaken", 101):
        billing.setPlanPackages(plans["basic"], [1, 101], {"from": operator})


def test_a_new_plan_cannot_take_the_package_of_a_vod_title(make_plan):
    with reverts("Billing_PackageTaken", 201):
        make_plan(packages=(5, 201))


def test_a_package_dropped_by_every_plan_can_be_sold_as_an_event(billing, operator, plans, unit, deployment):
    from tests.conftest import now

    billing.setPlanPackages(plans["premium"], [1], {"from": operator})  # package 2 is now in no plan
    start = now() + 86_400
    tx = billing.addPpvEvent("Concert", 5 * unit, 2, start, start, start + 3600, 1, {"from": operator})
    assert tx.events["PpvEventAdded"]["packageId"] == 2
