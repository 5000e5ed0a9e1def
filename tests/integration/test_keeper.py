"""The Python keeper renews through checkUpkeep/performUpkeep and releases escrow; it is safe to rerun."""

import json
import subprocess
import sys

import pytest
from brownie import accounts, web3

from streamledger.chain import Chain, Sender
from streamledger.deployment import Deployment
from streamledger.keeper import Keeper
from tests.conftest import DAY, time_travel

ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.fixture
def runner(deployment, keeper):
    """The package's keeper, signing as the keeper role account, with small batches and scan windows."""
    return Keeper(Chain(web3, Sender(keeper.address)), deployment, max_batch=3, scan_limit=4)


@pytest.fixture
def customers(subscribed):
    wallets = [accounts.add() for _ in range(7)]
    for wallet in wallets:
        accounts[0].transfer(wallet, 10**17)
        subscribed(wallet)
    return wallets


def test_keeper_renews_every_due_subscriber_in_bounded_batches(billing, customers, runner, unit):
    time_travel(30 * DAY + 60)

    report = runner.renew_due()

    assert report.renewed == len(customers)
    assert report.batches >= 3  # max_batch=3: seven customers need at least three transactions
    for wallet in customers:
        assert billing.balanceOf(wallet) == 80 * unit


def test_a_second_keeper_round_charges_nobody(billing, customers, runner, unit):
    time_travel(30 * DAY + 60)
    runner.renew_due()

    again = runner.renew_due()

    assert (again.renewed, again.batches) == (0, 0)
    assert all(billing.balanceOf(w) == 80 * unit for w in customers)


def test_keeper_reports_short_customers_once(billing, subscribed, runner, unit):
    broke = accounts.add()
    accounts[0].transfer(broke, 10**17)
    subscribed(broke, deposit=12 * unit)
    time_travel(30 * DAY + 60)

    first = runner.renew_due()
    second = runner.renew_due()

    assert (first.renewed, first.failed) == (0, 1)
    assert (second.renewed, second.failed, second.batches) == (0, 0, 0)


def test_keeper_releases_buckets_whose_day_has_started(billing, customers, runner, payouts, unit):
    before = billing.earningsOf(payouts["newsnet"])
    assert runner.release_escrow().released == []  # nothing is releasable before the periods end

    time_travel(31 * DAY)
    report = runner.release_escrow()

    assert sum(amount for _, _, amount in report.released) == 70 * unit
    assert billing.earningsOf(payouts["newsnet"]) - before == 49 * unit  # 70% of 7 x 10 tokens


def test_keeper_command_runs_without_brownie(billing, customers, deployment, tmp_path, unit):
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(Deployment(**vars(deployment)).__dict__))
    time_travel(30 * DAY + 60)

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamledger.cli",
            "keeper",
            "--rpc",
            web3.provider.endpoint_uri,
            "--deployment",
            str(path),
        ],
        capture_output=True,
        text=True,
        env={"DEPLOYER_KEY": ANVIL_KEY_0, "PATH": "/usr/bin:/bin"},
    )

    assert out.returncode == 0, out.stderr
    assert "renewed 7" in out.stdout
    assert billing.balanceOf(customers[0]) == 80 * unit
