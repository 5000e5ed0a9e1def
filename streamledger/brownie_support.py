"""The bridge from brownie (scripts, console, tests) to the package, which itself needs only web3.

Brownie is imported lazily: nothing else in the package depends on it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .catalogue import load_catalogue
from .chain import Chain, Sender
from .deployment import Deployment, deploy_system

log = logging.getLogger(__name__)

LOCAL_CHAIN_IDS = {31337, 1337}  # anvil/hardhat, ganache
DEFAULT_CATALOGUE = Path(__file__).resolve().parent.parent / "catalogue" / "development.yaml"


def active_network() -> str:
    from brownie import network

    return network.show_active()


def is_development() -> bool:
    """True on a chain brownie launched itself (anvil, ganache): its accounts are unlocked."""
    from brownie._config import CONFIG

    return CONFIG.network_type == "development"


def chain() -> Chain:
    """A Chain on brownie's web3. Development chains sign with unlocked account 0; every other network with
    $DEPLOYER_KEY or $DEPLOYER_KEYSTORE (never a key in the repository)."""
    from brownie import accounts, web3

    sender = Sender(accounts[0].address) if is_development() else Sender.from_env()
    return Chain(web3, sender)


def local_accounts(ch: Chain) -> list[str] | None:
    """The node's unlocked accounts on a local chain (for "dev:<n>" payouts); None on real networks."""
    if ch.w3.eth.chain_id not in LOCAL_CHAIN_IDS:
        return None
    return list(ch.w3.eth.accounts)


def deploy(catalogue_path: str | Path = DEFAULT_CATALOGUE) -> Deployment:
    ch = chain()
    catalogue = load_catalogue(catalogue_path)
    dev_accounts = local_accounts(ch)
    token = os.environ.get("STABLECOIN_ADDRESS") or catalogue.token.address
    deployment = deploy_system(ch, catalogue, active_network(), token=token, dev_accounts=dev_accounts)
    path = deployment.save()
    log.info("deployment written to %s", path)
    return deployment


def billing_contract(deployment: Deployment):
    """A brownie Contract for the billing address with the merged ABI of all its parts."""
    from brownie import Contract

    from .artifacts import billing_abi

    return Contract.from_abi("IptvBilling", deployment.billing, billing_abi())
