"""Disputes of metered usage lines, pay-per-view purchases and rentals, and the arbiter's decisions.

A dispute takes the charge out of its escrow bucket (so no release pays it out) and freezes it until the
arbiter refunds it to the customer's balance or credits it to the charge's split. A usage dispute restates
the batch's settlement, packed lines and declined indices, which the contract checks against the batch's
commitment.
"""

from __future__ import annotations

import pytest
from brownie import accounts, web3
from eth_abi import encode as abi_encode
from eth_utils import keccak

from streamledger.oracle import RentalBatchData, RentalReport, sign_batch
from tests.conftest import DAY, now, reverts, time_travel

ARBITER_ROLE = bytes(web3.keccak(text="ARBITER_ROLE"))
DISPUTE_WINDOW = 3 * DAY
MAX_BALANCE = 2**80 - 1
KIND_USAGE, KIND_PPV, KIND_RENTAL = 1, 2, 3
DISPUTE_OPEN, DISPUTE_REFUNDED, DISPUTE_UPHELD = 1, 2, 3
CHARGE_PENDING, CHARGE_DISPUTED, CHARGE_REFUNDED, CHARGE_UPHELD = 1, 2, 3, 4

_batch_ids = iter(range(3 * 10**6, 10**9))


def release_day(timestamp: int) -> int:
    return -(-timestamp // DAY)


def travel_to(timestamp: int) -> None:
    """Moves the chain to just after `timestamp`."""
    time_travel(max(timestamp - now(), 0) + 1)


def hexstr(value: bytes) -> str:
    """0x-prefixed hex, as brownie compares bytes32 values from events and calls."""
    return "0x" + value.hex()


def usage_key(batch_id: int, line_index: int) -> bytes:
    return keccak(abi_encode(["uint8", "uint64", "uint32"], [KIND_USAGE, batch_id, line_index]))


def ppv_key(event_id: int, customer_id: int, purchase_number: int = 1) -> bytes:
    return keccak(
        abi_encode(["uint8", "uint32", "uint32", "uint64"], [KIND_PPV, event_id, customer_id, purchase_number])
    )


def rental_key(batch_id: int, customer_id: int, title_id: int) -> bytes:
    return keccak(abi_encode(["uint8", "uint64", "uint32", "uint32"], [KIND_RENTAL, batch_id, customer_id, title_id]))


def restated(tx):
    """What a customer restates from a settlement's events: (settlement, batchId, lines, declined indices)."""
    settled = tx.events["UsageSettled"]
    declined = [e["lineIndex"] for e in tx.events["UsageDeclined"]] if "UsageDeclined" in tx.events else []
    return settled["settlement"], settled["batchId"], settled["lines"], declined


# ----- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits(deployment):
    return deployment.splits


@pytest.fixture(scope="module")
def event_id(deployment):
    return deployment.ppv_events["title_fight"]


@pytest.fixture(scope="module")
def title(deployment):
    return deployment.vod_titles["the_long_night"]


@pytest.fixture(scope="module")
def unit_meter(billing, operator, splits):
    """A meter charging 1 token unit per unit on the basic split (30/70): amounts the split cannot divide."""
    return billing.addMeter("token units", 1, 1, splits["basic"], {"from": operator}).events["MeterAdded"]["meterId"]


@pytest.fixture
def dispute_line(billing):
    """dispute_line(tx, line_index, customer, **overrides): disputeUsage restating the batch settled by `tx`."""

    def _dispute(tx, line_index, customer, settlement=None, lines=None, declined=None):
        s, batch_id, packed, declined_indices = restated(tx)
        return billing.disputeUsage(
            settlement if settlement is not None else s,
            batch_id,
            line_index,
            lines if lines is not None else packed,
            declined if declined is not None else declined_indices,
            {"from": customer},
        )

    return _dispute


@pytest.fixture
def usage(registered, settle, alice, bob, unit):
    """alice (line 0: 30 minutes = 0.3 token) and bob (line 1: 45 minutes) charged in one batch; returns tx."""
    a = registered(alice, 10 * unit)
    b = registered(bob, 10 * unit)
    tx, _ = settle([(a, 30), (b, 45)])
    return tx


@pytest.fixture
def declined_usage(registered, settle, alice, bob, unit):
    """A batch whose line 1 (bob, 2 tokens on a 1-token balance) is declined: alice's lines 0 and 2 charged."""
    a = registered(alice, 10 * unit)
    b = registered(bob, unit)
    tx, _ = settle([(a, 30), (b, 200), (a, 20)])
    assert [e["lineIndex"] for e in tx.events["UsageDeclined"]] == [1]
    return tx


@pytest.fixture
def bought(billing, fund, event_id, alice, unit):
    """alice deposits 100 tokens and buys the title fight (15 tokens)."""
    fund(alice, 100 * unit)
    return billing.buyPpv(event_id, {"from": alice})


@pytest.fixture
def rent(billing, oracle_keys, operator):
    """rent([(customer_id, title_id)]): the oracle reports first plays a minute ago; returns (tx, batch)."""

    def _rent(rentals):
        batch = RentalBatchData(
            batch_id=next(_batch_ids),
            deadline=now() + 3600,
            rentals=[RentalReport(cid, tid, now() - 60) for cid, tid in rentals],
        )
        signatures = sign_batch(batch, web3.eth.chain_id, billing.address, oracle_keys[:2])
        return billing.settleRentals(batch.header(), batch.packed(), signatures, {"from": operator}), batch

    return _rent


@pytest.fixture
def rented(registered, rent, title, alice, unit):
    """alice (10 tokens) rents the long night; returns (tx, batch, customer id)."""
    a = registered(alice, 10 * unit)
    tx, batch = rent([(a, title)])
    return tx, batch, a


# ----- opening a usage dispute ---------------------------------------------------------------------------------


def test_dispute_usage_emits_dispute_opened(usage, dispute_line, splits, alice, unit):
    settlement, batch_id, _, _ = restated(usage)

    tx = dispute_line(usage, 0, alice)

    assert tx.events["DisputeOpened"] == {
        "disputeId": 1,
        "customer": alice,
        "kind": KIND_USAGE,
        "ref": hexstr(usage_key(batch_id, 0)),
        "amount": 30 * (unit // 100),
        "splitId": splits["basic"],
        "releaseDay": settlement["releaseDay"],
    }


def test_dispute_usage_takes_the_line_out_of_the_escrow_bucket(billing, usage, dispute_line, splits, alice, unit):
    day = restated(usage)[0]["releaseDay"]
    assert billing.escrowOf(splits["basic"], day) == 75 * (unit // 100)

    dispute_line(usage, 0, alice)

    assert billing.escrowOf(splits["basic"], day) == 45 * (unit // 100)


def test_dispute_usage_leaves_the_customers_balance_alone(billing, usage, dispute_line, alice, unit):
    dispute_line(usage, 0, alice)

    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)


def test_dispute_of_shows_the_open_usage_dispute(billing, usage, dispute_line, splits, alice, unit):
    batch_id = restated(usage)[1]

    dispute_line(usage, 0, alice)

    assert tuple(billing.disputeOf(1)) == (
        alice,
        KIND_USAGE,
        DISPUTE_OPEN,
        30 * (unit // 100),
        splits["basic"],
        0,
        hexstr(usage_key(batch_id, 0)),
    )
    assert billing.disputeCount() == 1


def test_dispute_id_of_finds_the_dispute_by_its_charge_key(billing, usage, dispute_line, alice):
    batch_id = restated(usage)[1]

    dispute_line(usage, 0, alice)

    assert billing.disputeIdOf(usage_key(batch_id, 0)) == 1
    assert billing.disputeIdOf(usage_key(batch_id, 1)) == 0


def test_dispute_usage_returns_the_dispute_id(billing, usage, alice):
    settlement, batch_id, lines, declined = restated(usage)

    assert billing.disputeUsage.call(settlement, batch_id, 0, lines, declined, {"from": alice}) == 1


def test_a_charged_line_of_a_batch_with_declined_lines_can_be_disputed(
    billing, declined_usage, dispute_line, alice, unit
):
    batch_id = restated(declined_usage)[1]

    tx = dispute_line(declined_usage, 2, alice)

    assert tx.events["DisputeOpened"]["amount"] == 20 * (unit // 100)
    assert billing.disputeIdOf(usage_key(batch_id, 2)) == 1


def test_a_declined_line_reverts_with_nothing_to_dispute(declined_usage, dispute_line, bob):
    with reverts("Billing_NothingToDispute"):
        dispute_line(declined_usage, 1, bob)


def test_a_wrong_settlement_reverts_with_batch_mismatch(usage, dispute_line, alice):
    settlement, batch_id, _, _ = restated(usage)
    cheaper = (settlement[0], settlement[1] // 2, settlement[2], settlement[3], settlement[4])

    with reverts("Billing_BatchMismatch", batch_id):
        dispute_line(usage, 0, alice, settlement=cheaper)


def test_wrong_lines_revert_with_batch_mismatch(usage, dispute_line, alice):
    _, batch_id, lines, _ = restated(usage)
    altered = bytearray(bytes.fromhex(str(lines)[2:]))
    altered[7] += 1  # alice's quantity, one minute more

    with reverts("Billing_BatchMismatch", batch_id):
        dispute_line(usage, 0, alice, lines=bytes(altered))


def test_wrong_declined_indices_revert_with_batch_mismatch(usage, dispute_line, alice):
    batch_id = restated(usage)[1]

    with reverts("Billing_BatchMismatch", batch_id):
        dispute_line(usage, 0, alice, declined=[1])


def test_an_unsettled_batch_id_reverts_with_batch_mismatch(billing, usage, alice):
    settlement, _, lines, declined = restated(usage)

    with reverts("Billing_BatchMismatch", 999_999):
        billing.disputeUsage(settlement, 999_999, 0, lines, declined, {"from": alice})


def test_disputing_someone_elses_line_reverts_with_not_your_charge(usage, dispute_line, bob):
    with reverts("Billing_NotYourCharge", bob):
        dispute_line(usage, 0, bob)


def test_disputing_as_an_unregistered_caller_reverts_with_not_your_charge(usage, dispute_line, rando):
    with reverts("Billing_NotYourCharge", rando):
        dispute_line(usage, 0, rando)


def test_a_zero_quantity_line_reverts_with_nothing_to_dispute(registered, settle, dispute_line, alice, unit):
    a = registered(alice, 10 * unit)
    tx, _ = settle([(a, 0), (a, 10)])

    with reverts("Billing_NothingToDispute"):
        dispute_line(tx, 0, alice)


def test_a_line_index_beyond_the_batch_reverts_with_nothing_to_dispute(usage, dispute_line, alice):
    with reverts("Billing_NothingToDispute"):
        dispute_line(usage, 2, alice)


def test_disputing_the_same_line_twice_reverts_with_already_disputed(usage, dispute_line, alice):
    batch_id = restated(usage)[1]
    dispute_line(usage, 0, alice)

    with reverts("Billing_AlreadyDisputed", usage_key(batch_id, 0)):
        dispute_line(usage, 0, alice)


def test_disputing_just_before_the_window_closes_is_accepted(usage, dispute_line, alice):
    closes = restated(usage)[0]["releaseDay"] * DAY
    travel_to(closes - 120)

    tx = dispute_line(usage, 0, alice)

    assert tx.events["DisputeOpened"]["disputeId"] == 1


def test_disputing_once_the_window_closed_reverts_with_dispute_window_closed(usage, dispute_line, alice):
    closes = restated(usage)[0]["releaseDay"] * DAY
    travel_to(closes)

    with reverts("Billing_DisputeWindowClosed", closes):
        dispute_line(usage, 0, alice)


def test_a_dispute_after_a_meter_price_change_freezes_the_price_the_line_was_charged(
    billing, usage, dispute_line, operator, deployment, alice, unit
):
    billing.setMeterPrice(deployment.meters["premium_minutes"], unit, {"from": operator})

    tx = dispute_line(usage, 0, alice)

    assert tx.events["DisputeOpened"]["amount"] == 30 * (unit // 100)


def test_customers_can_dispute_while_paused(billing, usage, dispute_line, admin, alice):
    billing.pause({"from": admin})

    tx = dispute_line(usage, 0, alice)

    assert tx.events["DisputeOpened"]["customer"] == alice


# ----- escrow release around a dispute -------------------------------------------------------------------------


def test_release_after_the_window_pays_everything_but_the_disputed_line(
    billing, usage, dispute_line, splits, payouts, alice, rando, unit
):
    day = restated(usage)[0]["releaseDay"]
    dispute_line(usage, 0, alice)
    travel_to(day * DAY)

    tx = billing.releaseEscrow(splits["basic"], day, {"from": rando})

    undisputed = 45 * (unit // 100)
    assert tx.events["EscrowReleased"] == {"splitId": splits["basic"], "day": day, "amount": undisputed}
    assert billing.earningsOf(payouts["newsnet"]) == undisputed * 7000 // 10_000
    assert billing.earningsOf(payouts["platform"]) == undisputed - undisputed * 7000 // 10_000


def test_a_disputed_amount_stays_frozen_through_the_release(billing, usage, dispute_line, splits, alice, rando, unit):
    day = restated(usage)[0]["releaseDay"]
    dispute_line(usage, 0, alice)
    travel_to(day * DAY)

    billing.releaseEscrow(splits["basic"], day, {"from": rando})

    assert billing.escrowOf(splits["basic"], day) == 0
    assert billing.disputeOf(1)["status"] == DISPUTE_OPEN
    assert billing.disputeOf(1)["amount"] == 30 * (unit // 100)
    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)


# ----- resolving -----------------------------------------------------------------------------------------------


@pytest.fixture
def disputed(usage, dispute_line, alice):
    """alice's 0.3-token usage line under dispute 1."""
    dispute_line(usage, 0, alice)
    return 1


def test_a_refund_returns_the_amount_to_the_customers_balance(billing, disputed, arbiter, alice, unit):
    tx = billing.resolveDispute(disputed, True, {"from": arbiter})

    assert tx.events["DisputeResolved"] == {"disputeId": disputed, "refunded": True, "amount": 30 * (unit // 100)}
    assert billing.balanceOf(alice) == 10 * unit
    assert billing.disputeOf(disputed)["status"] == DISPUTE_REFUNDED


def test_a_refund_credits_no_provider(billing, disputed, arbiter, payouts):
    tx = billing.resolveDispute(disputed, True, {"from": arbiter})

    assert "EarningsCredited" not in tx.events
    assert all(billing.earningsOf(p) == 0 for p in payouts.values())


def test_a_refund_after_the_escrow_was_released_still_returns_the_amount(
    billing, usage, disputed, splits, arbiter, alice, unit
):
    day = restated(usage)[0]["releaseDay"]
    travel_to(day * DAY)
    billing.releaseEscrow(splits["basic"], day, {"from": alice})

    billing.resolveDispute(disputed, True, {"from": arbiter})

    assert billing.balanceOf(alice) == 10 * unit


def test_an_upheld_dispute_credits_the_splits_providers_with_the_remainder_to_the_first(
    billing, registered, settle, unit_meter, dispute_line, providers_and_payouts, arbiter, alice, unit
):
    providers, payouts = providers_and_payouts
    a = registered(alice, 10 * unit)
    tx, _ = settle([(a, 12_345)], meter=unit_meter)
    dispute_line(tx, 0, alice)

    resolved = billing.resolveDispute(1, False, {"from": arbiter})

    newsnet = 12_345 * 7000 // 10_000  # 8641
    platform = 12_345 - newsnet  # 3704: the 0.5 remainder goes to the first entry
    assert platform == 12_345 * 3000 // 10_000 + 1
    assert resolved.events["DisputeResolved"] == {"disputeId": 1, "refunded": False, "amount": 12_345}
    credited = sorted((e["providerId"], e["payee"], e["amount"]) for e in resolved.events["EarningsCredited"])
    assert credited == sorted(
        [(providers["platform"], payouts["platform"], platform), (providers["newsnet"], payouts["newsnet"], newsnet)]
    )
    assert billing.earningsOf(payouts["platform"]) == platform
    assert billing.earningsOf(payouts["newsnet"]) == newsnet
    assert billing.balanceOf(alice) == 10 * unit - 12_345
    assert billing.disputeOf(1)["status"] == DISPUTE_UPHELD


def test_a_refund_that_would_overflow_the_balance_reverts_with_balance_overflow(
    billing, disputed, fund, plans, arbiter, alice, unit
):
    fund(alice, 10 * unit)
    billing.subscribe(plans["basic"], 10 * unit, {"from": alice})
    fund(alice, MAX_BALANCE - billing.balanceOf(alice))  # topped up to the per-customer maximum meanwhile
    before = billing.accountOf(alice)

    with reverts("Billing_BalanceOverflow", alice, MAX_BALANCE + 30 * (unit // 100), MAX_BALANCE):
        billing.resolveDispute(disputed, True, {"from": arbiter})
    assert billing.balanceOf(alice) == MAX_BALANCE
    assert billing.accountOf(alice)["paidThrough"] == before["paidThrough"]


@pytest.fixture(scope="module")
def providers_and_payouts(deployment, payouts):
    return deployment.providers, payouts


def test_resolving_twice_reverts_with_dispute_already_resolved(billing, disputed, arbiter):
    billing.resolveDispute(disputed, True, {"from": arbiter})

    with reverts("Billing_DisputeAlreadyResolved", disputed):
        billing.resolveDispute(disputed, False, {"from": arbiter})


def test_resolving_an_unknown_dispute_reverts_with_unknown_dispute(billing, arbiter):
    with reverts("Billing_UnknownDispute", 99):
        billing.resolveDispute(99, True, {"from": arbiter})


def test_resolving_by_a_non_arbiter_reverts_with_access_control(billing, disputed, operator):
    with reverts("AccessControlUnauthorizedAccount", operator, ARBITER_ROLE):
        billing.resolveDispute(disputed, True, {"from": operator})


def test_resolving_by_the_disputing_customer_reverts_with_access_control(billing, disputed, alice):
    with reverts("AccessControlUnauthorizedAccount", alice, ARBITER_ROLE):
        billing.resolveDispute(disputed, True, {"from": alice})


# ----- pay-per-view disputes -----------------------------------------------------------------------------------


def test_dispute_ppv_emits_dispute_opened(billing, bought, event_id, splits, alice, unit):
    purchase = bought.events["PpvPurchased"]

    tx = billing.disputePpv(event_id, {"from": alice})

    assert tx.events["DisputeOpened"] == {
        "disputeId": 1,
        "customer": alice,
        "kind": KIND_PPV,
        "ref": hexstr(ppv_key(event_id, billing.customerIdOf(alice))),
        "amount": 15 * unit,
        "splitId": splits["sports"],
        "releaseDay": purchase["releaseDay"],
    }


def test_dispute_ppv_takes_the_price_out_of_escrow(billing, bought, event_id, splits, alice):
    day = bought.events["PpvPurchased"]["releaseDay"]

    billing.disputePpv(event_id, {"from": alice})

    assert billing.escrowOf(splits["sports"], day) == 0
    assert billing.ppvPurchaseOf(event_id, alice)["status"] == CHARGE_DISPUTED


def test_a_refunded_ppv_dispute_returns_the_price_and_revokes_the_entitlement(
    billing, bought, event_id, arbiter, alice, unit
):
    ev = billing.ppvEventOf(event_id)
    billing.disputePpv(event_id, {"from": alice})

    billing.resolveDispute(1, True, {"from": arbiter})

    travel_to(ev["viewStart"] + 60)
    assert not billing.isEntitled(alice, ev["packageId"])
    assert billing.balanceOf(alice) == 100 * unit
    assert billing.ppvPurchaseOf(event_id, alice)["status"] == CHARGE_REFUNDED


def test_an_upheld_ppv_dispute_keeps_the_entitlement(billing, bought, event_id, payouts, arbiter, alice, unit):
    ev = billing.ppvEventOf(event_id)
    billing.disputePpv(event_id, {"from": alice})

    billing.resolveDispute(1, False, {"from": arbiter})

    travel_to(ev["viewStart"] + 60)
    assert billing.isEntitled(alice, ev["packageId"])
    assert billing.ppvPurchaseOf(event_id, alice)["status"] == CHARGE_UPHELD
    assert billing.earningsOf(payouts["sportsco"]) == 12 * unit
    assert billing.earningsOf(payouts["platform"]) == 3 * unit


def test_a_ppv_under_dispute_still_entitles_during_the_view_window(billing, bought, event_id, alice):
    ev = billing.ppvEventOf(event_id)
    billing.disputePpv(event_id, {"from": alice})

    travel_to(ev["viewStart"] + 60)

    assert billing.isEntitled(alice, ev["packageId"])


def test_disputing_a_ppv_bought_by_someone_else_reverts_with_nothing_to_dispute(
    billing, bought, registered, event_id, bob, unit
):
    registered(bob, unit)

    with reverts("Billing_NothingToDispute"):
        billing.disputePpv(event_id, {"from": bob})


def test_disputing_a_ppv_never_bought_reverts_with_nothing_to_dispute(billing, registered, event_id, alice, unit):
    registered(alice, unit)

    with reverts("Billing_NothingToDispute"):
        billing.disputePpv(event_id, {"from": alice})


def test_disputing_a_ppv_as_an_unregistered_caller_reverts_with_nothing_to_dispute(billing, bought, event_id, rando):
    with reverts("Billing_NothingToDispute"):
        billing.disputePpv(event_id, {"from": rando})


def test_disputing_a_ppv_twice_reverts_with_nothing_to_dispute(billing, bought, event_id, alice):
    billing.disputePpv(event_id, {"from": alice})

    with reverts("Billing_NothingToDispute"):
        billing.disputePpv(event_id, {"from": alice})


def test_disputing_a_ppv_once_its_window_closed_reverts_with_dispute_window_closed(billing, bought, event_id, alice):
    closes = bought.events["PpvPurchased"]["releaseDay"] * DAY
    travel_to(closes)

    with reverts("Billing_DisputeWindowClosed", closes):
        billing.disputePpv(event_id, {"from": alice})


# ----- rental disputes ---------------------------------------------------------------------------------------


def test_dispute_rental_emits_dispute_opened(billing, rented, title, splits, alice):
    tx, batch, a = rented
    charged = tx.events["RentalCharged"]

    opened = billing.disputeRental(title, {"from": alice})

    assert opened.events["DisputeOpened"] == {
        "disputeId": 1,
        "customer": alice,
        "kind": KIND_RENTAL,
        "ref": hexstr(rental_key(batch.batch_id, a, title)),
        "amount": charged["price"],
        "splitId": splits["basic"],
        "releaseDay": charged["releaseDay"],
    }
    assert billing.escrowOf(splits["basic"], charged["releaseDay"]) == 0


def test_a_refunded_rental_dispute_returns_the_price_and_revokes_the_entitlement(
    billing, rented, title, arbiter, alice, unit
):
    package = billing.vodTitleOf(title)["packageId"]
    billing.disputeRental(title, {"from": alice})

    billing.resolveDispute(1, True, {"from": arbiter})

    assert not billing.isEntitled(alice, package)
    assert billing.balanceOf(alice) == 10 * unit
    assert billing.rentalOf(alice, title)["status"] == CHARGE_REFUNDED


def test_an_upheld_rental_dispute_keeps_the_entitlement(billing, rented, title, arbiter, alice):
    package = billing.vodTitleOf(title)["packageId"]
    billing.disputeRental(title, {"from": alice})

    billing.resolveDispute(1, False, {"from": arbiter})

    assert billing.isEntitled(alice, package)
    assert billing.rentalOf(alice, title)["status"] == CHARGE_UPHELD


def test_a_rental_under_dispute_cannot_be_rented_again(billing, rented, rent, title, alice):
    _, _, a = rented
    billing.disputeRental(title, {"from": alice})

    tx, _ = rent([(a, title)])

    assert tx.events["UsageDeclined"]["reason"] == 4


def test_disputing_a_rental_never_made_reverts_with_nothing_to_dispute(billing, rented, registered, title, bob, unit):
    registered(bob, unit)

    with reverts("Billing_NothingToDispute"):
        billing.disputeRental(title, {"from": bob})


def test_disputing_a_rental_once_its_window_closed_reverts_with_dispute_window_closed(billing, rented, title, alice):
    closes = rented[0].events["RentalCharged"]["releaseDay"] * DAY
    travel_to(closes)

    with reverts("Billing_DisputeWindowClosed", closes):
        billing.disputeRental(title, {"from": alice})


# ----- solvency ----------------------------------------------------------------------------------------------


def owed(billing, buckets):
    """Everything the contract owes: balances, escrow buckets, open disputes and unwithdrawn earnings."""
    balances = sum(billing.balanceOf(a) for a in accounts)
    escrow = sum(billing.escrowOf(split, day) for split, day in buckets)
    disputes = sum(
        billing.disputeOf(i)["amount"]
        for i in range(1, billing.disputeCount() + 1)
        if billing.disputeOf(i)["status"] == DISPUTE_OPEN
    )
    earnings = sum(billing.earningsOf(a) for a in accounts)
    return balances + escrow + disputes + earnings


def test_the_contract_holds_exactly_what_it_owes_after_a_mixed_scenario(
    billing,
    token,
    registered,
    fund,
    settle,
    rent,
    dispute_line,
    event_id,
    title,
    plans,
    splits,
    payouts,
    arbiter,
    alice,
    bob,
    carol,
    unit,
):
    buckets = set()
    a = registered(alice, 100 * unit)
    b = registered(bob, 50 * unit)
    c = registered(carol, 3 * unit)
    subscribed = billing.subscribe(plans["basic"], 10 * unit, {"from": alice}).events["Subscribed"]
    buckets.add((subscribed["splitId"], subscribed["releaseDay"]))

    first, _ = settle([(a, 30), (b, 45), (c, 500)])  # carol's line is declined
    second, _ = settle([(a, 70), (b, 5)])
    ppv = billing.buyPpv(event_id, {"from": bob}).events["PpvPurchased"]
    rental_tx, _ = rent([(a, title), (c, title)])  # carol cannot pay the rental
    for tx in (first, second):
        settlement = tx.events["UsageSettled"]["settlement"]
        buckets.add((settlement["splitId"], settlement["releaseDay"]))
    buckets.add((ppv["splitId"], ppv["releaseDay"]))
    charged = rental_tx.events["RentalCharged"]
    buckets.add((charged["splitId"], charged["releaseDay"]))

    dispute_line(second, 0, alice)  # stays open
    billing.disputePpv(event_id, {"from": bob})
    billing.resolveDispute(2, True, {"from": arbiter})
    billing.disputeRental(title, {"from": alice})
    billing.resolveDispute(3, False, {"from": arbiter})
    billing.withdraw(5 * unit, {"from": alice})

    day = second.events["UsageSettled"]["settlement"]["releaseDay"]
    travel_to(day * DAY)
    billing.releaseEscrow(splits["basic"], day, {"from": carol})
    billing.withdrawEarnings({"from": payouts["newsnet"]})

    assert billing.disputeOf(1)["status"] == DISPUTE_OPEN
    assert token.balanceOf(billing) == owed(billing, buckets)


def test_a_ppv_bought_again_after_a_refund_can_be_disputed_again(billing, bought, event_id, alice, arbiter, fund, unit):
    first = billing.disputePpv(event_id, {"from": alice}).events["DisputeOpened"]["disputeId"]
    billing.resolveDispute(first, True, {"from": arbiter})
    billing.buyPpv(event_id, {"from": alice})

    tx = billing.disputePpv(event_id, {"from": alice})

    assert tx.events["DisputeOpened"]["ref"] == hexstr(ppv_key(event_id, billing.customerIdOf(alice), 2))
    assert tx.events["DisputeOpened"]["disputeId"] == first + 1
