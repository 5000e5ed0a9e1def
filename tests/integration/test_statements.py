"""Statements rebuilt from events, sealed in a Merkle tree whose root is committed on-chain; a customer
verifies their statement with nothing but an RPC URL, and a tampered line fails."""

import json
import os
import subprocess
import sys

import pytest
from brownie import accounts, web3

from streamledger.ledger import CLOSING, OPENING, USAGE
from streamledger.reconcile import Reconciler
from streamledger.statements import (
    block_timestamps,
    build_statements,
    provider_report,
    seal,
    statement_blocks,
    verify_statement_file,
    write_statement,
)
from tests.conftest import reverts

PERIOD = 209901


@pytest.fixture
def sealed(deployment, month, billing, operator, tmp_path):
    reconciler = Reconciler(web3, deployment, tmp_path / "state")
    reconciler.sync()
    ledger = reconciler.ledger
    stamps = block_timestamps(web3, statement_blocks(ledger))
    end = web3.eth.get_block("latest")["timestamp"] + 1
    statements = build_statements(ledger, PERIOD, 0, end, stamps, deployment.token_decimals, deployment.token_symbol)
    root, count = seal(statements, deployment.chain_id, deployment.billing)
    billing.commitStatementRoot(PERIOD, 0, end, root, count, {"from": operator})
    files = {customer: write_statement(s, tmp_path / "statements") for customer, s in statements.items()}
    return {
        "statements": statements,
        "files": files,
        "root": root,
        "count": count,
        "ledger": ledger,
        "stamps": stamps,
        "end": end,
    }


def test_every_customer_gets_a_statement_from_opening_to_closing_balance(billing, sealed):
    for customer, statement in sealed["statements"].items():
        kinds = [line.kind for line in statement.lines]
        assert kinds[0] == OPENING and kinds[-1] == CLOSING
        assert statement.opening + sum(line.amount for line in statement.lines[1:-1]) == statement.closing
        assert statement.closing == billing.balanceOf(customer)


def test_usage_lines_carry_meter_quantity_and_day(sealed):
    alice = accounts[3].address
    usage = [line for line in sealed["statements"][alice].lines if line.kind == USAGE]
    assert len(usage) == 1 and "Premium viewing minutes, 31 units on" in usage[0].description
    assert sum(sealed["statements"][alice].usage_by_day.values()) == 31 * 10**4  # 0.01 token per minute


def test_every_line_verifies_against_the_committed_root(billing, sealed):
    assert billing.statementRoot(PERIOD)[0] == "0x" + sealed["root"].hex()
    for statement in sealed["statements"].values():
        for line in statement.lines:
            assert billing.verifyStatementLine(PERIOD, line.as_tuple(), line.proof)


def test_a_statement_file_verifies_with_nothing_but_an_rpc_url(sealed):
    path = sealed["files"][accounts[3].address]["json"]
    out = subprocess.run(
        [sys.executable, "-m", "streamledger.cli", "verify-statement", str(path), "--rpc", web3.provider.endpoint_uri],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "statement verified against the chain" in out.stdout


@pytest.mark.parametrize("field", ["amount", "kind", "timestamp", "index", "ref"])
def test_a_tampered_line_fails_verification(sealed, tmp_path, field):
    data = json.loads(sealed["files"][accounts[4].address]["json"].read_text())
    line = data["lines"][1]
    line[field] = ("0x" + "11" * 32) if field == "ref" else line[field] + 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))

    results = [ok for _, ok in verify_statement_file(tampered, web3)]

    assert results[1] is False
    assert all(ok for position, ok in enumerate(results) if position != 1)


def test_a_statement_root_is_committed_once(billing, operator, sealed):
    with reverts("Billing_StatementAlreadyCommitted", PERIOD):
        billing.commitStatementRoot(PERIOD, 0, sealed["end"], sealed["root"], sealed["count"], {"from": operator})


def test_html_statement_shows_the_lines_and_a_usage_chart(sealed):
    page = sealed["files"][accounts[3].address]["html"].read_text()
    assert '<svg role="img" aria-label="Usage charges per day"' in page
    assert "closing balance" in page and "streamledger verify-statement" in page


def test_provider_report_accounts_for_earned_pending_disputed_and_withdrawn(billing, sealed, payouts):
    report = provider_report(sealed["ledger"], 0, sealed["end"], sealed["stamps"], sealed["end"])
    by_payee = {row["payee"]: row for row in report}
    for row in report:
        assert row["earned"] - row["withdrawn"] == row["owed"] == billing.earningsOf(row["payee"])
    pending = sum(row["pending"] for row in report)
    assert pending == sum(amount for amount in sealed["ledger"].escrow.values())
    assert by_payee[payouts["sportsco"].address]["earned"] > 0  # the PPV revenue reached the rights holder
