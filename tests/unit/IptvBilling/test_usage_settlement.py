"""Signed usage batches: what settleUsage charges, what it reports, which batches and signatures it refuses,
and the oracle signer set behind it (setSigners).

A usage line of q units costs ceil(q * unitPrice / unitScale); a line the customer cannot pay is declined
(UsageDeclined) without failing the batch. A batch needs `threshold` signatures of current signers over its
EIP-712 digest in the domain ("StreamLedger Billing", "1", chain id, billing address), sorted by signer.
"""

from __future__ import annotations

import pytest
from brownie import web3
from eth_account import Account as EthAccount
from eth_utils import keccak
from hexbytes import HexBytes

from streamledger.oracle import (
    UsageBatchData,
    domain_separator,
    ordered_signatures,
    recover,
    sign_digest,
)
from tests.conftest import DAY, deploy, now, reverts

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DEFAULT_ADMIN_ROLE = bytes(32)
DISPUTE_WINDOW = 3 * DAY
DECLINED_BALANCE = 2
STRANGER_KEY = keccak(text="not a StreamLedger oracle")


def release_day(timestamp: int) -> int:
    return -(-timestamp // DAY)


def signer_of(key: bytes) -> str:
    return EthAccount.from_key(key).address


def digest_for(batch: UsageBatchData, chain_id: int, verifying: str, packed: bytes | None = None) -> bytes:
    """The EIP-712 digest of `batch` (with `packed` as its lines when given) in the domain of `verifying`."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, verifying) + batch.struct_hash(packed))


def sign_for(batch, keys, chain_id, verifying, packed=None) -> list[bytes]:
    """Signatures of `keys` over the digest, sorted by signer (as the contract requires)."""
    digest = digest_for(batch, chain_id, verifying, packed)
    return ordered_signatures(digest, [sign_digest(digest, key) for key in keys])


# ----- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meters(deployment):
    return deployment.meters


@pytest.fixture(scope="module")
def splits(deployment):
    return deployment.splits


@pytest.fixture(scope="module")
def chain_id():
    return web3.eth.chain_id


@pytest.fixture(scope="module")
def odd_meter(billing, operator, splits):
    """A meter priced 7 token units per 1000 units on the basic split: most quantities leave a remainder."""
    tx = billing.addMeter("odd units", 7, 1000, splits["basic"], {"from": operator})
    return tx.events["MeterAdded"]["meterId"]


@pytest.fixture(scope="module")
def other_system(operator):
    """A second, independent deployment with the same development oracle keys."""
    return deploy(operators=[operator.address])


@pytest.fixture
def sign(billing, oracle_keys, chain_id):
    """sign(batch, keys=2 oracle keys, packed=None): signatures for this deployment, sorted by signer."""

    def _sign(batch, keys=None, packed=None):
        return sign_for(batch, keys if keys is not None else oracle_keys[:2], chain_id, billing.address, packed)

    return _sign


@pytest.fixture
def submit(billing, sign, operator):
    """submit(batch, signatures=None, lines=None, sender=operator): settleUsage with the batch's own lines and
    two oracle signatures unless told otherwise."""

    def _submit(batch, signatures=None, lines=None, sender=None):
        packed = lines if lines is not None else batch.packed_lines()
        if signatures is None:
            signatures = sign(batch, packed=packed)
        return billing.settleUsage(batch.header(), packed, signatures, {"from": sender or operator})

    return _submit


@pytest.fixture
def account_word(billing):
    """account_word(customer_id): the raw storage word of account `customer_id` (the `_accounts` array is
    found by its length, and checked against a registered customer's balance)."""
    cache = {}

    def _slot():
        if "base" not in cache:
            length = billing.customerCount() + 1
            for slot in range(64):
                if int.from_bytes(web3.eth.get_storage_at(billing.address, slot), "big") == length:
                    base = int.from_bytes(keccak(slot.to_bytes(32, "big")), "big")
                    cache["base"] = base
                    break
        return cache["base"]

    def _word(customer_id):
        slot = _slot() + customer_id
        return int.from_bytes(web3.eth.get_storage_at(billing.address, slot), "big")

    return _word


# ----- charges ------------------------------------------------------------------------------------------


def test_each_line_is_charged_quantity_times_unit_price(billing, registered, settle, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, 10 * unit)

    tx, _ = settle([(a, 30), (b, 45)])

    # premium_minutes: 0.01 token per minute
    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)
    assert billing.balanceOf(bob) == 10 * unit - 45 * (unit // 100)
    assert tx.events["UsageSettled"]["charged"] == 75 * (unit // 100)
    assert "UsageDeclined" not in tx.events


def test_gb_meter_charges_quarter_token_per_thousand_mb(billing, registered, settle, meters, alice, unit):
    a = registered(alice, 10 * unit)
    meter = billing.meterOf(meters["gb_delivered"])
    assert (meter["unitPrice"], meter["unitScale"]) == (unit // 4, 1000)

    tx, _ = settle([(a, 1234)], meter="gb_delivered")

    # 1234 * 250000 / 1000 = 308500 exactly: a quarter token per 1000 MB has no remainder at 6 decimals.
    expected = -(-1234 * (unit // 4) // 1000)
    assert expected == 308_500
    assert tx.events["UsageSettled"]["charged"] == expected
    assert billing.balanceOf(alice) == 10 * unit - expected


def test_a_line_with_a_remainder_is_charged_rounded_up(billing, registered, settle, odd_meter, alice, unit):
    a = registered(alice, 10 * unit)

    tx, _ = settle([(a, 1234)], meter=odd_meter)

    # 1234 * 7 / 1000 = 8.638 -> 9
    assert 1234 * 7 % 1000 != 0
    assert tx.events["UsageSettled"]["charged"] == 9
    assert billing.balanceOf(alice) == 10 * unit - 9


def test_rounding_up_is_per_line_not_per_batch(billing, registered, settle, odd_meter, alice, unit):
    a = registered(alice, 10 * unit)

    tx, _ = settle([(a, 1), (a, 1), (a, 1)], meter=odd_meter)

    # each line costs ceil(7 / 1000) = 1, although the three together are worth 0.021
    assert tx.events["UsageSettled"]["charged"] == 3
    assert billing.balanceOf(alice) == 10 * unit - 3


def test_usage_settled_reports_the_settlement_and_the_batch(billing, registered, settle, meters, splits, alice, unit):
    a = registered(alice, 10 * unit)

    tx, batch = settle([(a, 30), (a, 12)])

    event = tx.events["UsageSettled"]
    assert event["batchId"] == batch.batch_id
    assert event["meterId"] == meters["premium_minutes"]
    assert tuple(event["settlement"]) == (
        meters["premium_minutes"],
        unit // 100,
        1,
        splits["basic"],
        release_day(tx.timestamp + DISPUTE_WINDOW),
    )
    assert event["windowStart"] == batch.window_start
    assert event["windowEnd"] == batch.window_end
    assert HexBytes(event["recordsRoot"]) == HexBytes(batch.records_root())
    assert event["charged"] == 42 * (unit // 100)
    assert HexBytes(event["lines"]) == HexBytes(batch.packed_lines())


def test_settled_total_lands_in_the_meters_escrow_bucket(billing, registered, settle, splits, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, 10 * unit)
    settle([(a, 10)])  # the bucket already holds something

    tx, _ = settle([(a, 30), (b, 45)])

    day = tx.events["UsageSettled"]["settlement"]["releaseDay"]
    before = billing.escrowOf.call(splits["basic"], day, block_identifier=tx.block_number - 1)
    assert before > 0
    assert billing.escrowOf(splits["basic"], day) == before + 75 * (unit // 100)


def test_settle_usage_returns_the_total_charged(billing, registered, usage_batch, sign, operator, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30), (a, 20)])

    charged = billing.settleUsage.call(batch.header(), batch.packed_lines(), sign(batch), {"from": operator})

    assert charged == 50 * (unit // 100)


def test_settled_batch_is_marked_settled(billing, registered, settle, alice, unit):
    a = registered(alice, 10 * unit)

    _, batch = settle([(a, 30)])

    assert billing.batchSettled(batch.batch_id)
    assert HexBytes(billing.batchCommitment(batch.batch_id)) != HexBytes(bytes(32))


def test_a_line_beyond_the_balance_is_declined_with_reason_balance(billing, registered, settle, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, unit)

    tx, batch = settle([(a, 50), (b, 200), (a, 30)])

    declined = tx.events["UsageDeclined"]
    assert len(declined) == 1
    assert dict(declined[0]) == {
        "batchId": batch.batch_id,
        "lineIndex": 1,
        "customerId": b,
        "amount": 2 * unit,
        "reason": DECLINED_BALANCE,
    }
    assert billing.balanceOf(bob) == unit


def test_the_rest_of_a_batch_settles_when_one_line_is_declined(billing, registered, settle, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, unit)

    tx, _ = settle([(a, 50), (b, 200), (a, 30)])

    assert billing.balanceOf(alice) == 10 * unit - 80 * (unit // 100)
    assert tx.events["UsageSettled"]["charged"] == 80 * (unit // 100)


def test_a_line_exactly_equal_to_the_balance_is_charged(billing, registered, settle, alice, unit):
    a = registered(alice, unit)

    tx, _ = settle([(a, 100)])

    assert "UsageDeclined" not in tx.events
    assert billing.balanceOf(alice) == 0


def test_a_later_line_of_the_same_customer_sees_the_balance_left_by_earlier_lines(
    billing, registered, settle, alice, unit
):
    a = registered(alice, unit)

    tx, _ = settle([(a, 60), (a, 60), (a, 40)])

    assert [(e["lineIndex"], e["reason"]) for e in tx.events["UsageDeclined"]] == [(1, DECLINED_BALANCE)]
    assert billing.balanceOf(alice) == 0


def test_a_line_of_an_unregistered_customer_id_is_declined_with_reason_balance(
    billing, registered, settle, alice, unit
):
    a = registered(alice, 10 * unit)
    unknown = billing.customerCount() + 5

    tx, batch = settle([(a, 30), (unknown, 45)])

    assert dict(tx.events["UsageDeclined"][0]) == {
        "batchId": batch.batch_id,
        "lineIndex": 1,
        "customerId": unknown,
        "amount": 45 * (unit // 100),
        "reason": DECLINED_BALANCE,
    }
    assert tx.events["UsageSettled"]["charged"] == 30 * (unit // 100)


def test_a_line_of_an_unregistered_customer_id_writes_nothing(billing, registered, settle, account_word, alice, unit):
    a = registered(alice, 10 * unit)
    assert account_word(a) & (2**80 - 1) == 10 * unit  # the slot finder reads the right array
    count = billing.customerCount()
    unknown = count + 1

    settle([(unknown, 45)])

    assert account_word(unknown) == 0
    assert billing.customerCount() == count
    assert billing.customerAddress(unknown) == "0x0000000000000000000000000000000000000000"


def test_a_line_for_customer_id_zero_is_declined_and_writes_nothing(
    billing, registered, usage_batch, submit, account_word, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30), (a, 45)])
    # UsageLine refuses id 0, so the raw lines are packed by hand: line 1 belongs to customer id 0.
    packed = a.to_bytes(4, "big") + (30).to_bytes(4, "big") + bytes(4) + (45).to_bytes(4, "big")
    word_before = account_word(0)

    tx = submit(batch, lines=packed)

    assert dict(tx.events["UsageDeclined"][0]) == {
        "batchId": batch.batch_id,
        "lineIndex": 1,
        "customerId": 0,
        "amount": 45 * (unit // 100),
        "reason": DECLINED_BALANCE,
    }
    assert account_word(0) == word_before == 0
    assert tx.events["UsageSettled"]["charged"] == 30 * (unit // 100)


def test_a_zero_quantity_line_charges_nothing_and_is_not_declined(billing, registered, settle, alice, bob, unit):
    a = registered(alice, 10 * unit)
    b = registered(bob, 10 * unit)

    tx, _ = settle([(a, 0), (b, 10)])

    assert billing.balanceOf(alice) == 10 * unit
    assert "UsageDeclined" not in tx.events
    assert tx.events["UsageSettled"]["charged"] == 10 * (unit // 100)


def test_a_batch_of_zero_quantities_escrows_nothing(billing, registered, settle, splits, alice, unit):
    a = registered(alice, 10 * unit)

    tx, _ = settle([(a, 0)])

    day = tx.events["UsageSettled"]["settlement"]["releaseDay"]
    assert tx.events["UsageSettled"]["charged"] == 0
    assert billing.escrowOf(splits["basic"], day) == 0


def test_anyone_can_submit_a_signed_batch(billing, registered, settle, alice, rando, unit):
    a = registered(alice, 10 * unit)

    tx, batch = settle([(a, 30)], sender=rando)

    assert tx.events["UsageSettled"]["batchId"] == batch.batch_id
    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)


def test_a_meter_price_change_applies_to_batches_settled_after_it(
    billing, registered, settle, operator, meters, alice, unit
):
    a = registered(alice, 10 * unit)
    before, _ = settle([(a, 30)])

    billing.setMeterPrice(meters["premium_minutes"], unit // 50, {"from": operator})
    after, _ = settle([(a, 30)])

    assert before.events["UsageSettled"]["settlement"]["unitPrice"] == unit // 100
    assert before.events["UsageSettled"]["charged"] == 30 * (unit // 100)
    assert after.events["UsageSettled"]["settlement"]["unitPrice"] == unit // 50
    assert after.events["UsageSettled"]["charged"] == 30 * (unit // 50)
    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100) - 30 * (unit // 50)


# ----- refused batches ------------------------------------------------------------------------------------


def test_replaying_a_batch_id_reverts_with_batch_replayed(billing, registered, usage_batch, submit, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    submit(batch)

    with reverts("Billing_BatchReplayed", batch.batch_id):
        submit(batch)
    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)


def test_a_batch_past_its_deadline_reverts_with_batch_expired(registered, usage_batch, submit, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)], deadline=now() - 1)

    with reverts("Billing_BatchExpired", batch.batch_id, batch.deadline):
        submit(batch)


def test_lines_not_a_multiple_of_eight_bytes_revert_with_malformed_usage(registered, usage_batch, submit, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    packed = batch.packed_lines() + b"\x00"

    with reverts("Billing_MalformedUsage", "lines"):
        submit(batch, lines=packed)


def test_empty_lines_revert_with_malformed_usage(usage_batch, submit, sign):
    batch = usage_batch([])

    with reverts("Billing_MalformedUsage", "lines"):
        submit(batch, lines=b"", signatures=sign(batch, packed=b""))


def test_a_window_ending_before_it_starts_reverts_with_malformed_usage(registered, usage_batch, submit, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)], window=(now(), now() - 1))

    with reverts("Billing_MalformedUsage", "window"):
        submit(batch)


def test_a_window_of_zero_length_is_accepted(billing, registered, usage_batch, submit, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)], window=(now(), now()))

    tx = submit(batch)

    assert tx.events["UsageSettled"]["windowStart"] == tx.events["UsageSettled"]["windowEnd"] == batch.window_start


def test_an_unknown_meter_reverts_with_unknown_meter(registered, usage_batch, submit, alice, unit):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)], meter=99)

    with reverts("Billing_UnknownMeter", 99):
        submit(batch)


def test_an_inactive_meter_reverts_with_meter_inactive(
    billing, registered, usage_batch, submit, operator, meters, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.setMeterActive(meters["premium_minutes"], False, {"from": operator})
    batch = usage_batch([(a, 30)])

    with reverts("Billing_MeterInactive", meters["premium_minutes"]):
        submit(batch)
    assert billing.balanceOf(alice) == 10 * unit


def test_settling_while_paused_reverts_with_enforced_pause(
    billing, registered, usage_batch, submit, admin, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.pause({"from": admin})
    batch = usage_batch([(a, 30)])

    with reverts("EnforcedPause"):
        submit(batch)
    assert billing.balanceOf(alice) == 10 * unit


# ----- signatures -----------------------------------------------------------------------------------------


def test_signatures_for_another_chain_id_revert_with_unknown_signer(
    billing, registered, usage_batch, submit, oracle_keys, chain_id, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    signatures = sign_for(batch, oracle_keys[:2], 1, billing.address)
    assert chain_id != 1
    recovered = recover(digest_for(batch, chain_id, billing.address), signatures[0])

    with reverts("Billing_UnknownSigner", recovered):
        submit(batch, signatures=signatures)
    assert billing.balanceOf(alice) == 10 * unit


def test_a_batch_signed_for_another_deployment_is_refused(
    billing, other_system, registered, usage_batch, submit, oracle_keys, chain_id, alice, unit
):
    other = other_system[1]
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    signatures = sign_for(batch, oracle_keys[:2], chain_id, other.address)
    recovered = recover(digest_for(batch, chain_id, billing.address), signatures[0])

    with reverts("Billing_UnknownSigner", recovered):
        submit(batch, signatures=signatures)


def test_a_batch_signed_for_this_deployment_is_refused_by_another(
    billing, other_system, registered, usage_batch, sign, oracle_keys, chain_id, operator, alice, unit
):
    other = other_system[1]
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    signatures = sign(batch)
    recovered = recover(digest_for(batch, chain_id, other.address), signatures[0])

    with reverts("Billing_UnknownSigner", recovered):
        other.settleUsage(batch.header(), batch.packed_lines(), signatures, {"from": operator})


def test_a_signature_from_a_non_signer_reverts_with_unknown_signer(
    registered, usage_batch, submit, sign, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])

    with reverts("Billing_UnknownSigner", signer_of(STRANGER_KEY)):
        submit(batch, signatures=sign(batch, keys=[oracle_keys[0], STRANGER_KEY]))


def test_one_signature_under_a_threshold_of_two_reverts_with_not_enough_signatures(
    registered, usage_batch, submit, sign, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])

    with reverts("Billing_NotEnoughSignatures", 1, 2):
        submit(batch, signatures=sign(batch, keys=oracle_keys[:1]))


def test_three_signatures_over_a_threshold_of_two_settle(
    billing, registered, usage_batch, submit, sign, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])

    submit(batch, signatures=sign(batch, keys=oracle_keys))

    assert billing.batchSettled(batch.batch_id)


def test_the_same_signer_twice_reverts_with_signers_out_of_order(
    registered, usage_batch, submit, sign, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    signature = sign(batch, keys=oracle_keys[:1])[0]

    with reverts("Billing_SignersOutOfOrder"):
        submit(batch, signatures=[signature, signature])


def test_signatures_not_sorted_by_signer_revert_with_signers_out_of_order(
    registered, usage_batch, submit, sign, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])

    with reverts("Billing_SignersOutOfOrder"):
        submit(batch, signatures=list(reversed(sign(batch))))


def test_a_malleable_high_s_signature_reverts_with_ecdsa_invalid_signature_s(
    registered, usage_batch, submit, sign, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    signatures = sign(batch)
    r, s, v = signatures[0][:32], int.from_bytes(signatures[0][32:64], "big"), signatures[0][64]
    high_s = (SECP256K1_N - s).to_bytes(32, "big")
    signatures[0] = r + high_s + bytes([55 - v])  # the same signer, the other half of the curve

    with reverts("ECDSAInvalidSignatureS", high_s):
        submit(batch, signatures=signatures)


def test_a_compact_64_byte_signature_reverts_with_ecdsa_invalid_signature_length(
    registered, usage_batch, submit, sign, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30)])
    signatures = sign(batch)
    r, s, v = signatures[0][:32], int.from_bytes(signatures[0][32:64], "big"), signatures[0][64]
    signatures[0] = r + (s | ((v - 27) << 255)).to_bytes(32, "big")  # EIP-2098: r, yParity|s

    with reverts("ECDSAInvalidSignatureLength", 64):
        submit(batch, signatures=signatures)


def test_lines_changed_after_signing_do_not_verify(
    billing, registered, usage_batch, submit, sign, oracle_keys, chain_id, alice, unit
):
    a = registered(alice, 10 * unit)
    batch = usage_batch([(a, 30), (a, 45)])
    signatures = sign(batch)
    tampered = bytearray(batch.packed_lines())
    tampered[15] = 4  # line 1: 45 minutes -> 4
    recovered = recover(digest_for(batch, chain_id, billing.address, bytes(tampered)), signatures[0])
    assert recovered not in {signer_of(k) for k in oracle_keys}

    with reverts("Billing_UnknownSigner", recovered):
        submit(batch, signatures=signatures, lines=bytes(tampered))
    assert billing.balanceOf(alice) == 10 * unit


# ----- the signer set ---------------------------------------------------------------------------------------


def test_set_signers_adds_and_removes_with_events(billing, admin, oracle_keys):
    removed = signer_of(oracle_keys[0])
    added = signer_of(STRANGER_KEY)

    tx = billing.setSigners([added], [removed], 2, {"from": admin})

    assert tx.events["SignerRemoved"]["signer"] == removed
    assert tx.events["SignerAdded"]["signer"] == added
    assert tx.events["ThresholdChanged"]["threshold"] == 2
    assert billing.isSigner(added)
    assert not billing.isSigner(removed)
    assert billing.signerCount() == 3
    assert billing.threshold() == 2


def test_a_removed_signers_signatures_stop_counting(
    billing, registered, usage_batch, submit, sign, admin, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.setSigners([], [signer_of(oracle_keys[0])], 2, {"from": admin})
    batch = usage_batch([(a, 30)])

    with reverts("Billing_UnknownSigner", signer_of(oracle_keys[0])):
        submit(batch, signatures=sign(batch, keys=oracle_keys[:2]))


def test_the_remaining_signers_still_settle_after_a_removal(
    billing, registered, usage_batch, submit, sign, admin, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.setSigners([], [signer_of(oracle_keys[0])], 2, {"from": admin})
    batch = usage_batch([(a, 30)])

    submit(batch, signatures=sign(batch, keys=oracle_keys[1:]))

    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)


def test_an_added_signers_signatures_count(
    billing, registered, usage_batch, submit, sign, admin, oracle_keys, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.setSigners([signer_of(STRANGER_KEY)], [], 2, {"from": admin})
    batch = usage_batch([(a, 30)])

    submit(batch, signatures=sign(batch, keys=[STRANGER_KEY, oracle_keys[2]]))

    assert billing.balanceOf(alice) == 10 * unit - 30 * (unit // 100)


def test_a_raised_threshold_refuses_batches_with_fewer_signatures(
    billing, registered, usage_batch, submit, sign, admin, alice, unit
):
    a = registered(alice, 10 * unit)
    billing.setSigners([], [], 3, {"from": admin})
    batch = usage_batch([(a, 30)])

    with reverts("Billing_NotEnoughSignatures", 2, 3):
        submit(batch, signatures=sign(batch))


def test_set_signers_with_threshold_zero_reverts_with_invalid_threshold(billing, admin):
    with reverts("Billing_InvalidThreshold", 0, 3):
        billing.setSigners([], [], 0, {"from": admin})


def test_set_signers_with_threshold_above_the_signer_count_reverts_with_invalid_threshold(billing, admin):
    with reverts("Billing_InvalidThreshold", 4, 3):
        billing.setSigners([], [], 4, {"from": admin})


def test_removing_signers_below_the_threshold_reverts_with_invalid_threshold(billing, admin, oracle_keys):
    with reverts("Billing_InvalidThreshold", 2, 1):
        billing.setSigners([], [signer_of(k) for k in oracle_keys[:2]], 2, {"from": admin})
    assert billing.signerCount() == 3


def test_adding_the_zero_address_as_signer_reverts_with_invalid_setting(billing, admin):
    with reverts("Billing_InvalidSetting", "zero signer"):
        billing.setSigners(["0x0000000000000000000000000000000000000000"], [], 2, {"from": admin})


def test_set_signers_by_the_operator_reverts_with_access_control(billing, operator):
    with reverts("AccessControlUnauthorizedAccount", operator, DEFAULT_ADMIN_ROLE):
        billing.setSigners([operator], [], 2, {"from": operator})
