"""Sending survives what happens to transactions on a real network: a transaction dropped from the pool is
sent again and runs once; one stuck behind a nonce gap runs once, where it is, after the gap is filled; one
whose nonce another transaction took is reported, not retried forever. The node is anvil with automine
switched off; a second thread changes the pool under the sender, as another party would, and mines."""

import threading
import time

import pytest
from brownie import accounts, web3
from eth_account import Account

from streamledger.chain import Chain, NotMined, Sender

Account.enable_unaudited_hdwallet_features()
MNEMONIC = "test test test test test test test test test test test junk"  # anvil's public development mnemonic
KEY = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/11").key


def rpc(method, *params):
    response = web3.provider.make_request(method, list(params))
    if "error" in response:
        raise RuntimeError(response["error"])
    return response["result"]


def pool_of(address):
    """Hashes of `address`'s pending transactions, by nonce."""
    content = rpc("txpool_content")["pending"]
    mine = next((txs for sender, txs in content.items() if sender.lower() == address.lower()), {})
    return {int(nonce): tx["hash"] for nonce, tx in mine.items()}


def wait_for(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("condition not met")


@pytest.fixture
def customer(billing, token, unit):
    sender = Sender.from_key(KEY)
    token.mint(sender.address, 100 * unit, {"from": accounts[0]})
    token.approve(billing, 2**256 - 1, {"from": sender.address})
    return sender


@pytest.fixture
def manual_mining():
    rpc("evm_setAutomine", False)
    try:
        yield
    finally:
        rpc("evm_setAutomine", True)
        rpc("evm_mine")


class Network(threading.Thread):
    """Another party: does `work` to the pool, then mines a block every 0.2 s, as a network keeps doing,
    until stopped."""

    def __init__(self, work):
        super().__init__(daemon=True)
        self.work, self.errors, self.done = work, [], threading.Event()

    def run(self):
        try:
            self.work()
            while not self.done.wait(0.2):
                rpc("evm_mine")
        except Exception as exc:  # reported by the test
            self.errors.append(exc)

    def stop(self):
        self.done.set()
        self.join(10)
        return self.errors


def in_background(work):
    network = Network(work)
    network.start()
    return network


def test_a_transaction_dropped_from_the_pool_is_sent_again_and_runs_once(billing, customer, unit, manual_mining):
    chain = Chain(web3, customer, timeout=1.5)
    deposit = chain.billing(billing.address).functions.deposit(7 * unit)
    nonce = web3.eth.get_transaction_count(customer.address)

    def drop_then_mine():
        first = wait_for(lambda: pool_of(customer.address).get(nonce))
        rpc("anvil_dropTransaction", first)
        wait_for(lambda: pool_of(customer.address).get(nonce))  # the sender noticed and sent it again

    network = in_background(drop_then_mine)
    receipt = chain.transact(deposit)

    assert not network.stop()
    assert receipt["status"] == 1
    assert billing.balanceOf(customer.address) == 7 * unit
    assert web3.eth.get_transaction_count(customer.address) == nonce + 1


def test_a_transaction_behind_a_nonce_gap_runs_once_after_the_gap_is_filled(
    billing, token, customer, unit, manual_mining
):
    nonce = web3.eth.get_transaction_count(customer.address)
    # an earlier transaction of the same key, sent elsewhere, that the node will lose
    earlier = Account.sign_transaction(
        {
            "to": customer.address,
            "value": 0,
            "gas": 21_000,
            "gasPrice": web3.eth.gas_price,
            "nonce": nonce,
            "chainId": web3.eth.chain_id,
        },
        KEY,
    )
    web3.eth.send_raw_transaction(earlier.raw_transaction)
    chain = Chain(web3, customer, timeout=1.5)
    deposit = chain.billing(billing.address).functions.deposit(5 * unit)

    def lose_the_earlier_one_then_mine():
        wait_for(lambda: pool_of(customer.address).get(nonce + 1))  # ours, queued behind it
        rpc("anvil_dropTransaction", "0x" + bytes(earlier.hash).hex())

    network = in_background(lose_the_earlier_one_then_mine)
    receipt = chain.transact(deposit)

    assert not network.stop()
    assert receipt["status"] == 1
    assert receipt["transactionHash"] != earlier.hash
    assert billing.balanceOf(customer.address) == 5 * unit  # once, not twice
    assert web3.eth.get_transaction_count(customer.address) == nonce + 2


def test_a_nonce_taken_by_another_transaction_is_reported_and_nothing_runs(billing, customer, unit, manual_mining):
    chain = Chain(web3, customer, timeout=1.5)
    deposit = chain.billing(billing.address).functions.deposit(9 * unit)
    nonce = web3.eth.get_transaction_count(customer.address)

    def replace_it_elsewhere():
        ours = wait_for(lambda: pool_of(customer.address).get(nonce))
        tx = web3.eth.get_transaction(ours)
        fee = int(tx.get("maxFeePerGas", tx.get("gasPrice"))) * 2
        other = Account.sign_transaction(
            {
                "to": customer.address,
                "value": 0,
                "gas": 21_000,
                "gasPrice": fee,
                "nonce": nonce,
                "chainId": web3.eth.chain_id,
            },
            KEY,
        )
        web3.eth.send_raw_transaction(other.raw_transaction)

    network = in_background(replace_it_elsewhere)
    with pytest.raises(NotMined, match=f"nonce {nonce} was taken by another transaction"):
        chain.transact(deposit)

    assert not network.stop()
    assert billing.balanceOf(customer.address) == 0
