"""The oracle's fast paths against their plain definitions: leaves, signatures, the journal's line store."""

import os
import sqlite3

import pytest
from eth_account import Account

from streamledger.oracle import (
    UsageBatchData,
    UsageLine,
    merkle_root,
    packed_leaves,
    records_leaf,
    records_leaves,
    recover,
    sign_digest,
)
from streamledger.usage.journal import BatchRow, Journal, JournalError


def u32():
    return int.from_bytes(os.urandom(4), "big")


def random_lines(n):
    return [UsageLine(u32() or 1, u32(), os.urandom(32)) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 400])
def test_packed_leaves_are_the_records_leaves(n):
    batch = UsageBatchData(1, 2, 3, 4, 5, random_lines(n))
    hashes = b"".join(line.records_hash for line in batch.lines)
    leaves = packed_leaves(batch.packed_lines(), hashes)
    assert leaves == [records_leaf(i, line.customer_id, line.records_hash) for i, line in enumerate(batch.lines)]
    assert leaves == records_leaves([(line.customer_id, line.records_hash) for line in batch.lines])
    assert merkle_root(leaves) == batch.records_root()


def test_packed_leaves_refuse_hashes_that_do_not_match_the_lines():
    with pytest.raises(ValueError, match="do not match"):
        packed_leaves(b"\x00" * 16, b"\x00" * 32)


def test_merkle_root_of_an_odd_level_moves_the_last_node_up():
    a, b, c = (bytes([i]) * 32 for i in (1, 2, 3))
    from streamledger.oracle import keccak

    pair = keccak(a + b)
    assert merkle_root([a, b, c]) == (keccak(pair + c) if pair < c else keccak(c + pair))


def test_signatures_are_the_ones_eth_account_makes():
    for _ in range(20):
        key, digest = os.urandom(32), os.urandom(32)
        signature = sign_digest(digest, key)
        assert signature == bytes(Account.unsafe_sign_hash(digest, key).signature)
        assert recover(digest, signature) == Account.from_key(key).address


def test_the_journal_gives_back_each_line_of_a_batch(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    lines = random_lines(3)
    batch = UsageBatchData(7, 100, 1, 0, 86_400, lines)
    payload, root = batch.packed_lines(), batch.records_root()
    row = BatchRow(7, "usage", "f" * 64, "m", 1, 0, 86_400, 100, payload, root, b"", "unsigned")
    hashes = b"".join(x.records_hash for x in lines)
    counts = b"".join(n.to_bytes(4, "big") for n in (5, 6, 7))
    with journal.transaction() as db:
        journal.add_batch(db, row, hashes, counts)
    expected = [(x.customer_id, x.quantity, x.records_hash, n) for x, n in zip(lines, (5, 6, 7), strict=True)]
    assert journal.lines(7) == expected
    with pytest.raises(ValueError, match="do not match"), journal.transaction() as db:
        journal.add_batch(db, row, b"", b"")


def test_a_journal_of_another_format_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE files (sha256 TEXT)")
    with pytest.raises(JournalError, match="format 0"):
        Journal(path)
