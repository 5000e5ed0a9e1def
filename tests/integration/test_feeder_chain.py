"""The feeder end to end on a real chain: log files in, usage charged once."""

import pytest
from brownie import web3

from streamledger.chain import Chain, Sender
from streamledger.usage.service import build_feeder
from tests.conftest import DAY, now

HEADER = "session_id,customer,device_id,content_id,meter,start,end,bytes\n"


@pytest.fixture
def feeder(deployment, operator, tmp_path):
    return build_feeder(Chain(web3, Sender(operator.address)), deployment, tmp_path / "state")


def yesterday():
    """An hour into yesterday's usage window (UTC day): rows a few hours apart stay in one closed window
    whatever the time of day the test runs."""
    t = now()
    return t - t % DAY - DAY + 3600


def write_log(path, rows):
    path.write_text(HEADER + "".join(",".join(str(x) for x in r) + "\n" for r in rows))
    return path


def test_a_log_file_is_charged_per_customer_minute_rounded_up(billing, feeder, registered, alice, bob, unit, tmp_path):
    registered(alice, 10 * unit)
    registered(bob, 10 * unit)
    t = yesterday()
    log = write_log(
        tmp_path / "day1.csv",
        [
            ("s1", alice.address, "tv", "ch9", "premium_minutes", t, t + 610, 0),  # 10m10s
            ("s2", alice.address, "phone", "ch9", "premium_minutes", t + 700, t + 760, 0),  # 1m
            ("s3", bob.address, "tv", "ch1", "", t, t + 3600, 0),  # included content: not billed
        ],
    )

    report = feeder.process_file(log)
    submitted = feeder.submit()

    assert (report.records, report.billed, report.included, report.flagged, report.quarantined) == (3, 2, 1, 0, 0)
    assert submitted.settled == 1
    assert billing.balanceOf(alice) == 10 * unit - 12 * unit // 100  # ceil(670 s / 60) = 12 minutes
    assert billing.balanceOf(bob) == 10 * unit


def test_the_contract_verifies_each_line_against_its_records(billing, feeder, registered, alice, bob, unit, tmp_path):
    from streamledger.oracle import merkle_proof, records_leaf

    registered(alice, 10 * unit)
    registered(bob, 10 * unit)
    t = yesterday()
    rows = [
        (f"s{i}", who.address, "tv", "ch9", "premium_minutes", t + i * 900, t + i * 900 + 600, 0)
        for i, who in enumerate([alice, bob, alice])
    ]
    feeder.process_file(write_log(tmp_path / "day.csv", rows))
    (row,) = feeder.journal.batches("pending")
    lines = feeder.journal.lines(row.batch_id)
    leaves = [records_leaf(i, cid, rh) for i, (cid, _, rh, _) in enumerate(lines)]
    for i, (cid, _, records_hash, _) in enumerate(lines):
        proof = merkle_proof(leaves, i)
        assert billing.verifyRecords(row.records_root, i, cid, records_hash, proof)
        assert not billing.verifyRecords(row.records_root, i, cid, bytes(32), proof)  # other records
        assert not billing.verifyRecords(row.records_root, i, cid + 7, records_hash, proof)  # another customer
    assert not billing.verifyRecords(row.records_root, 1, lines[0][0], lines[0][2], merkle_proof(leaves, 0))


def test_reprocessing_the_same_file_bills_nothing_more(billing, feeder, registered, alice, unit, tmp_path):
    registered(alice, 10 * unit)
    t = yesterday()
    log = write_log(tmp_path / "day1.csv", [("s1", alice.address, "tv", "ch9", "premium_minutes", t, t + 600, 0)])
    feeder.process_file(log)
    feeder.submit()

    again = feeder.process_file(log)
    feeder.submit()

    assert again.replayed and again.flagged == 1 and again.batches == 0
    assert billing.balanceOf(alice) == 10 * unit - 10 * unit // 100


def test_external_signer_round_trip_with_cast(billing, deployment, registered, alice, unit, tmp_path):
    """One oracle key in an encrypted keystore on the feeder, the second signature made by `cast wallet sign`."""
    import json
    import os
    import subprocess
    import sys
    from dataclasses import asdict

    from eth_account import Account

    from streamledger.oracle import dev_oracle_key

    registered(alice, 10 * unit)
    t = yesterday()
    log = write_log(tmp_path / "day.csv", [("s1", alice.address, "tv", "ch9", "premium_minutes", t, t + 600, 0)])
    (tmp_path / "deployment.json").write_text(json.dumps(asdict(deployment)))
    keystore = tmp_path / "oracle0.json"
    keystore.write_text(json.dumps(Account.encrypt(dev_oracle_key(0), "s3cret")))
    env = {
        **os.environ,
        "ORACLE_PASSWORD": "s3cret",
        "RPC_URL": web3.provider.endpoint_uri,
        "DEPLOYER_KEY": "0x" + dev_oracle_key(5).hex(),
    }  # any funded account may submit
    from brownie import accounts as brownie_accounts

    brownie_accounts[0].transfer(Account.from_key(dev_oracle_key(5)).address, 10**18)
    base = [
        "--deployment",
        str(tmp_path / "deployment.json"),
        "--state",
        str(tmp_path / "state"),
        "--oracle-keystore",
        str(keystore),
    ]

    def cli(*args):
        out = subprocess.run(
            [sys.executable, "-m", "streamledger.cli", "feed", *args, *base], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    assert "1 waiting for signatures" in cli("run", str(log))
    assert billing.balanceOf(alice) == 10 * unit  # nothing charged with one signature of two
    cli("export", "--out", str(tmp_path / "to-sign"))
    (typed,) = (tmp_path / "to-sign").glob("*.json")
    cast = subprocess.run(
        [
            "cast",
            "wallet",
            "sign",
            "--private-key",
            "0x" + dev_oracle_key(1).hex(),
            "--data",
            "--from-file",
            str(typed),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ready to submit" in cli("import", typed.stem, cast.stdout.strip())
    assert "1 settled now" in cli("submit")
    assert billing.balanceOf(alice) == 10 * unit - 10 * unit // 100


def test_a_batch_the_node_does_not_mine_stays_pending_and_is_billed_once_later(
    billing, deployment, operator, registered, alice, unit, tmp_path
):
    from brownie import chain

    registered(alice, 10 * unit)
    t = yesterday()
    log = write_log(tmp_path / "day.csv", [("s1", alice.address, "tv", "ch9", "premium_minutes", t, t + 600, 0)])
    impatient = Chain(web3, Sender(operator.address), timeout=0.5, resends=1)
    feeder = build_feeder(impatient, deployment, tmp_path / "state")
    feeder.process_file(log)

    web3.provider.make_request("evm_setAutomine", [False])  # the node takes transactions and mines none
    try:
        stalled = feeder.submit()
        # checked while mining is still off: switching it back on may mine the held transaction at once
        assert (stalled.settled, stalled.not_mined, stalled.waiting, stalled.rejected) == (0, 1, 0, 0)
        assert "not mined" in stalled.errors[0]
        assert billing.balanceOf(alice) == 10 * unit
        assert len(feeder.journal.batches("pending")) == 1
    finally:
        web3.provider.make_request("evm_setAutomine", [True])

    chain.mine()  # the node mines what it held: the batch lands once
    again = feeder.submit()
    assert (again.settled, again.already, again.not_mined) == (0, 1, 0)
    assert feeder.journal.batches("pending") == []
    assert billing.balanceOf(alice) == 10 * unit - 10 * unit // 100
