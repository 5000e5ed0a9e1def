"""Pay-per-view events (bought by the customer) and VOD rentals (reported by the oracle in signed batches).

A PPV purchase is charged into escrow (the event's split, the day after viewEnd + the dispute window) and
entitles to the event's package during [viewStart, viewEnd). A rental is charged the title's price when the
oracle reports its first play and entitles to the title's package until firstPlayAt + the rental window.
"""

from __future__ import annotations

import pytest
from brownie import web3
from eth_utils import keccak

from streamledger.oracle import RentalBatchData, RentalReport, sign_batch
from tests.conftest import DAY, now, reverts, time_travel

OPERATOR_ROLE = bytes(web3.keccak(text="OPERATOR_ROLE"))
DISPUTE_WINDOW = 3 * DAY
HOUR = 3600
RENTAL_SECONDS = 48 * HOUR
CHARGE_PENDING = 1
DECLINED_BALANCE = 2
DECLINED_TITLE = 3
DECLINED_RENTED = 4
STRANGER_KEY = keccak(text="not a StreamLedger oracle")

_batch_ids = iter(range(2 * 10**6, 10**9))


def release_day(timestamp: int) -> int:
    return -(-timestamp // DAY)


def travel_to(timestamp: int) -> None:
    """Moves the chain to just after `timestamp`."""
    time_travel(max(timestamp - now(), 0) + 1)


# ----- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def event_id(deployment):
    return deployment.ppv_events["title_fight"]


@pytest.fixture(scope="module")
def title(deployment):
    return deployment.vod_titles["the_long_night"]


@pytest.fixture(scope="module")
def splits(deployment):
    return deployment.splits


@pytest.fixture(scope="module")
def ppv(billing, event_id):
    """The title fight as stored: price, packageId, salesClose, viewStart, viewEnd, splitId."""
    return billing.ppvEventOf(event_id)


@pytest.fixture(scope="module")
def vod(billing, title):
    """The long night as stored: price, packageId, rentalSeconds, splitId, active."""
    return billing.vodTitleOf(title)


@pytest.fixture
def bought(billing, fund, event_id, alice, unit):
    """alice deposits 100 tokens and buys the title fight; returns the transaction."""
    fund(alice, 100 * unit)
    return billing.buyPpv(event_id, {"from": alice})


@pytest.fixture
def rental_batch():
    """rental_batch([(customer_id, title_id, first_play_at?), ...], batch_id=None, deadline=None)."""

    def _batch(rentals, batch_id=None, deadline=None):
        return RentalBatchData(
            batch_id=batch_id if batch_id is not None else next(_batch_ids),
            deadline=deadline if deadline is not None else now() + HOUR,
            rentals=[RentalReport(r[0], r[1], r[2] if len(r) > 2 else now() - 60) for r in rentals],
        )

    return _batch


@pytest.fixture
def submit_rentals(billing, oracle_keys, operator):
    """submit_rentals(batch, keys=2 oracle keys, packed=None): signs and settles a rental batch."""

    def _submit(batch, keys=None, packed=None, sender=None):
        signatures = sign_batch(batch, web3.eth.chain_id, billing.address, keys or oracle_keys[:2])
        packed = packed if packed is not None else batch.packed()
        return billing.settleRentals(batch.header(), packed, signatures, {"from": sender or operator})

    return _submit


@pytest.fixture
def rent(rental_batch, submit_rentals):
    """rent([(customer_id, title_id[, first_play_at]), ...]): settles a rental batch; returns (tx, batch)."""

    def _rent(rentals, **options):
        batch = rental_batch(rentals, **options)
        return submit_rentals(batch), batch

    return _rent


# ----- buying pay-per-view -----------------------------------------------------------------------------------


def test_buy_ppv_charges_the_price_from_the_balance(billing, bought, ppv, alice, unit):
    assert ppv["price"] == 15 * unit
    assert billing.balanceOf(alice) == 85 * unit


def test_buy_ppv_escrows_the_price_in_the_sports_bucket_after_the_view_window(billing, bought, ppv, splits, unit):
    day = release_day(ppv["viewEnd"] + DISPUTE_WINDOW)

    assert ppv["splitId"] == splits["sports"]
    assert billing.escrowOf(splits["sports"], day) == 15 * unit


def test_buy_ppv_emits_ppv_purchased(bought, ppv, event_id, splits, alice, unit):
    assert bought.events["PpvPurchased"] == {
        "customer": alice,
        "eventId": event_id,
        "price": 15 * unit,
        "splitId": splits["sports"],
        "releaseDay": release_day(ppv["viewEnd"] + DISPUTE_WINDOW),
    }


def test_ppv_purchase_of_shows_the_pending_charge(billing, bought, ppv, event_id, alice, unit):
    assert tuple(billing.ppvPurchaseOf(event_id, alice)) == (
        15 * unit,
        CHARGE_PENDING,
        ppv["viewEnd"],
        release_day(ppv["viewEnd"] + DISPUTE_WINDOW),
    )


def test_buy_ppv_registers_an_unregistered_buyer(billing, bought, alice):
    assert bought.events["CustomerRegistered"]["customer"] == alice
    assert billing.customerIdOf(alice) != 0


def test_ppv_buyer_is_not_entitled_before_the_view_window(billing, bought, ppv, alice):
    assert now() < ppv["viewStart"]

    assert not billing.isEntitled(alice, ppv["packageId"])


def test_ppv_buyer_is_entitled_during_the_view_window(billing, bought, ppv, alice):
    travel_to(ppv["viewStart"] + 60)

    assert billing.isEntitled(alice, ppv["packageId"])


def test_ppv_buyer_is_still_entitled_just_before_the_view_window_ends(billing, bought, ppv, alice):
    travel_to(ppv["viewEnd"] - 120)

    assert billing.isEntitled(alice, ppv["packageId"])


def test_ppv_buyer_is_not_entitled_once_the_view_window_ended(billing, bought, ppv, alice):
    travel_to(ppv["viewEnd"])

    assert not billing.isEntitled(alice, ppv["packageId"])


def test_a_customer_who_did_not_buy_is_not_entitled_during_the_view_window(billing, bought, fund, ppv, bob, unit):
    fund(bob, 100 * unit)
    billing.register(bob, {"from": bob})
    travel_to(ppv["viewStart"] + 60)

    assert not billing.isEntitled(bob, ppv["packageId"])


def test_a_ppv_purchase_entitles_to_no_plan_package(billing, bought, ppv, alice):
    travel_to(ppv["viewStart"] + 60)

    assert not billing.isEntitled(alice, 1)


def test_buying_the_same_event_twice_reverts_with_ppv_already_bought(billing, bought, event_id, alice, unit):
    with reverts("Billing_PpvAlreadyBought", alice, event_id):
        billing.buyPpv(event_id, {"from": alice})
    assert billing.balanceOf(alice) == 85 * unit


def test_buying_once_sales_closed_reverts_with_ppv_sales_closed(billing, fund, ppv, event_id, alice, unit):
    fund(alice, 100 * unit)
    travel_to(ppv["salesClose"])

    with reverts("Billing_PpvSalesClosed", event_id, ppv["salesClose"]):
        billing.buyPpv(event_id, {"from": alice})


def test_buying_an_unknown_event_reverts_with_unknown_ppv_event(billing, fund, alice, unit):
    fund(alice, 100 * unit)

    with reverts("Billing_UnknownPpvEvent", 99):
        billing.buyPpv(99, {"from": alice})


def test_buying_without_enough_balance_reverts_with_insufficient_balance(billing, fund, event_id, alice, unit):
    fund(alice, 10 * unit)

    with reverts("Billing_InsufficientBalance", alice, 15 * unit, 10 * unit):
        billing.buyPpv(event_id, {"from": alice})
    assert billing.balanceOf(alice) == 10 * unit


def test_buying_while_paused_reverts_with_enforced_pause(billing, fund, admin, event_id, alice, unit):
    fund(alice, 100 * unit)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        billing.buyPpv(event_id, {"from": alice})


# ----- adding pay-per-view events ------------------------------------------------------------------------------


def test_add_ppv_event_stores_it_and_emits_ppv_event_added(billing, operator, splits, unit):
    start = now() + DAY
    args = ("Cup final", 7 * unit, 102, start - HOUR, start, start + 2 * HOUR, splits["sports"])

    tx = billing.addPpvEvent(*args, {"from": operator})

    event_id = tx.events["PpvEventAdded"]["eventId"]
    assert event_id == 2
    assert tx.events["PpvEventAdded"] == {
        "eventId": event_id,
        "name": "Cup final",
        "price": 7 * unit,
        "packageId": 102,
        "salesClose": start - HOUR,
        "viewStart": start,
        "viewEnd": start + 2 * HOUR,
        "splitId": splits["sports"],
    }
    assert tuple(billing.ppvEventOf(event_id)) == (
        7 * unit,
        102,
        start - HOUR,
        start,
        start + 2 * HOUR,
        splits["sports"],
    )
    assert billing.ppvEventCount() == 2


def test_add_ppv_event_with_sales_closing_after_the_start_reverts_with_invalid_ppv_event(
    billing, operator, splits, unit
):
    start = now() + DAY

    with reverts("Billing_InvalidPpvEvent", "windows"):
        billing.addPpvEvent("Late", unit, 102, start + 1, start, start + HOUR, splits["sports"], {"from": operator})


def test_add_ppv_event_with_an_empty_view_window_reverts_with_invalid_ppv_event(billing, operator, splits, unit):
    start = now() + DAY

    with reverts("Billing_InvalidPpvEvent", "windows"):
        billing.addPpvEvent("Empty", unit, 102, start, start, start, splits["sports"], {"from": operator})


def test_add_ppv_event_ending_in_the_past_reverts_with_invalid_ppv_event(billing, operator, splits, unit):
    end = now() - 60

    with reverts("Billing_InvalidPpvEvent", "windows"):
        billing.addPpvEvent("Over", unit, 102, end - HOUR, end - HOUR, end, splits["sports"], {"from": operator})


def test_add_ppv_event_with_another_events_package_reverts_with_package_taken(billing, operator, ppv, splits, unit):
    start = now() + DAY

    with reverts("Billing_PackageTaken", ppv["packageId"]):
        billing.addPpvEvent(
            "Rematch", unit, ppv["packageId"], start, start, start + HOUR, splits["sports"], {"from": operator}
        )


def test_add_ppv_event_with_a_vod_titles_package_reverts_with_package_taken(billing, operator, vod, splits, unit):
    start = now() + DAY

    with reverts("Billing_PackageTaken", vod["packageId"]):
        billing.addPpvEvent(
            "Premiere", unit, vod["packageId"], start, start, start + HOUR, splits["sports"], {"from": operator}
        )


def test_add_ppv_event_with_a_plans_package_reverts_with_package_taken(billing, operator, plans, splits, unit):
    start = now() + DAY
    package = billing.planOf(plans["basic"])["packages"][0]

    with reverts("Billing_PackageTaken", package):
        billing.addPpvEvent("Basic", unit, package, start, start, start + HOUR, splits["sports"], {"from": operator})


def test_add_ppv_event_with_package_zero_reverts_with_package_taken(billing, operator, splits, unit):
    start = now() + DAY

    with reverts("Billing_PackageTaken", 0):
        billing.addPpvEvent("Zero", unit, 0, start, start, start + HOUR, splits["sports"], {"from": operator})


def test_add_ppv_event_by_a_non_operator_reverts_with_access_control(billing, rando, splits, unit):
    start = now() + DAY

    with reverts("AccessControlUnauthorizedAccount", rando, OPERATOR_ROLE):
        billing.addPpvEvent("Rando", unit, 102, start, start, start + HOUR, splits["sports"], {"from": rando})


def test_add_vod_title_with_a_ppv_events_package_reverts_with_package_taken(billing, operator, ppv, splits, unit):
    with reverts("Billing_PackageTaken", ppv["packageId"]):
        billing.addVodTitle("Fight replay", unit, ppv["packageId"], DAY, splits["basic"], {"from": operator})


# ----- rentals -----------------------------------------------------------------------------------------------


def test_a_reported_rental_charges_the_titles_price(billing, registered, rent, vod, title, alice, unit):
    a = registered(alice, 10 * unit)

    rent([(a, title)])

    assert vod["price"] == 3_990_000
    assert billing.balanceOf(alice) == 10 * unit - vod["price"]


def test_a_rental_is_escrowed_in_the_titles_split_after_the_dispute_window(
    billing, registered, rent, vod, title, splits, alice, unit
):
    a = registered(alice, 10 * unit)

    tx, _ = rent([(a, title)])

    day = release_day(tx.timestamp + DISPUTE_WINDOW)
    assert vod["splitId"] == splits["basic"]
    assert billing.escrowOf(splits["basic"], day) == vod["price"]


def test_rental_charged_reports_the_charge_and_its_expiry(registered, rent, vod, title, splits, alice, unit):
    a = registered(alice, 10 * unit)
    first_play = now() - 600

    tx, batch = rent([(a, title, first_play)])

    assert tx.events["RentalCharged"] == {
        "batchId": batch.batch_id,
        "customer": alice,
        "titleId": title,
        "price": vod["price"],
        "expiresAt": first_play + RENTAL_SECONDS,
        "splitId": splits["basic"],
        "releaseDay": release_day(tx.timestamp + DISPUTE_WINDOW),
    }


def test_rental_of_shows_the_pending_charge(billing, registered, rent, vod, title, alice, unit):
    a = registered(alice, 10 * unit)
    first_play = now() - 600

    tx, _ = rent([(a, title, first_play)])

    assert tuple(billing.rentalOf(alice, title)) == (
        vod["price"],
        CHARGE_PENDING,
        first_play + RENTAL_SECONDS,
        release_day(tx.timestamp + DISPUTE_WINDOW),
    )


def test_settle_rentals_returns_the_total_charged(
    billing, registered, rental_batch, oracle_keys, vod, title, operator, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = rental_batch([(a, title)])
    signatures = sign_batch(batch, web3.eth.chain_id, billing.address, oracle_keys[:2])

    charged = billing.settleRentals.call(batch.header(), batch.packed(), signatures, {"from": operator})

    assert charged == vod["price"]


def test_a_renter_is_entitled_to_the_titles_package_until_expiry(billing, registered, rent, vod, title, alice, unit):
    a = registered(alice, 10 * unit)
    first_play = now() - 60
    rent([(a, title, first_play)])

    travel_to(first_play + RENTAL_SECONDS - 120)

    assert billing.isEntitled(alice, vod["packageId"])


def test_a_renter_is_not_entitled_once_the_rental_expired(billing, registered, rent, vod, title, alice, unit):
    a = registered(alice, 10 * unit)
    first_play = now() - 60
    rent([(a, title, first_play)])

    travel_to(first_play + RENTAL_SECONDS)

    assert not billing.isEntitled(alice, vod["packageId"])


def test_a_customer_who_did_not_rent_is_not_entitled(billing, registered, rent, vod, title, alice, bob, unit):
    a = registered(alice, 10 * unit)
    registered(bob, 10 * unit)
    rent([(a, title)])

    assert not billing.isEntitled(bob, vod["packageId"])


def test_renting_a_title_again_while_the_rental_is_active_is_declined(
    billing, registered, rent, vod, title, alice, unit
):
    a = registered(alice, 10 * unit)
    rent([(a, title)])

    tx, batch = rent([(a, title)])

    assert dict(tx.events["UsageDeclined"]) == {
        "batchId": batch.batch_id,
        "lineIndex": 0,
        "customerId": a,
        "amount": vod["price"],
        "reason": DECLINED_RENTED,
    }
    assert "RentalCharged" not in tx.events
    assert billing.balanceOf(alice) == 10 * unit - vod["price"]


def test_renting_a_title_again_after_the_rental_expired_is_charged(billing, registered, rent, vod, title, alice, unit):
    a = registered(alice, 10 * unit)
    rent([(a, title)])
    travel_to(now() + RENTAL_SECONDS)

    tx, _ = rent([(a, title)])

    assert tx.events["RentalCharged"]["price"] == vod["price"]
    assert billing.balanceOf(alice) == 10 * unit - 2 * vod["price"]


def test_a_rental_of_an_inactive_title_is_declined(billing, registered, rent, operator, title, alice, unit):
    a = registered(alice, 10 * unit)
    billing.setVodTitleActive(title, False, {"from": operator})

    tx, batch = rent([(a, title)])

    assert dict(tx.events["UsageDeclined"]) == {
        "batchId": batch.batch_id,
        "lineIndex": 0,
        "customerId": a,
        "amount": 0,
        "reason": DECLINED_TITLE,
    }
    assert billing.balanceOf(alice) == 10 * unit


def test_a_rental_of_an_unknown_title_is_declined(billing, registered, rent, alice, unit):
    a = registered(alice, 10 * unit)

    tx, _ = rent([(a, 99)])

    assert (tx.events["UsageDeclined"]["customerId"], tx.events["UsageDeclined"]["reason"]) == (a, DECLINED_TITLE)
    assert billing.balanceOf(alice) == 10 * unit


def test_a_rental_beyond_the_balance_is_declined(billing, registered, rent, vod, title, alice, unit):
    a = registered(alice, 3 * unit)

    tx, batch = rent([(a, title)])

    assert dict(tx.events["UsageDeclined"]) == {
        "batchId": batch.batch_id,
        "lineIndex": 0,
        "customerId": a,
        "amount": vod["price"],
        "reason": DECLINED_BALANCE,
    }
    assert billing.balanceOf(alice) == 3 * unit
    assert billing.rentalOf(alice, title)["status"] == 0


def test_a_rental_for_an_unregistered_customer_id_is_declined(billing, rent, vod, title):
    unknown = billing.customerCount() + 3

    tx, _ = rent([(unknown, title)])

    assert (tx.events["UsageDeclined"]["customerId"], tx.events["UsageDeclined"]["reason"]) == (
        unknown,
        DECLINED_BALANCE,
    )
    assert billing.customerCount() == unknown - 3


def test_the_rest_of_a_rental_batch_settles_when_one_rental_is_declined(
    billing, registered, rent, vod, title, alice, bob, unit
):
    a = registered(alice, unit)
    b = registered(bob, 10 * unit)

    tx, _ = rent([(a, title), (b, title)])

    assert [e["lineIndex"] for e in tx.events["UsageDeclined"]] == [0]
    assert tx.events["RentalCharged"]["customer"] == bob
    assert billing.balanceOf(bob) == 10 * unit - vod["price"]


def test_replaying_a_rental_batch_reverts_with_batch_replayed(
    billing, registered, rent, submit_rentals, vod, title, alice, unit
):
    a = registered(alice, 10 * unit)
    _, batch = rent([(a, title)])

    with reverts("Billing_BatchReplayed", batch.batch_id):
        submit_rentals(batch)
    assert billing.balanceOf(alice) == 10 * unit - vod["price"]


def test_a_rental_batch_cannot_reuse_a_usage_batch_id(
    registered, settle, rental_batch, submit_rentals, title, alice, unit
):
    a = registered(alice, 10 * unit)
    _, usage = settle([(a, 30)])

    with reverts("Billing_BatchReplayed", usage.batch_id):
        submit_rentals(rental_batch([(a, title)], batch_id=usage.batch_id))


def test_a_rental_batch_past_its_deadline_reverts_with_batch_expired(
    registered, rental_batch, submit_rentals, title, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = rental_batch([(a, title)], deadline=now() - 1)

    with reverts("Billing_BatchExpired", batch.batch_id, batch.deadline):
        submit_rentals(batch)


def test_a_rental_batch_signed_by_a_non_signer_reverts_with_unknown_signer(
    registered, rental_batch, submit_rentals, oracle_keys, title, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = rental_batch([(a, title)])
    stranger = web3.eth.account.from_key(STRANGER_KEY).address

    with reverts("Billing_UnknownSigner", stranger):
        submit_rentals(batch, keys=[oracle_keys[0], STRANGER_KEY])


def test_a_rental_batch_with_one_signature_reverts_with_not_enough_signatures(
    registered, rental_batch, submit_rentals, oracle_keys, title, alice, unit
):
    a = registered(alice, 10 * unit)

    with reverts("Billing_NotEnoughSignatures", 1, 2):
        submit_rentals(rental_batch([(a, title)]), keys=oracle_keys[:1])


def test_rentals_not_packed_in_13_byte_records_revert_with_malformed_usage(
    registered, rental_batch, submit_rentals, title, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = rental_batch([(a, title)])

    with reverts("Billing_MalformedUsage", "rentals"):
        submit_rentals(batch, packed=batch.packed() + b"\x00")


def test_settling_rentals_while_paused_reverts_with_enforced_pause(
    billing, registered, rental_batch, submit_rentals, admin, title, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.pause({"from": admin})

    with reverts("EnforcedPause"):
        submit_rentals(rental_batch([(a, title)]))
