"""Chain access on plain web3.py: who signs, how a transaction is sent, and what a revert means.

Everything in the package that writes to the chain goes through `Chain.transact`, so every failure comes
back as a `TransactionFailed` carrying the decoded custom error and the transaction hash.
"""

from __future__ import annotations

import getpass
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account as EthAccount
from web3 import Web3
from web3.contract.contract import Contract, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError
from web3.types import TxReceipt

from . import artifacts
from .errors import DecodedError, ErrorDecoder, billing_decoder

log = logging.getLogger(__name__)


class TransactionFailed(RuntimeError):
    """A transaction (or its gas estimate) reverted. `error` is the decoded custom error, if known."""

    def __init__(self, what: str, error: DecodedError | None, tx_hash: str | None = None, detail: str = ""):
        self.what = what
        self.error = error
        self.tx_hash = tx_hash
        reason = str(error) if error else (detail or "reverted without a known error")
        where = f" (tx {tx_hash})" if tx_hash else ""
        super().__init__(f"{what} reverted: {reason}{where}")

    @property
    def name(self) -> str | None:
        return self.error.name if self.error else None


@dataclass(frozen=True)
class Sender:
    """An account that signs: with a local key, or (key=None) unlocked on a development node."""

    address: str
    key: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_key(cls, key: str | bytes) -> Sender:
        acct = EthAccount.from_key(key)
        return cls(acct.address, bytes(acct.key))

    @classmethod
    def from_keystore(cls, path: str | Path, password: str | None = None) -> Sender:
        data = Path(path).read_text()
        if password is None:
            password = getpass.getpass(f"Password for keystore {path}: ")
        return cls.from_key(EthAccount.decrypt(data, password))

    @classmethod
    def from_env(cls) -> Sender:
        """$DEPLOYER_KEY (dev and test nodes), else $DEPLOYER_KEYSTORE with $DEPLOYER_PASSWORD or a prompt."""
        if key := os.environ.get("DEPLOYER_KEY"):
            return cls.from_key(key)
        if path := os.environ.get("DEPLOYER_KEYSTORE"):
            return cls.from_keystore(path, os.environ.get("DEPLOYER_PASSWORD"))
        raise RuntimeError("no signer: set DEPLOYER_KEY, or DEPLOYER_KEYSTORE (and DEPLOYER_PASSWORD or type it)")


def _revert_data(exc: Exception) -> bytes | None:
    data = getattr(exc, "data", None)
    if data is None and exc.args and isinstance(exc.args[0], dict):
        data = exc.args[0].get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, dict):  # some nodes nest it
        inner = data.get("data")
        if isinstance(inner, str) and inner.startswith("0x"):
            return bytes.fromhex(inner[2:])
    return None


class Chain:
    """A web3 connection plus the account that signs for it."""

    def __init__(self, w3: Web3, sender: Sender, decoder: ErrorDecoder | None = None, timeout: float = 120):
        self.w3 = w3
        self.sender = sender
        self.decoder = decoder or billing_decoder()
        self.timeout = timeout

    @classmethod
    def connect(cls, rpc_url: str, sender: Sender | None = None) -> Chain:
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 60}))
        if not w3.is_connected():
            raise RuntimeError(f"cannot reach a node at {rpc_url}")
        return cls(w3, sender or Sender.from_env())

    def with_sender(self, sender: Sender) -> Chain:
        return Chain(self.w3, sender, self.decoder, self.timeout)

    # ----- contracts -----

    def contract(self, address: str, abi: list[dict[str, Any]]) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)

    def billing(self, address: str) -> Contract:
        return self.contract(address, artifacts.billing_abi())

    def token(self, address: str) -> Contract:
        return self.contract(address, artifacts.abi("TestStablecoin"))

    # ----- transactions -----

    def transact(self, call: ContractFunction, what: str | None = None, gas: int | None = None) -> TxReceipt:
        """Sends `call` from the sender and waits for the receipt; raises TransactionFailed on a revert."""
        what = what or call.fn_name
        params: dict[str, Any] = {"from": self.sender.address}
        if gas is not None:
            params["gas"] = gas
        try:
            tx = call.build_transaction(params)
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            raise self._failure(what, exc) from None
        except ValueError as exc:  # brownie's revert middleware raises ValueError({'data': ...})
            if not (exc.args and isinstance(exc.args[0], dict) and "data" in exc.args[0]):
                raise
            raise self._failure(what, exc) from None
        return self._send(tx, what)

    def deploy(self, name: str, *args: Any) -> str:
        """Deploys artifact `name` with constructor `args`; returns the address."""
        factory = self.w3.eth.contract(abi=artifacts.abi(name), bytecode=artifacts.bytecode(name))
        try:
            tx = factory.constructor(*args).build_transaction({"from": self.sender.address})
        except (ContractCustomError, ContractLogicError) as exc:
            raise self._failure(f"deploy {name}", exc) from None
        receipt = self._send(tx, f"deploy {name}")
        log.info("deployed %s at %s", name, receipt["contractAddress"])
        return receipt["contractAddress"]

    def _send(self, tx: dict[str, Any], what: str) -> TxReceipt:
        tx = dict(tx)
        tx.setdefault("nonce", self.w3.eth.get_transaction_count(self.sender.address, "pending"))
        if self.sender.key is not None:
            signed = self.w3.eth.account.sign_transaction(tx, self.sender.key)
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            tx_hash = self.w3.eth.send_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout)
        if receipt["status"] != 1:
            raise self._replay_failure(what, tx, receipt)
        return receipt

    def _failure(self, what: str, exc: Exception) -> TransactionFailed:
        data = _revert_data(exc)
        return TransactionFailed(what, self.decoder.decode(data), detail=str(exc))

    def _replay_failure(self, what: str, tx: dict[str, Any], receipt: TxReceipt) -> TransactionFailed:
        """A mined revert carries no data in the receipt: replay the call at its block to decode it."""
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"])
        except (ContractCustomError, ContractLogicError, ContractPanicError) as exc:
            return TransactionFailed(what, self.decoder.decode(_revert_data(exc)), tx_hash, str(exc))
        except Exception as exc:  # the replay itself failed (pruned state): say so
            return TransactionFailed(what, None, tx_hash, f"replay failed: {exc}")
        return TransactionFailed(what, None, tx_hash, "reverted (out of gas?)")
