"""The main job on a local chain: deploy, onboard customers, bill them for several periods through the
keeper, pay the providers, and print what happened. `make demo` runs it through scripts/demo.py."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .catalogue import load_catalogue
from .chain import Chain
from .deployment import Deployment, deploy_system
from .devchain import make_wallets, time_travel
from .keeper import Keeper
from .money import fmt_units, to_units
from .permit import sign_permit
from .tables import table

log = logging.getLogger(__name__)
DAY = 86_400
STATES = ["none", "trial", "active", "grace", "suspended", "cancelled", "ended"]


@dataclass
class DemoResult:
    deployment: Deployment
    gas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    earnings_withdrawn: dict[str, int] = field(default_factory=dict)
    renewed: int = 0
    elapsed: float = 0.0


def run(chain: Chain, catalogue_path: Path, network: str, dev_accounts: list[str], periods: int = 2) -> DemoResult:
    started = time.monotonic()
    catalogue = load_catalogue(catalogue_path)
    print("1/5 deploying the billing system and loading the catalogue")
    dep = deploy_system(chain, catalogue, network, dev_accounts=dev_accounts)
    dep.save()
    result = DemoResult(dep)
    billing = chain.billing(dep.billing)
    token = chain.token(dep.token)
    unit = 10**dep.token_decimals

    print("2/5 onboarding customers: faucet, then a deposit with an EIP-2612 permit (one transaction)")
    wallets = make_wallets(chain.w3, chain.sender.address, 6, seed=f"demo/{dep.billing}")
    deposits = [60, 60, 60, 60, 80, 12]
    for wallet, whole in zip(wallets, deposits, strict=True):
        customer = chain.with_sender(wallet)
        amount = whole * unit
        customer.transact(token.functions.mint(wallet.address, amount), "faucet")
        deadline = chain.w3.eth.get_block("latest")["timestamp"] + 3600
        v, r, s = sign_permit(customer, token, dep.billing, amount, deadline)
        receipt = customer.transact(billing.functions.depositWithPermit(amount, deadline, v, r, s), "deposit")
        result.gas["deposit with permit"].append(receipt["gasUsed"])

    print("3/5 subscribing: Basic, a Premium trial, Basic + Sports add-on, and one customer short of funds")
    choices = ["basic", "basic", "basic", "premium", "basic", "basic"]
    for wallet, plan_key in zip(wallets, choices, strict=True):
        customer = chain.with_sender(wallet)
        plan_id = dep.plans[plan_key]
        price = billing.functions.planOf(plan_id).call()[0]
        receipt = customer.transact(billing.functions.subscribe(plan_id, price), f"subscribe {plan_key}")
        result.gas["subscribe"].append(receipt["gasUsed"])
    sports = dep.plans["sports"]
    addon_price = billing.functions.planOf(sports).call()[0]
    receipt = chain.with_sender(wallets[4]).transact(billing.functions.subscribe(sports, addon_price), "add-on")
    result.gas["subscribe add-on"].append(receipt["gasUsed"])

    keeper = Keeper(chain, dep)
    for period in range(1, periods + 1):
        print(f"4/5 period {period}: 30 days pass; the keeper renews what is due and releases escrow")
        time_travel(chain.w3, 30 * DAY + 3600)
        report = keeper.run_once()
        result.renewed += report.renewed
        if report.batches:
            result.gas["renewal batch"].append(report.gas_used)
        print(f"    {report.summary()}")

    print("5/5 providers withdraw their released earnings")
    for key, provider_id in dep.providers.items():
        payout = billing.functions.providerPayout(provider_id).call()
        earned = billing.functions.earningsOf(payout).call()
        if earned:
            receipt = chain.w3.eth.wait_for_transaction_receipt(
                chain.w3.eth.send_transaction(billing.functions.withdrawEarnings().build_transaction({"from": payout}))
            )
            result.gas["provider withdraw"].append(receipt["gasUsed"])
        result.earnings_withdrawn[key] = earned

    result.elapsed = time.monotonic() - started
    print()
    print(summary(chain, result, wallets, to_units))
    return result


def summary(chain: Chain, result: DemoResult, wallets, _to_units=None) -> str:
    dep = result.deployment
    billing = chain.billing(dep.billing)
    token = chain.token(dep.token)
    sym, dec = dep.token_symbol, dep.token_decimals
    plan_names = {v: k for k, v in dep.plans.items()}
    rows = []
    for wallet in wallets:
        view = billing.functions.accountOf(wallet.address).call()
        rows.append(
            [
                f"#{view[0]} {wallet.address[:10]}",
                plan_names.get(view[2], "-"),
                STATES[view[3]],
                fmt_units(view[1], dec, sym),
                "yes" if billing.functions.isEntitled(wallet.address, 1).call() else "no",
            ]
        )
    out = [table(["customer", "plan", "state", "balance", "package 1"], rows, "Customers")]
    out.append("")
    out.append(
        table(
            ["provider", "withdrawn"],
            [[k, fmt_units(v, dec, sym)] for k, v in result.earnings_withdrawn.items()],
            "Provider revenue (released escrow, withdrawn)",
        )
    )
    out.append("")
    out.append(
        table(
            ["operation", "count", "gas (mean)"],
            [[op, len(v), f"{sum(v) // len(v):,}"] for op, v in result.gas.items() if v],
            "Gas used",
        )
    )
    held = token.functions.balanceOf(dep.billing).call()
    out.append("")
    out.append(f"Tokens held by the billing contract: {fmt_units(held, dec, sym)}")
    out.append(f"Renewals charged by the keeper: {result.renewed}. Finished in {result.elapsed:.1f} s.")
    return "\n".join(out)
