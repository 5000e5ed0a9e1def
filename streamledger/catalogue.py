"""The operator's catalogue file (YAML): providers, revenue splits and plans, loaded at deployment.

The format is documented in docs/catalogue.md; `catalogue/development.yaml` is the default for local chains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .money import AmountError, to_units

DAY = 86_400


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class TokenSpec:
    name: str = "Test USD"
    symbol: str = "tUSD"
    decimals: int = 6
    address: str | None = None  # an existing stablecoin (live networks); None deploys TestStablecoin locally


@dataclass(frozen=True)
class ProviderSpec:
    key: str
    name: str
    payout: str  # an address, or "dev:<n>" for development account n


@dataclass(frozen=True)
class PlanSpec:
    key: str
    name: str
    price: str  # whole tokens, decimal string
    period_days: int
    grace_days: int
    trial_days: int
    max_streams: int
    split: str
    packages: tuple[int, ...]
    add_on: bool = False

    def params(self, decimals: int, split_id: int) -> tuple:
        """The PlanParams tuple for IIptvBilling.addPlan."""
        return (
            self.name,
            to_units(self.price, decimals),
            self.period_days * DAY,
            self.trial_days * DAY,
            self.grace_days * DAY,
            self.max_streams,
            split_id,
            self.add_on,
            list(self.packages),
        )


@dataclass(frozen=True)
class MeterSpec:
    key: str
    name: str
    unit: str  # what one unit of quantity is: "minute" or "MB"
    price: str  # whole tokens per `per` units
    per: int
    split: str


@dataclass(frozen=True)
class PpvSpec:
    key: str
    name: str
    price: str
    package: int
    starts_in_hours: int  # from deployment; sales close at the start
    duration_hours: int
    split: str


@dataclass(frozen=True)
class VodSpec:
    key: str
    name: str
    price: str
    package: int
    rental_hours: int
    split: str


@dataclass(frozen=True)
class OracleSpec:
    signers: tuple[str, ...] = ()  # addresses, or "dev-oracle:<n>" on local chains
    threshold: int = 1


@dataclass(frozen=True)
class Catalogue:
    token: TokenSpec
    providers: tuple[ProviderSpec, ...]
    splits: dict[str, dict[str, int]] = field(default_factory=dict)  # key -> {provider key: bps}, ordered
    plans: tuple[PlanSpec, ...] = ()
    meters: tuple[MeterSpec, ...] = ()
    ppv_events: tuple[PpvSpec, ...] = ()
    vod_titles: tuple[VodSpec, ...] = ()
    oracle: OracleSpec = OracleSpec()
    dispute_window_days: int = 3
    cap_period_days: int = 30
    arbiters: tuple[str, ...] = ()
    source: str = "<memory>"


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise CatalogueError(f"{where}: {message}")


def _int(value: Any, where: str, minimum: int = 0) -> int:
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= minimum,
        where,
        f"expected an integer >= {minimum}, got {value!r}",
    )
    return value


def parse_catalogue(data: dict[str, Any], source: str = "<memory>") -> Catalogue:
    _require(isinstance(data, dict), source, "top level must be a mapping")
    token_data = data.get("token") or {}
    token = TokenSpec(
        name=str(token_data.get("name", TokenSpec.name)),
        symbol=str(token_data.get("symbol", TokenSpec.symbol)),
        decimals=_int(token_data.get("decimals", TokenSpec.decimals), f"{source}: token.decimals"),
        address=str(token_data["address"]) if token_data.get("address") else None,
    )
    providers = []
    for key, entry in (data.get("providers") or {}).items():
        where = f"{source}: providers.{key}"
        _require(isinstance(entry, dict) and "payout" in entry, where, "needs a payout")
        providers.append(ProviderSpec(str(key), str(entry.get("name", key)), str(entry["payout"])))
    _require(bool(providers), source, "needs at least one provider")
    known = {p.key for p in providers}

    splits: dict[str, dict[str, int]] = {}
    for key, shares in (data.get("splits") or {}).items():
        where = f"{source}: splits.{key}"
        _require(isinstance(shares, dict) and shares, where, "maps provider keys to basis points")
        for provider, bps in shares.items():
            _require(provider in known, where, f"unknown provider {provider!r}")
            _int(bps, f"{where}.{provider}", 1)
        _require(sum(shares.values()) == 10_000, where, f"shares sum to {sum(shares.values())}, not 10000")
        splits[str(key)] = {str(k): int(v) for k, v in shares.items()}

    plans = []
    for n, entry in enumerate(data.get("plans") or [], start=1):
        where = f"{source}: plans[{n}]"
        _require(isinstance(entry, dict), where, "must be a mapping")
        for required in ("key", "name", "price", "period_days", "split", "packages"):
            _require(required in entry, where, f"missing {required}")
        _require(entry["split"] in splits, where, f"unknown split {entry['split']!r}")
        packages = entry["packages"]
        _require(
            isinstance(packages, list) and all(isinstance(p, int) and p > 0 for p in packages),
            where,
            "packages must be a list of positive integers",
        )
        price = str(entry["price"])
        try:
            _require(to_units(price, token.decimals) > 0, where, "price must be positive")
        except AmountError as exc:
            raise CatalogueError(f"{where}: price {exc}") from None
        plan = PlanSpec(
            key=str(entry["key"]),
            name=str(entry["name"]),
            price=price,
            period_days=_int(entry["period_days"], f"{where}.period_days", 1),
            grace_days=_int(entry.get("grace_days", 0), f"{where}.grace_days"),
            trial_days=_int(entry.get("trial_days", 0), f"{where}.trial_days"),
            max_streams=_int(entry.get("max_streams", 1), f"{where}.max_streams", 1),
            split=str(entry["split"]),
            packages=tuple(packages),
            add_on=bool(entry.get("add_on", False)),
        )
        _require(plan.grace_days < plan.period_days, where, "grace_days must be shorter than period_days")
        plans.append(plan)
    keys = [p.key for p in plans]
    _require(len(keys) == len(set(keys)), source, "plan keys must be unique")

    def price_of(entry: dict, where: str) -> str:
        price = str(entry["price"])
        try:
            _require(to_units(price, token.decimals) > 0, where, "price must be positive")
        except AmountError as exc:
            raise CatalogueError(f"{where}: price {exc}") from None
        return price

    def needs(entry: Any, where: str, *fields: str) -> None:
        _require(isinstance(entry, dict), where, "must be a mapping")
        for name in fields:
            _require(name in entry, where, f"missing {name}")
        if "split" in fields:
            _require(entry["split"] in splits, where, f"unknown split {entry['split']!r}")

    meters = []
    for n, entry in enumerate(data.get("meters") or [], start=1):
        where = f"{source}: meters[{n}]"
        needs(entry, where, "key", "name", "unit", "price", "split")
        meters.append(
            MeterSpec(
                str(entry["key"]),
                str(entry["name"]),
                str(entry["unit"]),
                price_of(entry, where),
                _int(entry.get("per", 1), f"{where}.per", 1),
                str(entry["split"]),
            )
        )
    used_packages = {pkg for plan in plans for pkg in plan.packages}
    ppv = []
    for n, entry in enumerate(data.get("ppv_events") or [], start=1):
        where = f"{source}: ppv_events[{n}]"
        needs(entry, where, "key", "name", "price", "package", "starts_in_hours", "duration_hours", "split")
        package = _int(entry["package"], f"{where}.package", 1)
        _require(package not in used_packages, where, f"package {package} is already used")
        used_packages.add(package)
        ppv.append(
            PpvSpec(
                str(entry["key"]),
                str(entry["name"]),
                price_of(entry, where),
                package,
                _int(entry["starts_in_hours"], f"{where}.starts_in_hours", 1),
                _int(entry["duration_hours"], f"{where}.duration_hours", 1),
                str(entry["split"]),
            )
        )
    vod = []
    for n, entry in enumerate(data.get("vod_titles") or [], start=1):
        where = f"{source}: vod_titles[{n}]"
        needs(entry, where, "key", "name", "price", "package", "rental_hours", "split")
        package = _int(entry["package"], f"{where}.package", 1)
        _require(package not in used_packages, where, f"package {package} is already used")
        used_packages.add(package)
        vod.append(
            VodSpec(
                str(entry["key"]),
                str(entry["name"]),
                price_of(entry, where),
                package,
                _int(entry["rental_hours"], f"{where}.rental_hours", 1),
                str(entry["split"]),
            )
        )
    oracle_data = data.get("oracle") or {}
    signers = tuple(str(x) for x in oracle_data.get("signers") or ())
    threshold = _int(oracle_data.get("threshold", 1 if signers else 0), f"{source}: oracle.threshold")
    if signers:
        _require(1 <= threshold <= len(signers), f"{source}: oracle", "threshold must be between 1 and the signers")
    settings = data.get("settings") or {}
    return Catalogue(
        token,
        tuple(providers),
        splits,
        tuple(plans),
        tuple(meters),
        tuple(ppv),
        tuple(vod),
        OracleSpec(signers, threshold),
        _int(settings.get("dispute_window_days", 3), f"{source}: settings.dispute_window_days"),
        _int(settings.get("cap_period_days", 30), f"{source}: settings.cap_period_days", 1),
        tuple(str(x) for x in (data.get("roles") or {}).get("arbiters") or ()),
        source,
    )


def load_catalogue(path: str | Path) -> Catalogue:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from None
    return parse_catalogue(data, str(path))
