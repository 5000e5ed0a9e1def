"""Reconciliation: prove that what the chain charged is what the plans and the usage logs say.

1. Sync: read the billing events in block-range chunks up to head - confirmations, replay them into a Ledger
   (streamledger.ledger), and checkpoint, so the next run resumes where this one stopped.
2. Check the ledger against the chain's own views (balances, escrow, earnings: are the events complete?),
   against itself (splits, prices, maxPrice, one renewal per period, providers paid at most what they earned),
   and against the operator's records: the feeder's journal (full mode) and the raw session logs.
3. Report every discrepancy as CSV and JSON with a short summary; the exit code gates a payout run.

Audit mode needs no operator database: chain data and the public catalogue (or the chain's own catalogue
events) reproduce every provider's payout to the smallest token unit.
"""

from __future__ import annotations

import csv
import json
import logging
import pickle
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from web3 import Web3

from .catalogue import Catalogue
from .chain import retrying
from .deployment import Deployment
from .events import EventReader
from .ledger import Ledger, ceil_div, split_shares

log = logging.getLogger(__name__)

MISSING, EXTRA, DOUBLE, AMOUNT, SPLIT, OVERPAID, BALANCE = (
    "missing charge",
    "extra charge",
    "double charge",
    "amount mismatch",
    "split mismatch",
    "provider paid more than earned",
    "balance mismatch",
)


@dataclass
class Discrepancy:
    kind: str
    subject: str  # customer, provider payee, batch or bucket
    detail: str
    expected: int | str | None = None
    actual: int | str | None = None
    ref: str = ""


@dataclass
class ProviderPayout:
    provider: int
    payee: str
    earned: int  # recomputed: releases of escrow split by the splits' basis points
    credited: int  # EarningsCredited on chain
    withdrawn: int
    owed: int  # earningsOf on chain


@dataclass
class Report:
    block: int
    events: int
    customers: int
    charges: int
    discrepancies: list[Discrepancy] = field(default_factory=list)
    payouts: list[ProviderPayout] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def summary(self) -> str:
        kinds: dict[str, int] = defaultdict(int)
        for d in self.discrepancies:
            kinds[d.kind] += 1
        lines = [
            f"reconciled to block {self.block}: {self.events:,} events, {self.customers:,} customers, "
            f"{self.charges:,} charges, {len(self.payouts)} payees",
            "discrepancies: " + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"),
        ]
        return "\n".join(lines)

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        with (out / "discrepancies.csv").open("w", newline="") as fp:
            writer = csv.writer(fp)
            writer.writerow(["kind", "subject", "detail", "expected", "actual", "ref"])
            writer.writerows([d.kind, d.subject, d.detail, d.expected, d.actual, d.ref] for d in self.discrepancies)
        with (out / "payouts.csv").open("w", newline="") as fp:
            writer = csv.writer(fp)
            writer.writerow(["provider", "payee", "earned", "credited", "withdrawn", "owed"])
            writer.writerows([p.provider, p.payee, p.earned, p.credited, p.withdrawn, p.owed] for p in self.payouts)
        data = {
            "block": self.block,
            "events": self.events,
            "customers": self.customers,
            "charges": self.charges,
            "ok": self.ok,
            "seconds": self.seconds,
            "discrepancies": [asdict(d) for d in self.discrepancies],
            "payouts": [asdict(p) for p in self.payouts],
        }
        (out / "reconciliation.json").write_text(json.dumps(data, indent=2, default=str))
        (out / "summary.txt").write_text(self.summary() + "\n")


class Reconciler:
    def __init__(self, w3: Web3, deployment: Deployment, state_dir: Path, confirmations: int = 0, chunk: int = 5_000):
        from .artifacts import billing_abi

        self.w3 = w3
        self.deployment = deployment
        self.state_dir = Path(state_dir)
        self.confirmations = confirmations
        self.reader = EventReader(w3, deployment.billing, chunk=chunk)
        self.billing = w3.eth.contract(address=Web3.to_checksum_address(deployment.billing), abi=billing_abi())
        self.ledger = Ledger()
        self._load()

    # ----- sync -----

    @property
    def _checkpoint(self) -> Path:
        return self.state_dir / "ledger.pickle"

    def _load(self) -> None:
        if self._checkpoint.exists():
            with self._checkpoint.open("rb") as fp:
                saved = pickle.load(fp)
            if saved["billing"] == self.deployment.billing and saved["chain_id"] == self.deployment.chain_id:
                self.ledger = saved["ledger"]

    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self._checkpoint.with_suffix(".tmp")
        with tmp.open("wb") as fp:
            pickle.dump(
                {"billing": self.deployment.billing, "chain_id": self.deployment.chain_id, "ledger": self.ledger}, fp
            )
        tmp.replace(self._checkpoint)  # atomic: a crash leaves the previous checkpoint

    def sync(self) -> int:
        """Replays the events after the checkpoint up to head - confirmations; returns the block reached."""
        target = self.w3.eth.block_number - self.confirmations
        start = max(self.ledger.last_block + 1, self.deployment.block)
        if target >= start:
            for event in self.reader.read(start, target):
                self.ledger.apply(event)
            self.ledger.last_block = target
            self._save()
        return self.ledger.last_block

    # ----- checks -----

    def check(
        self,
        journal=None,
        catalogue: Catalogue | None = None,
        logs_lines: dict[tuple[int, int, int], int] | None = None,
    ) -> Report:
        """Every check that applies; `journal` (the feeder's) for full mode, `catalogue` for the public
        catalogue's splits (audit mode), `logs_lines` recomputed from raw logs: {(meter, window, customer
        id): quantity}."""
        import time

        led = self.ledger
        report = Report(led.last_block, led.events, len(led.entries), len(led.charges))
        timer = time.monotonic()
        report.discrepancies += self._check_chain_views()
        report.seconds["chain views"] = time.monotonic() - timer
        report.discrepancies += self._check_subscriptions()
        report.discrepancies += self._check_usage_prices()
        report.discrepancies += self._check_splits(catalogue)
        report.payouts = self._payouts(catalogue)
        report.discrepancies += self._check_payouts(report.payouts)
        if journal is not None:
            report.discrepancies += self._check_journal(journal)
        if logs_lines is not None:
            report.discrepancies += self._check_logs(logs_lines)
        return report

    def _check_chain_views(self) -> list[Discrepancy]:
        """The events are complete when they rebuild exactly what the contract holds."""
        led, block, out = self.ledger, self.ledger.last_block, []
        customers = [c for c in led.balances if not c.startswith("#")]
        values = self._views([("balanceOf", (c,)) for c in customers], block)
        for customer, onchain in zip(customers, values, strict=True):
            if onchain != led.balances[customer]:
                out.append(
                    Discrepancy(
                        BALANCE,
                        customer,
                        "balance rebuilt from events differs from balanceOf",
                        led.balances[customer],
                        onchain,
                    )
                )
        buckets = [k for k in led.escrow]
        values = self._views([("escrowOf", k) for k in buckets], block)
        for (split, day), onchain in zip(buckets, values, strict=True):
            if onchain != led.escrow[(split, day)]:
                out.append(
                    Discrepancy(
                        BALANCE,
                        f"escrow {split}/{day}",
                        "escrow rebuilt from events differs",
                        led.escrow[(split, day)],
                        onchain,
                    )
                )
        payees = sorted(set(led.credited) | set(led.withdrawn))
        values = self._views([("earningsOf", (p,)) for p in payees], block)
        for payee, onchain in zip(payees, values, strict=True):
            if onchain != led.earnings(payee):
                out.append(
                    Discrepancy(
                        BALANCE,
                        payee,
                        "earnings rebuilt from events differ from earningsOf",
                        led.earnings(payee),
                        onchain,
                    )
                )
        return out

    def _views(self, calls: list[tuple[str, tuple]], block: int) -> list[Any]:
        """Single-value views at `block`, as raw eth_calls in JSON-RPC batches of 500 (no per-item round
        trips). Every view used here returns one uint256."""
        out: list[Any] = []
        to = self.billing.address
        encoders: dict[str, tuple[str, list[str]]] = {}
        for name, _ in calls:
            if name not in encoders:
                fn = self.billing.get_function_by_name(name)
                types = [i["type"] for i in fn.abi["inputs"]]
                encoders[name] = ("0x" + Web3.keccak(text=f"{name}({','.join(types)})")[:4].hex(), types)

        def data(name: str, args: tuple) -> str:
            selector, types = encoders[name]
            return selector + abi_encode(types, list(args)).hex()

        for i in range(0, len(calls), 500):
            payload = [
                ("eth_call", [{"to": to, "data": data(name, args)}, hex(block)]) for name, args in calls[i : i + 500]
            ]
            batch = retrying(lambda p=payload: self.w3.provider.make_batch_request(p), "reconciliation views")
            responses = sorted(batch, key=lambda r: r["id"])
            for response in responses:
                if "error" in response:
                    raise RuntimeError(f"eth_call failed during reconciliation: {response['error']}")
                out.append(int(response["result"], 16))
        return out

    def _check_subscriptions(self) -> list[Discrepancy]:
        led, out = self.ledger, []
        last_end: dict[tuple[str, int], int] = {}
        for c in led.charges:
            if c.kind not in ("subscription", "renewal"):
                continue
            expected = led.price_at(c.plan, c.block)
            if expected is not None and c.price != expected:
                out.append(
                    Discrepancy(
                        AMOUNT,
                        c.customer,
                        f"plan {c.plan} charged {c.price}, price was {expected}",
                        expected,
                        c.price,
                        c.tx_hash,
                    )
                )
            limit = led.max_prices.get((c.customer, c.plan))
            if limit is not None and c.price > limit:
                out.append(
                    Discrepancy(
                        EXTRA,
                        c.customer,
                        f"plan {c.plan} charged above the customer's maxPrice",
                        limit,
                        c.price,
                        c.tx_hash,
                    )
                )
            key = (c.customer, c.plan)
            if c.period_end is not None and key in last_end and c.period_end <= last_end[key]:
                out.append(
                    Discrepancy(
                        DOUBLE,
                        c.customer,
                        f"plan {c.plan}: a second charge for a paid period",
                        last_end[key],
                        c.period_end,
                        c.tx_hash,
                    )
                )
            last_end[key] = max(last_end.get(key, 0), c.period_end or 0)
        return out

    def _check_usage_prices(self) -> list[Discrepancy]:
        """Every usage batch was settled at its meter's price, and no usage was charged twice."""
        led, out = self.ledger, []
        for batch_id, b in led.usage_batches.items():
            expected = led.meter_price_at(b["meter"], b["block"])
            if expected is not None and expected != b["price"]:
                out.append(
                    Discrepancy(
                        AMOUNT,
                        f"batch {batch_id}",
                        "settled at another price than the meter's",
                        expected,
                        b["price"],
                        b["tx"],
                    )
                )
        seen: dict[tuple, str] = {}
        for c in led.charges:
            if c.kind != "usage":
                continue
            key = (c.customer, c.meter, c.window)
            if key in seen:
                out.append(
                    Discrepancy(
                        DOUBLE,
                        c.customer,
                        f"meter {c.meter} window {c.window} charged in two batches",
                        seen[key],
                        f"batch {c.batch}",
                        c.tx_hash,
                    )
                )
            else:
                seen[key] = f"batch {c.batch}"
        return out

    def _splits(self, catalogue: Catalogue | None) -> dict[int, tuple[list[int], list[int]]]:
        """Split id -> (provider ids, bps): the chain's, or the public catalogue's (audit)."""
        if catalogue is None:
            return self.ledger.splits
        ids = self.deployment.splits
        providers = self.deployment.providers
        return {
            ids[key]: ([providers[p] for p in shares], list(shares.values()))
            for key, shares in catalogue.splits.items()
            if key in ids
        }

    def _check_splits(self, catalogue: Catalogue | None) -> list[Discrepancy]:
        out, splits = [], self._splits(catalogue)
        for r in self.ledger.releases:
            if r.split not in splits:
                out.append(
                    Discrepancy(
                        SPLIT,
                        f"split {r.split}",
                        "release to a split the catalogue does not know",
                        None,
                        r.amount,
                        r.tx_hash,
                    )
                )
                continue
            providers, bps = splits[r.split]
            expected = {p: s for p, s in zip(providers, split_shares(r.amount, bps), strict=True) if s}
            actual: dict[int, int] = defaultdict(int)
            for provider, _, amount in r.credited:
                actual[provider] += amount
            if dict(actual) != expected:
                out.append(
                    Discrepancy(
                        SPLIT,
                        f"split {r.split}",
                        f"{r.amount} released ({r.source})",
                        json.dumps(expected),
                        json.dumps(dict(actual)),
                        r.tx_hash,
                    )
                )
        return out

    def _payouts(self, catalogue: Catalogue | None) -> list[ProviderPayout]:
        """Each payee's earnings recomputed from the releases and the splits, beside what the chain says."""
        led, splits = self.ledger, self._splits(catalogue)
        earned: dict[str, int] = defaultdict(int)
        providers: dict[str, int] = {}
        for r in led.releases:
            if r.split not in splits:
                continue
            ids, bps = splits[r.split]
            # the payee is whoever the provider's payout address was at the release
            payees = {p: a for p, a, _ in r.credited}
            for provider, share in zip(ids, split_shares(r.amount, bps), strict=True):
                payee = payees.get(provider) or led.payouts.get(provider, f"provider {provider}")
                earned[payee] += share
                providers[payee] = provider
        payees = sorted(set(earned) | set(led.credited))
        return [
            ProviderPayout(
                providers.get(p, led.provider_of_payee.get(p, 0)),
                p,
                earned[p],
                led.credited[p],
                led.withdrawn[p],
                led.earnings(p),
            )
            for p in payees
        ]

    def _check_payouts(self, payouts: list[ProviderPayout]) -> list[Discrepancy]:
        out = []
        for p in payouts:
            if p.credited > p.earned:
                out.append(
                    Discrepancy(
                        OVERPAID,
                        p.payee,
                        f"provider {p.provider} credited more than its splits give",
                        p.earned,
                        p.credited,
                    )
                )
            if p.withdrawn > p.credited:
                out.append(
                    Discrepancy(
                        OVERPAID,
                        p.payee,
                        f"provider {p.provider} withdrew more than it was credited",
                        p.credited,
                        p.withdrawn,
                    )
                )
        return out

    def _check_journal(self, journal) -> list[Discrepancy]:
        """Full mode: the feeder's journal against the chain, batch by batch and line by line."""
        led, out = self.ledger, []
        journal_batches = {row.batch_id: row for row in journal.batches("pending", "settled", "unsigned", "rejected")}
        usage_in_journal = {bid for bid, row in journal_batches.items() if row.kind == "usage"}
        for batch_id, row in journal_batches.items():
            if row.kind != "usage" or row.status != "settled":
                continue
            chain = led.usage_batches.get(batch_id)
            if chain is None:
                out.append(
                    Discrepancy(
                        MISSING,
                        f"batch {batch_id}",
                        "the journal says settled; the chain has no such batch",
                        "settled",
                        "absent",
                    )
                )
                continue
            lines = journal.lines(batch_id)
            onchain = chain["lines"]
            for i, (cid, quantity, _, _) in enumerate(lines):
                at = 8 * i
                chain_cid = int.from_bytes(onchain[at : at + 4], "big") if at + 8 <= len(onchain) else None
                chain_qty = int.from_bytes(onchain[at + 4 : at + 8], "big") if chain_cid is not None else None
                customer = led.addresses.get(cid, f"#{cid}")
                if chain_cid != cid:
                    out.append(
                        Discrepancy(
                            MISSING, customer, f"batch {batch_id} line {i} is not on chain", quantity, None, chain["tx"]
                        )
                    )
                elif chain_qty != quantity:
                    price, scale = chain["price"], chain["scale"]
                    out.append(
                        Discrepancy(
                            AMOUNT,
                            customer,
                            f"batch {batch_id} line {i} quantity differs",
                            ceil_div(quantity * price, scale),
                            ceil_div(chain_qty * price, scale),
                            chain["tx"],
                        )
                    )
            if len(onchain) // 8 > len(lines):
                out.append(
                    Discrepancy(
                        EXTRA,
                        f"batch {batch_id}",
                        "the chain's batch has more lines than the journal",
                        len(lines),
                        len(onchain) // 8,
                        chain["tx"],
                    )
                )
        for batch_id, chain in led.usage_batches.items():
            if batch_id not in usage_in_journal:
                out.append(
                    Discrepancy(
                        EXTRA,
                        f"batch {batch_id}",
                        f"usage batch settled on chain that the feeder never made ({chain['charged']} charged)",
                        None,
                        chain["charged"],
                        chain["tx"],
                    )
                )
        return out

    def _check_logs(self, expected: dict[tuple[int, int, int], int]) -> list[Discrepancy]:
        """Raw-logs mode: quantities recomputed from the session logs against what the chain charged."""
        led, out = self.ledger, []
        charged: dict[tuple[int, int, int], int] = defaultdict(int)
        ids = {a: i for i, a in led.addresses.items()}
        for c in led.charges:
            if c.kind == "usage":
                charged[(c.meter, c.window, ids.get(c.customer, 0))] += c.quantity
        for key in sorted(set(expected) | set(charged)):
            want, got = expected.get(key, 0), charged.get(key, 0)
            if want == got:
                continue
            meter, window, cid = key
            customer = led.addresses.get(cid, f"#{cid}")
            kind = MISSING if got == 0 else EXTRA if want == 0 else AMOUNT
            out.append(
                Discrepancy(kind, customer, f"meter {meter} window {window}: logs say {want}, chain {got}", want, got)
            )
        return out


def lines_from_logs(
    chain, deployment: Deployment, paths: list[Path], workdir: Path, reference=None
) -> dict[tuple[int, int, int], int]:
    """Usage quantities recomputed from raw session logs by the feeder's own pipeline, in a scratch journal:
    {(meter id, window start, customer id): quantity}. Nothing is signed for or sent.

    With `reference` (the feeder's journal), a file the feeder processed is replayed with the time and the
    customer directory (ids, stream limits) its fraud rules saw then: a recomputation months later must not
    bill sessions that were in the future at the time, or apply a plan the customer took since."""
    import hashlib

    from .usage.feeder import CustomerDirectory
    from .usage.reader import read_bytes
    from .usage.service import build_feeder

    feeder = build_feeder(chain, deployment, workdir)
    live_directory, live_clock = feeder.directory, feeder.clock
    for path in paths:
        context = reference.file_context(hashlib.sha256(read_bytes(Path(path))).hexdigest()) if reference else None
        if context is None:
            feeder.directory, feeder.clock = live_directory, live_clock
        else:
            processed_at, directory = context
            feeder.directory = CustomerDirectory(table={c: tuple(v) for c, v in directory.items()})
            feeder.clock = lambda at=processed_at: at
        feeder.process_file(Path(path))
    expected: dict[tuple[int, int, int], int] = defaultdict(int)
    for row in feeder.journal.batches("pending", "unsigned"):
        if row.kind != "usage":
            continue
        for cid, quantity, _, _ in feeder.journal.lines(row.batch_id):
            expected[(row.meter_id, row.window_start, cid)] += quantity
    feeder.journal.close()
    return dict(expected)
