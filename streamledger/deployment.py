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
from .money import to_units

log = logging.getLogger(__name__)

DEPLOYMENTS_DIR = ROOT / "deployments"
OPERATOR_ROLE = Web3.keccak(text="OPERATOR_ROLE")
PAUSER_ROLE = Web3.keccak(text="PAUSER_ROLE")
ARBITER_ROLE = Web3.keccak(text="ARBITER_ROLE")
HOUR = 3_600
DAY = 86_400


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
    meters: dict[str, int] = field(default_factory=dict)
    meter_units: dict[str, str] = field(default_factory=dict)
    ppv_events: dict[str, int] = field(default_factory=dict)
    vod_titles: dict[str, int] = field(default_factory=dict)
    oracle_signers: list[str] = field(default_factory=list)
    oracle_threshold: int = 0

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

    @classmethod
    def offline(cls, network: str = "offline") -> Deployment:
        """A record for an imaginary chain with the development catalogue's meters and title, signed for by the
        2-of-3 development oracle keys: the feeder's rules need no node (package tests, the feeder benchmark)."""
        from eth_account import Account

        from .oracle import dev_oracle_key

        return cls(
            network=network,
            chain_id=31337,
            billing="0x" + "42" * 20,
            token="0x" + "43" * 20,
            token_decimals=6,
            token_symbol="tUSD",
            modules={},
            deployer="0x" + "44" * 20,
            block=0,
            meters={"premium_minutes": 1, "gb_delivered": 2},
            meter_units={"premium_minutes": "minute", "gb_delivered": "MB"},
            vod_titles={"the_long_night": 1},
            oracle_signers=[Account.from_key(dev_oracle_key(i)).address for i in range(3)],
            oracle_threshold=2,
        )


def event_args(contract: Any, event: str, receipt: Any) -> list[dict[str, Any]]:
    """The decoded arguments of every `event` emitted by `contract` in `receipt`."""
    return [dict(e["args"]) for e in getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)]


def resolve_payout(payout: str, dev_accounts: list[str] | None) -> str:
    """An address from a catalogue entry: "0x…", "dev:<n>" (development account n) or "dev-oracle:<n>"."""
    if payout.startswith("dev-oracle:"):
        if dev_accounts is None:
            raise DeploymentError(f"{payout!r} is a development oracle key, but this is not a dev network")
        from eth_account import Account

        from .oracle import dev_oracle_key

        return Account.from_key(dev_oracle_key(int(payout[11:]))).address
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
    load_usage_catalogue(chain, billing, catalogue, deployment, dev_accounts, decimals)
    log.info(
        "catalogue loaded: %d providers, %d splits, %d plans, %d meters, %d PPV events, %d VOD titles",
        len(deployment.providers),
        len(deployment.splits),
        len(deployment.plans),
        len(deployment.meters),
        len(deployment.ppv_events),
        len(deployment.vod_titles),
    )


def load_usage_catalogue(
    chain: Chain,
    billing: Any,
    catalogue: Catalogue,
    deployment: Deployment,
    dev_accounts: list[str] | None,
    decimals: int,
) -> None:
    """Meters, pay-per-view events, VOD titles, oracle signers, windows and arbiters."""
    for meter in catalogue.meters:
        call = billing.functions.addMeter(
            meter.name, to_units(meter.price, decimals), meter.per, deployment.splits[meter.split]
        )
        receipt = chain.transact(call, f"add meter {meter.key}")
        deployment.meters[meter.key] = event_args(billing, "MeterAdded", receipt)[0]["meterId"]
        deployment.meter_units[meter.key] = meter.unit
    now = chain.w3.eth.get_block("latest")["timestamp"]
    for ev in catalogue.ppv_events:
        start = now + ev.starts_in_hours * HOUR
        call = billing.functions.addPpvEvent(
            ev.name,
            to_units(ev.price, decimals),
            ev.package,
            start,
            start,
            start + ev.duration_hours * HOUR,
            deployment.splits[ev.split],
        )
        receipt = chain.transact(call, f"add PPV event {ev.key}")
        deployment.ppv_events[ev.key] = event_args(billing, "PpvEventAdded", receipt)[0]["eventId"]
    for title in catalogue.vod_titles:
        call = billing.functions.addVodTitle(
            title.name,
            to_units(title.price, decimals),
            title.package,
            title.rental_hours * HOUR,
            deployment.splits[title.split],
        )
        receipt = chain.transact(call, f"add VOD title {title.key}")
        deployment.vod_titles[title.key] = event_args(billing, "VodTitleAdded", receipt)[0]["titleId"]
    if catalogue.oracle.signers:
        signers = [resolve_payout(s, dev_accounts) for s in catalogue.oracle.signers]
        chain.transact(billing.functions.setSigners(signers, [], catalogue.oracle.threshold), "set oracle signers")
        deployment.oracle_signers = signers
        deployment.oracle_threshold = catalogue.oracle.threshold
    if catalogue.dispute_window_days * DAY != billing.functions.disputeWindow().call():
        chain.transact(billing.functions.setDisputeWindow(catalogue.dispute_window_days * DAY), "set dispute window")
    if catalogue.cap_period_days * DAY != billing.functions.capPeriod().call():
        chain.transact(billing.functions.setCapPeriod(catalogue.cap_period_days * DAY), "set cap period")
    for arbiter in catalogue.arbiters:
        address = resolve_payout(arbiter, dev_accounts)
        chain.transact(billing.functions.grantRole(ARBITER_ROLE, address), f"grant arbiter to {address}")
