"""The feeder killed with SIGKILL at random moments and restarted ends with exactly the charges of a clean
run: none doubled, none missed."""

import json
import random
import signal
import sqlite3
import time
from dataclasses import asdict

import pytest
from brownie import accounts, chain, web3
from eth_account import Account

from tests.conftest import DAY, now
from tests.integration.conftest import feeder_process, session_logs

Account.enable_unaudited_hdwallet_features()
MNEMONIC = "test test test test test test test test test test test junk"  # anvil's public development mnemonic
KEEPER_KEY = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/2").key.hex()


@pytest.fixture
def customers(registered, unit):
    wallets = [accounts.add() for _ in range(24)]
    for wallet in wallets:
        accounts[0].transfer(wallet, 10**17)
        registered(wallet, 50 * unit)
    return wallets


@pytest.fixture
def logs(customers, tmp_path):
    """Three days of sessions on both meters: many lines, so many small batches to interrupt."""
    return session_logs(tmp_path, [wallet.address for wallet in customers], now() - 4 * DAY, sessions=3, seed=7)


def feed(deployment_path, state, logs, **popen):
    return feeder_process(
        deployment_path, state, logs, rpc_url=web3.provider.endpoint_uri, key=KEEPER_KEY, max_lines=4, **popen
    )


def journal_statuses(state) -> set[str]:
    path = state / "journal.sqlite"
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        return {status for (status,) in db.execute("SELECT DISTINCT status FROM batches")}


def final_state(billing, customers):
    return [billing.balanceOf(w) for w in customers]


def test_killed_and_restarted_feeder_charges_exactly_what_a_clean_run_does(
    billing, deployment, customers, logs, tmp_path
):
    deployment_path = tmp_path / "deployment.json"
    deployment_path.write_text(json.dumps(asdict(deployment)))
    chain.snapshot()
    began = time.monotonic()
    clean = feed(deployment_path, tmp_path / "clean", logs)
    out, err = clean.communicate(timeout=300)
    duration = time.monotonic() - began
    assert clean.returncode == 0, out + err
    expected = final_state(billing, customers)
    assert sum(expected) < 24 * 50 * 10**6  # something was charged
    chain.revert()
    assert final_state(billing, customers) == [50 * 10**6] * 24

    rng = random.Random(11)
    kills, mid_submission = 0, 0
    state = tmp_path / "crashy"
    for _ in range(20):  # 20 random points; the later restarts have less left to do and may finish first
        proc = feed(deployment_path, state, logs)
        time.sleep(rng.uniform(0.05, 0.5) * duration)  # from start-up on; restarts have less left to do
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
            mid_submission += journal_statuses(state) >= {"pending", "settled"}
        proc.communicate(timeout=60)
    finish = feed(deployment_path, state, logs)
    out, err = finish.communicate(timeout=300)

    assert finish.returncode == 0, out + err
    assert kills >= 5 and mid_submission >= 1, (kills, mid_submission)  # the rest finished before their point
    assert final_state(billing, customers) == expected
