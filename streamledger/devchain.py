"""Development-chain helpers (anvil, ganache): time travel, ETH for fresh accounts, and an anvil of our own on a
free loopback port (AnvilNode) for the tests and benchmarks that restart a node. Never on real networks."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from eth_account import Account as EthAccount
from web3 import Web3

from .artifacts import ROOT
from .chain import Sender


def time_travel(w3: Web3, seconds: int) -> int:
    """Moves the chain clock forward and mines a block; returns the new block timestamp."""
    w3.provider.make_request("evm_increaseTime", [int(seconds)])
    w3.provider.make_request("evm_mine", [])
    return w3.eth.get_block("latest")["timestamp"]


def now(w3: Web3) -> int:
    return w3.eth.get_block("latest")["timestamp"]


def make_wallets(w3: Web3, funder: str, count: int, seed: str, eth: int = 10**18) -> list[Sender]:
    """`count` deterministic customer wallets (keys derived from `seed`), each given `eth` wei by `funder`."""
    wallets = []
    for i in range(count):
        key = Web3.keccak(text=f"{seed}/{i}")
        acct = EthAccount.from_key(key)
        if w3.eth.get_balance(acct.address) < eth // 2:
            tx = w3.eth.send_transaction({"from": funder, "to": acct.address, "value": eth})
            w3.eth.wait_for_transaction_receipt(tx)
        wallets.append(Sender(acct.address, bytes(key)))
    return wallets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    for candidate in (ROOT / ".venv" / "bin" / "anvil", ROOT / "node_modules" / ".bin" / "anvil"):
        if candidate.exists():
            return str(candidate)
    return "anvil"


class AnvilNode:
    """An anvil on a free loopback port; with `state`, it keeps its chain in that file across restarts."""

    def __init__(self, state: Path | None = None, accounts: int = 12, extra: tuple[str, ...] = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = state
        self.accounts = accounts
        self.extra = extra
        self.proc: subprocess.Popen | None = None

    def start(self) -> AnvilNode:
        cmd = [
            anvil_binary(),
            "--port",
            str(self.port),
            "--accounts",
            str(self.accounts),
            "--silent",
            "--gas-limit",
            "30000000",
            "--block-base-fee-per-gas",
            "0",
        ]
        if self.state is not None:
            cmd += ["--state", str(self.state)]
        cmd += list(self.extra)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("anvil did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # anvil writes --state on the way down
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
