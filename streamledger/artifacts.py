"""Compiled contract artifacts (ABI and bytecode) from brownie's build folder.

The billing system is one address with several ABIs behind it (IptvBilling plus the modules its fallback
delegates to); `billing_abi()` merges them so any web3 client sees the whole surface.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BILLING_PARTS = ("IptvBilling", "UsageModule", "SubscriptionModule", "CatalogueModule", "ViewModule")


class ArtifactError(RuntimeError):
    """A contract artifact is missing or unreadable."""


def build_dir() -> Path:
    """Where compiled artifacts live: $STREAMLEDGER_BUILD, else the project's build/contracts."""
    return Path(os.environ.get("STREAMLEDGER_BUILD", ROOT / "build" / "contracts"))


@cache
def artifact(name: str) -> dict[str, Any]:
    path = build_dir() / f"{name}.json"
    if not path.exists():
        raise ArtifactError(f"{path} not found: compile first (`make compile` or `brownie compile`)")
    with path.open() as fp:
        return json.load(fp)


def abi(name: str) -> list[dict[str, Any]]:
    return artifact(name)["abi"]


def bytecode(name: str) -> str:
    code = artifact(name)["bytecode"]
    if not code:
        raise ArtifactError(f"{name} has no bytecode (an interface or abstract contract?)")
    return code


@cache
def billing_abi() -> list[dict[str, Any]]:
    """The merged ABI of the billing address: functions, events and errors of every part, deduplicated."""
    seen: set[str] = set()
    merged: list[dict[str, Any]] = []
    for part in BILLING_PARTS:
        for item in abi(part):
            if item.get("type") in ("constructor", "fallback", "receive"):
                continue
            key = json.dumps([item.get("type"), item.get("name"), [i["type"] for i in item.get("inputs", [])]])
            if key not in seen:
                seen.add(key)
                merged.append(item)
    return merged
