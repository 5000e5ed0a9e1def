"""Reconciliation on a real chain: a clean month reconciles; every discrepancy kind is caught when planted."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import asdict

import yaml
from brownie import accounts, chain, web3

from streamledger.brownie_support import DEFAULT_CATALOGUE
from streamledger.catalogue import load_catalogue, parse_catalogue
from streamledger.chain import Chain, Sender
from streamledger.keeper import Keeper
from streamledger.reconcile import AMOUNT, DOUBLE, EXTRA, MISSING, OVERPAID, SPLIT, Reconciler
from streamledger.usage.journal import Journal
from tests.conftest import DAY, now, time_travel

HEADER = "session_id,customer,device_id,content_id,meter,start,end,bytes\n"


def reconcile(deployment, tmp_path, **check):
    reconciler = Reconciler(web3, deployment, tmp_path / "state")
    reconciler.sync()
    return reconciler.check(**check)


def kinds(report):
    return {d.kind for d in report.discrepancies}


def test_a_clean_month_reconciles(deployment, month, tmp_path):
    report = reconcile(deployment, tmp_path, journal=Journal(month["journal"]))
    assert report.discrepancies == []
    assert report.charges >= 8  # 3 subscriptions, PPV, 2 usage lines, renewals
    assert all(p.earned == p.credited for p in report.payouts)
    assert sum(p.withdrawn for p in report.payouts) > 0


def test_audit_mode_reproduces_every_payout_from_chain_data_and_the_public_catalogue(deployment, month, tmp_path):
    full = reconcile(deployment, tmp_path / "full", journal=Journal(month["journal"]))
    audit = reconcile(deployment, tmp_path / "audit", catalogue=load_catalogue(DEFAULT_CATALOGUE))
    assert audit.discrepancies == []
    assert [asdict(p) for p in audit.payouts] == [asdict(p) for p in full.payouts]


def test_usage_recomputed_from_the_raw_logs_matches_the_chain(deployment, month, tmp_path):
    from streamledger.reconcile import lines_from_logs

    expected = lines_from_logs(Chain(web3, Sender(accounts[0].address)), deployment, [month["log"]], tmp_path / "w")
    report = reconcile(deployment, tmp_path, logs_lines=expected)
    assert report.discrepancies == []


def test_a_batch_the_feeder_never_made_is_an_extra_charge(deployment, month, billing, settle, alice, tmp_path):
    _, batch = settle([(billing.customerIdOf(alice), 7)])
    report = reconcile(deployment, tmp_path, journal=Journal(month["journal"]))
    assert kinds(report) == {EXTRA}
    assert report.discrepancies[0].subject == f"batch {batch.batch_id}"


def test_a_batch_the_journal_calls_settled_but_the_chain_lacks_is_a_missing_charge(deployment, month, tmp_path):
    journal = edited_journal(
        month,
        tmp_path,
        "UPDATE batches SET batch_id = batch_id + 1 WHERE batch_id = (SELECT MIN(batch_id) FROM batches)",
    )
    report = reconcile(deployment, tmp_path, journal=journal)
    assert MISSING in kinds(report)


def test_an_edited_journal_quantity_is_an_amount_mismatch(deployment, month, tmp_path):
    def raise_first_quantity(db):  # line 0 of every usage batch: quantity (payload bytes 4-8) + 5
        for batch_id, payload in db.execute("SELECT batch_id, payload FROM batches WHERE kind = 'usage'").fetchall():
            quantity = int.from_bytes(payload[4:8], "big") + 5
            edited = payload[:4] + quantity.to_bytes(4, "big") + payload[8:]
            db.execute("UPDATE batches SET payload = ? WHERE batch_id = ?", (edited, batch_id))

    journal = edited_journal(month, tmp_path, raise_first_quantity)
    report = reconcile(deployment, tmp_path, journal=journal)
    assert kinds(report) == {AMOUNT}


def test_the_same_usage_charged_in_two_batches_is_a_double_charge(deployment, month, billing, settle, alice, tmp_path):
    window = (now() - 2 * DAY, now() - DAY)
    settle([(billing.customerIdOf(alice), 3)], window=window)
    settle([(billing.customerIdOf(alice), 3)], window=window)
    report = reconcile(deployment, tmp_path, journal=Journal(month["journal"]))
    assert DOUBLE in kinds(report)


def test_a_split_other_than_the_public_catalogue_is_a_split_mismatch(deployment, month, tmp_path):
    data = yaml.safe_load(DEFAULT_CATALOGUE.read_text())
    data["splits"]["basic"] = {"platform": 2500, "newsnet": 7500}  # the operator published 25/75, chain runs 30/70
    report = reconcile(deployment, tmp_path, catalogue=parse_catalogue(data))
    assert SPLIT in kinds(report)
    assert OVERPAID in kinds(report)  # the platform got more than the published split gives it


def test_revenue_diverted_to_a_split_the_catalogue_does_not_have_is_caught(
    deployment, month, billing, operator, subscribed, tmp_path
):
    tx = billing.addSplit([deployment.providers["newsnet"]], [10_000], {"from": operator})
    billing.setPlanSplit(deployment.plans["basic"], tx.events["SplitAdded"]["splitId"], {"from": operator})
    dave = accounts.add()
    accounts[0].transfer(dave, 10**17)
    subscribed(dave)
    time_travel(32 * DAY)
    Keeper(Chain(web3, Sender(accounts[2].address)), deployment).release_escrow()
    report = reconcile(deployment, tmp_path, catalogue=load_catalogue(DEFAULT_CATALOGUE))
    assert {SPLIT, OVERPAID} <= kinds(report)


def test_a_later_run_resumes_from_its_checkpoint(deployment, month, billing, fund, alice, tmp_path):
    first = Reconciler(web3, deployment, tmp_path / "state")
    first.sync()
    seen = first.ledger.events
    fund(alice, 5 * 10**6)
    resumed = Reconciler(web3, deployment, tmp_path / "state")
    assert resumed.ledger.events == seen  # loaded from the checkpoint, not replayed
    resumed.sync()
    assert resumed.ledger.events == seen + 1  # the new Deposited event, nothing replayed
    assert resumed.check().discrepancies == []


def test_confirmation_depth_leaves_the_newest_blocks_for_later(deployment, month, tmp_path):
    chain.mine(5)
    reconciler = Reconciler(web3, deployment, tmp_path / "state", confirmations=3)
    assert reconciler.sync() == web3.eth.block_number - 3


def test_the_command_exits_non_zero_when_something_does_not_reconcile(
    deployment, month, billing, settle, alice, tmp_path
):
    settle([(billing.customerIdOf(alice), 2)])
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(asdict(deployment)))
    cmd = [
        sys.executable,
        "-m",
        "streamledger.cli",
        "reconcile",
        "--deployment",
        str(path),
        "--journal",
        str(month["journal"]),
        "--state",
        str(tmp_path / "s"),
        "--out",
        str(tmp_path / "out"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "RPC_URL": web3.provider.endpoint_uri})
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 extra charge" in out.stdout
    rows = (tmp_path / "out" / "discrepancies.csv").read_text().splitlines()
    assert rows[0] == "kind,subject,detail,expected,actual,ref" and rows[1].startswith("extra charge,batch ")
    assert json.loads((tmp_path / "out" / "reconciliation.json").read_text())["ok"] is False


def edited_journal(month, tmp_path, edit):
    """A copy of the month's journal changed by `edit`: an SQL statement or a function of the connection."""
    copy = tmp_path / "journal.sqlite"
    shutil.copy(month["journal"], copy)
    with sqlite3.connect(copy) as db:
        edit(db) if callable(edit) else db.execute(edit)
    return Journal(copy)
