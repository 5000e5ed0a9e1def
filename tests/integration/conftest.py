"""Shared scenario for the integration tests that read a month of activity back from the chain."""

import os
import random
import subprocess
import sys

import pytest
from brownie import accounts, chain, web3

from streamledger.chain import Chain, Sender
from streamledger.events import EventReader
from streamledger.keeper import Keeper
from streamledger.usage.service import build_feeder
from tests.conftest import DAY, fund_with, now, time_travel

HEADER = "session_id,customer,device_id,content_id,meter,start,end,bytes\n"


def feeder_process(deployment_path, state, logs, *, rpc_url, key, max_lines, **popen):
    """`streamledger feed run` over `logs` as a subprocess (so it can be killed), signing with `key`."""
    cmd = [
        sys.executable,
        "-m",
        "streamledger.cli",
        "feed",
        "run",
        *map(str, logs),
        "--deployment",
        str(deployment_path),
        "--state",
        str(state),
        "--max-lines",
        str(max_lines),
    ]
    env = {**os.environ, "DEPLOYER_KEY": key, "RPC_URL": rpc_url}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def session_logs(folder, customers, start, *, days=3, sessions=3, seed=7):
    """`days` daily session logs from `start` (sessions-<day>.csv): per customer and day, `sessions` random
    sessions within the first 20 hours, the last one on gb_delivered and the others on premium_minutes."""
    rng = random.Random(seed)
    paths = []
    for day in range(days):
        rows = []
        for n, customer in enumerate(customers):
            for k in range(sessions):
                t = start + day * DAY + rng.randrange(0, 20 * 3600)
                meter = "premium_minutes" if k < sessions - 1 else "gb_delivered"
                rows.append(
                    f"d{day}c{n}s{k},{customer},tv{k},ch{k},{meter},{t},{t + rng.randrange(60, 1800)},"
                    f"{rng.randrange(10**6, 10**9)}\n"
                )
        path = folder / f"sessions-{day}.csv"
        path.write_text(HEADER + "".join(rows))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def month(deployment, billing, token, operator, arbiter, payouts, tmp_path_factory):
    """A month of activity: subscriptions, metered usage through the feeder, a PPV purchase, a dispute refunded
    by the arbiter, renewals and escrow releases by the keeper, provider withdrawals."""
    alice, bob, carol = accounts[3], accounts[4], accounts[5]
    unit = 10**deployment.token_decimals
    for customer, plan in ((alice, "basic"), (bob, "basic"), (carol, "premium")):
        fund_with(billing, token, customer, 100 * unit)
        billing.subscribe(deployment.plans[plan], billing.planOf(deployment.plans[plan])[0], {"from": customer})
    billing.buyPpv(deployment.ppv_events["title_fight"], {"from": bob})
    work = tmp_path_factory.mktemp("month")
    t = now() - DAY
    log = work / "sessions.csv"
    log.write_text(
        HEADER
        + f"s1,{alice.address},tv,ch9,premium_minutes,{t},{t + 1810},0\n"
        + f"s2,{bob.address},tv,ch9,premium_minutes,{t},{t + 600},0\n"
        + f"s3,{bob.address},tv,ch7,gb_delivered,{t},{t + 600},1234567890\n"
    )
    ch = Chain(web3, Sender(operator.address))
    feeder = build_feeder(ch, deployment, work / "feeder")
    feeder.process_file(log)
    assert feeder.submit().settled == 2
    # alice disputes her usage line; the arbiter refunds it
    (settled,) = [e for e in _events(billing, "UsageSettled") if e["meterId"] == deployment.meters["premium_minutes"]]
    settlement = tuple(settled["settlement"].values())
    billing.disputeUsage(settlement, settled["batchId"], 0, settled["lines"], [], {"from": alice})
    billing.resolveDispute(1, True, {"from": arbiter})
    time_travel(31 * DAY)
    keeper = Keeper(Chain(web3, Sender(accounts[2].address)), deployment)
    keeper.run_once()
    time_travel(31 * DAY)
    keeper.run_once()
    for payee in payouts.values():
        if billing.earningsOf(payee):
            billing.withdrawEarnings({"from": payee})
    chain.mine()
    return {"journal": work / "feeder" / "journal.sqlite", "log": log, "work": work}


def _events(billing, name):
    return [e.args for e in EventReader(web3, billing.address).read(0, web3.eth.block_number, {name})]
