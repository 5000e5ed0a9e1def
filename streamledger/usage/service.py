"""Building a feeder from a deployment record and the environment, for the CLI, brownie scripts and tests."""

from __future__ import annotations

import os
from pathlib import Path

from eth_account import Account as EthAccount

from ..chain import Chain
from ..deployment import Deployment
from ..oracle import dev_oracle_key
from .feeder import CustomerDirectory, Feeder, FeederError, OracleSigner
from .journal import Journal

LOCAL_CHAIN_IDS = {31337, 1337}


def oracle_keys(deployment: Deployment, keystores: list[str] | None = None) -> tuple[bytes, ...]:
    """Keys from encrypted keystores ($ORACLE_PASSWORD, or one prompt each), or on a local chain the
    development oracle keys the deployment registered."""
    if keystores:
        from ..chain import Sender

        return tuple(Sender.from_keystore(p, os.environ.get("ORACLE_PASSWORD")).key for p in keystores)
    if deployment.chain_id in LOCAL_CHAIN_IDS:
        keys = []
        for n in range(8):
            key = dev_oracle_key(n)
            if EthAccount.from_key(key).address in deployment.oracle_signers:
                keys.append(bytes(key))
        return tuple(keys)
    return ()


def build_feeder(
    chain: Chain | None,
    deployment: Deployment,
    state_dir: str | Path,
    keystores: list[str] | None = None,
    **options,
) -> Feeder:
    """A feeder whose journal and reports live in `state_dir` (journal.sqlite, quarantine.csv, fraud.csv)."""
    state_dir = Path(state_dir)
    if not deployment.meter_units and deployment.meters:
        raise FeederError(f"{deployment.network}: the deployment record has no meter units; redeploy it")
    keys = oracle_keys(deployment, keystores)
    signer = OracleSigner(keys, deployment.oracle_threshold or 1)
    directory = CustomerDirectory.from_chain(chain.billing(deployment.billing)) if chain else CustomerDirectory()
    if chain is not None and "clock" not in options:
        # "Now" is the chain's time: what a deadline is checked against, and on a development chain moved
        # forward by time travel.
        options["clock"] = lambda: chain.w3.eth.get_block("latest")["timestamp"]
    return Feeder(
        deployment,
        Journal(state_dir / "journal.sqlite"),
        state_dir,
        signer,
        directory,
        deployment.meter_units,
        chain=chain,
        **options,
    )
