"""Development-chain helpers (anvil, ganache): time travel and ETH for fresh accounts. Never on real networks."""

from __future__ import annotations

from eth_account import Account as EthAccount
from web3 import Web3

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
