"""Deploying the billing system and the deployments/<network>.json record of it."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.logs import DISCARD

from .artifacts import ROOT
from .catalogue import Catalogue
from .chain import Chain

log = logging.getLogger(__name__)

DEPLOYMENTS_DIR = ROOT / "deployments"
OPERATOR_ROLE = Web3.keccak(text="OPERATOR_ROLE")
PAUSER_ROLE = Web3.keccak(text="PAUSER_ROLE")


class DeploymentError(RuntimeError):
    """The deployment could not be made or read; the message says why."""


@dataclass
class Deployment:
    """What a deployment put where. `billing` is the one address customers, wallets and the portal use."""

    network: str
    chain_id: int
    billing: str
    token: str
    token_decimals: int
    token_symbol: str
    modules: dict[str, str]
    deployer: str
    block: int
    providers: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)

    def save(self, directory: Path = DEPLOYMENTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.network}.json"
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, network_or_path: str | Path, directory: Path = DEPLOYMENTS_DIR) -> Deployment:
        path = Path(network_or_path)
        if not path.suffix:
            path = directory / f"{network_or_path}.json"
        if not path.exists():
            raise DeploymentError(f"{path} not found: deploy first (brownie run scripts/deploy.py)")
        data = json.loads(path.read_text())
        return cls(**data)


def event_args(contract: Any, event: str, receipt: Any) -> list[dict[str, Any]]:
    """The decoded arguments of every `event` emitted by `contract` in `receipt`."""
    return [dict(e["args"]) for e in getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)]


def resolve_payout(payout: str, dev_accounts: list[str] | None) -> str:
    if payout.startswith("dev:"):
        if not dev_accounts:
            raise DeploymentError(f"payout {payout!r} names a development account, but this is not a dev network")
        index = int(payout[4:])
        if index >= len(dev_accounts):
            raise DeploymentError(f"payout {payout!r}: only {len(dev_accounts)} development accounts")
        return dev_accounts[index]
    if not Web3.is_address(payout):
        raise DeploymentError(f"payout {payout!r} is not an address")
    return Web3.to_checksum_address(payout)


def deploy_system(
    chain: Chain,
    catalogue: Catalogue,
    network: str,
    token: str | None = None,
    dev_accounts: list[str] | None = None,
    operators: tuple[str, ...] = (),
) -> Deployment:
    """Deploys token (when `token` is None: a TestStablecoin, development only), the billing contract and its
    modules, grants roles and loads the catalogue. The deployer becomes admin and operator."""
    w3 = chain.w3
    start_block = w3.eth.block_number
    if token is None:
        if dev_accounts is None:
            raise DeploymentError("no token address given and this is not a development network")
        spec = catalogue.token
        token = chain.deploy("TestStablecoin", spec.name, spec.symbol, spec.decimals)
    token_contract = chain.token(token)
    decimals = token_contract.functions.decimals().call()
    symbol = token_contract.functions.symbol().call()

    # The fallback chain: IptvBilling -> UsageModule -> SubscriptionModule -> CatalogueModule -> ViewModule.
    view_module = chain.deploy("ViewModule")
    catalogue_module = chain.deploy("CatalogueModule", view_module)
    subscription_module = chain.deploy("SubscriptionModule", catalogue_module)
    usage_module = chain.deploy("UsageModule", subscription_module)
    billing_address = chain.deploy("IptvBilling", token, chain.sender.address, usage_module)
    billing = chain.billing(billing_address)

    for operator in (chain.sender.address, *operators):
        chain.transact(billing.functions.grantRole(OPERATOR_ROLE, operator), f"grant operator to {operator}")

    deployment = Deployment(
        network=network,
        chain_id=w3.eth.chain_id,
        billing=billing_address,
        token=token,
        token_decimals=decimals,
        token_symbol=symbol,
        modules={
            "usage": usage_module,
            "subscription": subscription_module,
            "catalogue": catalogue_module,
            "view": view_module,
        },
        deployer=chain.sender.address,
        block=start_block,
    )
    load_catalogue(chain, billing, catalogue, deployment, dev_accounts, decimals)
    return deployment


def load_catalogue(
    chain: Chain,
    billing: Any,
    catalogue: Catalogue,
    deployment: Deployment,
    dev_accounts: list[str] | None,
    decimals: int,
) -> None:
    """Adds the catalogue's providers, splits and plans; records the ids they got in `deployment`."""
    for provider in catalogue.providers:
        payout = resolve_payout(provider.payout, dev_accounts)
        receipt = chain.transact(billing.functions.addProvider(payout, provider.name), f"add provider {provider.key}")
        deployment.providers[provider.key] = event_args(billing, "ProviderAdded", receipt)[0]["providerId"]
    for key, shares in catalogue.splits.items():
        ids = [deployment.providers[p] for p in shares]
        receipt = chain.transact(billing.functions.addSplit(ids, list(shares.values())), f"add split {key}")
        deployment.splits[key] = event_args(billing, "SplitAdded", receipt)[0]["splitId"]
    for plan in catalogue.plans:
        params = plan.params(decimals, deployment.splits[plan.split])
        receipt = chain.transact(billing.functions.addPlan(params), f"add plan {plan.key}")
        deployment.plans[plan.key] = event_args(billing, "PlanAdded", receipt)[0]["planId"]
    log.info(
        "catalogue loaded: %d providers, %d splits, %d plans",
        len(deployment.providers),
        len(deployment.splits),
        len(deployment.plans),
    )
