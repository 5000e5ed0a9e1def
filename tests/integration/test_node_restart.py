"""The node restarts in the middle of a feeder run (anvil dumps its state on the way down and loads it on the
way up, like a node that is restarted for an upgrade): the feeder waits with backoff, sends again what the
restart lost, and finishes with every batch settled exactly once; the reconciler, also interrupted by a
restart, finishes with 0 discrepancies against the feeder's journal."""

import json
import sqlite3
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from streamledger import artifacts
from streamledger.catalogue import load_catalogue
from streamledger.chain import Chain, Sender, connect_web3
from streamledger.deployment import deploy_system
from streamledger.devchain import AnvilNode
from streamledger.reconcile import Reconciler
from streamledger.usage.journal import Journal
from tests.integration.conftest import feeder_process, session_logs

DAY = 86_400
KEEPER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # anvil's public dev key 2


def restart(node: AnvilNode, down_for: float) -> None:
    node.stop()  # anvil writes --state on the way down
    time.sleep(down_for)
    node.start()  # same port, same state file


@pytest.fixture
def node(tmp_path):
    node = AnvilNode(state=tmp_path / "anvil-state.json").start()
    yield node
    if node.proc.poll() is None:
        node.proc.kill()
        node.proc.wait(timeout=10)


@pytest.fixture
def system(node, tmp_path):
    w3 = connect_web3(node.url)
    admin = Sender(w3.eth.accounts[0])
    chain = Chain(w3, admin)
    catalogue = load_catalogue(artifacts.ROOT / "catalogue" / "development.yaml")
    deployment = deploy_system(chain, catalogue, "restart", dev_accounts=list(w3.eth.accounts))
    unit = 10**deployment.token_decimals
    customers = list(w3.eth.accounts[3:11])
    for customer in customers:
        mine = chain.with_sender(Sender(customer))
        mine.transact(mine.token(deployment.token).functions.mint(customer, 50 * unit))
        mine.transact(mine.token(deployment.token).functions.approve(deployment.billing, 50 * unit))
        mine.transact(mine.billing(deployment.billing).functions.deposit(50 * unit))
        mine.transact(mine.billing(deployment.billing).functions.register(customer))
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(asdict(deployment)))
    return w3, deployment, path, customers


def statuses(state: Path) -> dict[str, int]:
    path = state / "journal.sqlite"
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return dict(db.execute("SELECT status, COUNT(*) FROM batches GROUP BY status").fetchall())
    except sqlite3.OperationalError:  # created but not yet migrated
        return {}


def test_the_feeder_and_the_reconciler_finish_across_node_restarts(node, system, tmp_path):
    w3, deployment, deployment_path, customers = system
    t = w3.eth.get_block("latest")["timestamp"]
    logs = session_logs(tmp_path, customers, t - t % DAY - 3 * DAY, sessions=4, seed=5)
    state = tmp_path / "feeder"
    feeder = feeder_process(deployment_path, state, logs, rpc_url=node.url, key=KEEPER_KEY, max_lines=2)
    # down for two seconds once some batches are settled and others still pending
    deadline = time.time() + 120
    while time.time() < deadline and not (statuses(state).get("settled", 0) >= 3 and statuses(state).get("pending")):
        assert feeder.poll() is None, feeder.communicate()
        time.sleep(0.05)
    at_restart = statuses(state)
    restart(node, down_for=2)
    out, err = feeder.communicate(timeout=300)

    assert feeder.returncode == 0, out + err
    assert at_restart.get("pending", 0) > 0
    final = statuses(state)
    assert set(final) == {"settled"} and final["settled"] > at_restart["settled"]
    billing = w3.eth.contract(address=deployment.billing, abi=artifacts.billing_abi())
    journal = Journal(state / "journal.sqlite")
    for row in journal.batches("settled"):
        assert billing.functions.batchSettled(row.batch_id).call()

    # the reconciler, with the node going down under it
    reconciler = Reconciler(connect_web3(node.url), deployment, tmp_path / "reconcile")
    restarting = threading.Thread(target=restart, args=(node, 2))
    restarting.start()
    reconciler.sync()
    restarting.join(60)
    report = reconciler.check(journal=journal)

    assert report.discrepancies == []
    charged = sum(50 * 10**deployment.token_decimals - billing.functions.balanceOf(c).call() for c in customers)
    assert charged > 0
