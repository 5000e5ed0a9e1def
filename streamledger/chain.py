"""Chain access on plain web3.py: who signs, how a transaction is sent, and what a revert means.

Everything in the package that writes to the chain goes through `Chain.transact`, so every failure comes
back as a `TransactionFailed` carrying the decoded custom error and the transaction hash.
"""

from __future__ import annotations

import getpass
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_account import Account as EthAccount
from web3 import Web3
from web3.contract.contract import Contract, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError, TransactionNotFound
from web3.providers.rpc.utils import ExceptionRetryConfiguration
from web3.types import TxReceipt

from . import artifacts
from .errors import DecodedError, ErrorDecoder, billing_decoder

log = logging.getLogger(__name__)

# A node that restarts, or a network that blips, is waited for: reads and raw sends are retried by the
# provider with exponential backoff (0.25 s doubling, about two minutes in all), sends by Chain._send.
UNREACHABLE = (requests.exceptions.ConnectionError, requests.exceptions.Timeout)


def retrying(call, what: str, attempts: int = 10, delay: float = 0.25):
    """`call()`, again with exponential backoff (0.25 s doubling, at most 30 s apart) while the node is
    unreachable: for requests the provider does not retry itself (JSON-RPC batches)."""
    for attempt in range(attempts):
        try:
            return call()
        except UNREACHABLE:
            if attempt == attempts - 1:
                raise
            log.warning("%s: node unreachable, trying again in %.1f s", what, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30)
    raise AssertionError("unreachable")


def connect_web3(rpc_url: str, timeout: float = 60, retries: int = 9, backoff: float = 0.25) -> Web3:
    """A web3 on `rpc_url` whose reads (and raw transaction sends, which are idempotent) survive a node that
    is briefly unreachable."""
    provider = Web3.HTTPProvider(
        rpc_url,
        request_kwargs={"timeout": timeout},
        exception_retry_configuration=ExceptionRetryConfiguration(
            errors=UNREACHABLE, retries=retries, backoff_factor=backoff
        ),
    )
    return Web3(provider)


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


class NotMined(RuntimeError):
    """A transaction that no node would mine after every resend, or whose nonce another transaction took."""


class Chain:
    """A web3 connection plus the account that signs for it.

    Sending survives what happens to transactions on real networks: a transaction dropped from the pool (or
    lost when the node restarted) is sent again; one stuck behind a nonce gap is re-sent at the first free
    nonce; one stuck with too low a fee is replaced with fees raised by 1/8. `timeout` is how long one send
    waits for its receipt before looking into why, `resends` how often it tries again.
    """

    def __init__(
        self,
        w3: Web3,
        sender: Sender,
        decoder: ErrorDecoder | None = None,
        timeout: float = 120,
        resends: int = 3,
    ):
        self.w3 = w3
        self.sender = sender
        self.decoder = decoder or billing_decoder()
        self.timeout = timeout
        self.resends = resends

    @classmethod
    def connect(cls, rpc_url: str, sender: Sender | None = None) -> Chain:
        w3 = connect_web3(rpc_url)
        if not w3.is_connected():
            raise RuntimeError(f"cannot reach a node at {rpc_url}")
        return cls(w3, sender or Sender.from_env())

    def with_sender(self, sender: Sender) -> Chain:
        return Chain(self.w3, sender, self.decoder, self.timeout, self.resends)

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
        if "nonce" not in tx:
            tx["nonce"] = self.w3.eth.get_transaction_count(self.sender.address, "pending")
        sent = [self._broadcast(tx, what)]
        for attempt in range(self.resends + 1):
            receipt = self._await_receipt(sent[-1])
            if receipt is None:
                receipt = self._mined_among(sent)  # an earlier send of ours may have been mined meanwhile
            if receipt is not None:
                if receipt["status"] != 1:
                    raise self._replay_failure(what, tx, receipt)
                return receipt
            if attempt == self.resends:
                break
            resend = self._unstick(tx, sent[-1], what)
            if resend is not None:
                tx = resend
                sent.append(self._broadcast(tx, what))
        raise NotMined(f"{what}: not mined after {len(sent)} sends and {self.resends} checks ({', '.join(sent)})")

    def _broadcast(self, tx: dict[str, Any], what: str) -> str:
        """Sends `tx` (again while the node is unreachable); returns its hash."""

        def send() -> str:
            if self.sender.key is not None:
                signed = self.w3.eth.account.sign_transaction(tx, self.sender.key)
                return "0x" + bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
            return "0x" + bytes(self.w3.eth.send_transaction(tx)).hex()

        try:
            return retrying(send, what)
        except ValueError as exc:
            # a send retried after a blip may have arrived the first time: the node already has it, or has
            # mined it. With a local key the hash is known and the receipt decides; an unlocked development
            # account has no such hash.
            message = str(exc).lower()
            if self.sender.key is None or not ("already known" in message or "nonce too low" in message):
                raise
            return "0x" + bytes(self.w3.eth.account.sign_transaction(tx, self.sender.key).hash).hex()

    def _await_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt, or None when the transaction is not mined within `timeout`, or the node no longer
        knows it (dropped from the pool, or lost in a node restart)."""
        deadline = time.monotonic() + self.timeout
        poll, polls, outage = 0.1, 0, False
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                polls += 1
                if (outage or polls % 20 == 0) and not self._known(tx_hash):
                    return None
                outage = False
            except UNREACHABLE:
                outage = True
                log.warning("waiting for %s: node unreachable", tx_hash)
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)
            poll = min(poll * 1.5, 2.0)

    def _await_receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt, or None when the transaction is not mined within `timeout` (node outages included)."""
        deadline = time.monotonic() + self.timeout
        poll = 0.1
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                pass
            except UNREACHABLE:
                log.warning("waiting for %s: node unreachable", tx_hash)
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)
            poll = min(poll * 1.5, 2.0)

    def _mined_among(self, hashes: list[str]) -> TxReceipt | None:
        for h in hashes:
            try:
                return self.w3.eth.get_transaction_receipt(h)
            except TransactionNotFound:
                continue
        return None

    def _unstick(self, tx: dict[str, Any], last: str, what: str) -> dict[str, Any] | None:
        """Why `last` (tx) was not mined, and what to send instead: the same transaction again when the node
        dropped it, a replacement with fees up 1/8 when it sits in the pool, nothing (fillers for the nonces
        below it are sent) when it waits behind a nonce gap."""
        mined_nonce = self.w3.eth.get_transaction_count(self.sender.address, "latest")
        if mined_nonce > tx["nonce"]:
            # our nonce was used, and not by any of our sends (_mined_among found none): replaced elsewhere
            raise NotMined(f"{what}: nonce {tx['nonce']} was taken by another transaction; nothing of ours was mined")
        if mined_nonce < tx["nonce"]:
            # an earlier transaction of this sender never made it: fill each missing nonce with a 0-value
            # transfer to ourselves, so ours runs once, where it is (sending it again at a lower nonce could
            # run it twice)
            log.warning("%s: nonce gap (%d mined, ours %d): filling it", what, mined_nonce, tx["nonce"])
            for nonce in range(mined_nonce, tx["nonce"]):
                filler = {k: v for k, v in tx.items() if k in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas")}
                filler.update(
                    {"from": self.sender.address, "to": self.sender.address, "value": 0, "gas": 21_000, "nonce": nonce}
                )
                filler.update({"chainId": tx["chainId"]} if "chainId" in tx else {})
                try:
                    self._broadcast(filler, f"{what}: nonce filler {nonce}")
                except ValueError as exc:  # that nonce is in the pool after all (replacement underpriced)
                    log.info("%s: nonce %d not filled: %s", what, nonce, exc)
            return None
        tx = dict(tx)
        if self._known(last):  # still in the pool: too cheap to be picked; replace it at the same nonce
            for key in ("gasPrice", "maxFeePerGas", "maxPriorityFeePerGas"):
                if key in tx:
                    tx[key] = int(tx[key]) * 9 // 8 + 1
            log.warning("%s: %s not mined in %.0f s: replacing it with fees up 1/8", what, last, self.timeout)
        else:
            log.warning("%s: %s was dropped by the node: sending it again", what, last)
        return tx

    def _known(self, tx_hash: str) -> bool:
        try:
            return self.w3.eth.get_transaction(tx_hash) is not None
        except TransactionNotFound:
            return False

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
