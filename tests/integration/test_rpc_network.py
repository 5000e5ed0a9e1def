"""`brownie run scripts/deploy.py --network rpc` attaches to a node someone else started, never launches
one, and signs with $DEPLOYER_KEY or an encrypted $DEPLOYER_KEYSTORE."""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from eth_account import Account

from streamledger.devchain import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
ANVIL_KEY_1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil's public dev key 1


@pytest.fixture
def separate_anvil():
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "anvil"), "--port", str(port), "--accounts", "12", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def deploy_on_rpc(rpc_url: str, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYER_")}
    environment.update(RPC_URL=rpc_url, **env)
    return subprocess.run(
        [str(BIN / "brownie"), "run", "scripts/deploy.py", "--network", "rpc"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_deploy_to_a_separately_started_node_with_a_key(separate_anvil):
    out = deploy_on_rpc(separate_anvil, DEPLOYER_KEY=ANVIL_KEY_1)

    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((ROOT / "deployments" / "rpc.json").read_text())
    assert record["chain_id"] == 31337
    assert record["deployer"] == Account.from_key(ANVIL_KEY_1).address
    assert record["plans"]["basic"] == 1
    assert "Launching" not in out.stdout  # attached, did not start a node


def test_deploy_signs_with_an_encrypted_keystore(separate_anvil, tmp_path):
    keystore = tmp_path / "deployer.json"
    keystore.write_text(json.dumps(Account.encrypt(ANVIL_KEY_1, "correct horse")))

    out = deploy_on_rpc(separate_anvil, DEPLOYER_KEYSTORE=str(keystore), DEPLOYER_PASSWORD="correct horse")

    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((ROOT / "deployments" / "rpc.json").read_text())
    assert record["deployer"] == Account.from_key(ANVIL_KEY_1).address


def test_deploy_without_a_signer_says_what_to_set(separate_anvil):
    out = deploy_on_rpc(separate_anvil)

    assert out.returncode != 0
    assert "DEPLOYER_KEY" in out.stdout + out.stderr
