"""Customer statements and verifiable invoices.

For a period [start, end) every customer with activity or a balance gets one statement: opening balance,
each money movement (deposits, subscription periods, usage by meter, pay-per-view, rentals, refunds,
disputes and their outcome) and the closing balance, all rebuilt from events (streamledger.ledger).

Every line of every statement of the period is a leaf of one Merkle tree (docs/statements.md):

    leaf = keccak256(bytes.concat(keccak256(abi.encode(uint32 period, address customer, uint32 index,
                                                       uint8 kind, uint64 timestamp, int256 amount,
                                                       bytes32 ref))))

The operator commits the root on-chain (commitStatementRoot); each statement file carries its lines'
proofs, so a customer checks their bill against the chain with nothing but an RPC URL
(`streamledger verify-statement`). Changing any field of a line breaks its proof.
"""

from __future__ import annotations

import csv
import html
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from web3 import Web3

from .ledger import CLOSING, KIND_NAMES, OPENING, USAGE, Ledger, split_shares
from .money import fmt_units
from .oracle import keccak, merkle_proof, merkle_root

DAY = 86_400


@dataclass
class Line:
    customer: str
    index: int
    kind: int
    timestamp: int
    amount: int
    ref: str  # 0x + 32 bytes
    description: str = ""
    proof: list[str] = field(default_factory=list)

    def leaf(self, period: int) -> bytes:
        encoded = abi_encode(
            ["uint32", "address", "uint32", "uint8", "uint64", "int256", "bytes32"],
            [period, self.customer, self.index, self.kind, self.timestamp, self.amount, bytes.fromhex(self.ref[2:])],
        )
        return keccak(keccak(encoded))

    def as_tuple(self) -> tuple:
        """The StatementLine struct for verifyStatementLine."""
        return (self.customer, self.index, self.kind, self.timestamp, self.amount, bytes.fromhex(self.ref[2:]))


@dataclass
class Statement:
    period: int
    start: int
    end: int
    customer: str
    opening: int
    closing: int
    lines: list[Line]
    usage_by_day: dict[str, int]  # "YYYY-MM-DD" -> token units of usage charges
    root: str = ""
    chain_id: int = 0
    billing: str = ""
    token_decimals: int = 6
    token_symbol: str = ""


def block_timestamps(w3: Web3, blocks: set[int]) -> dict[int, int]:
    """Timestamps of `blocks`, fetched in JSON-RPC batches of 500."""
    out: dict[int, int] = {}
    ordered = sorted(blocks)
    for i in range(0, len(ordered), 500):
        chunk = ordered[i : i + 500]
        responses = w3.provider.make_batch_request([("eth_getBlockByNumber", [hex(b), False]) for b in chunk])
        for block, response in zip(chunk, responses, strict=True):
            out[block] = int(response["result"]["timestamp"], 16)
    return out


def _describe(entry, ledger: Ledger, decimals: int, symbol: str) -> str:
    d = entry.detail
    name = KIND_NAMES[entry.kind]
    if "plan" in d and d["plan"] in ledger.plans:
        name += f": {ledger.plans[d['plan']]['name']}"
        if "paidThrough" in d:
            name += f" until {datetime.fromtimestamp(d['paidThrough'], UTC):%Y-%m-%d}"
    if entry.kind == USAGE:
        meter = ledger.meters.get(d["meter"], {}).get("name", f"meter {d['meter']}")
        name += f": {meter}, {d['quantity']:,} units on {datetime.fromtimestamp(d['window'], UTC):%Y-%m-%d}"
    if "event" in d and d["event"] in ledger.ppv_events:
        name += f": {ledger.ppv_events[d['event']]['name']}"
    if "title" in d and d["title"] in ledger.vod_titles:
        name += f": {ledger.vod_titles[d['title']]['name']}"
    if "dispute" in d:
        name += f" #{d['dispute']}"
        if "disputed" in d:
            name += f" ({fmt_units(d['disputed'], decimals, symbol)} held until decided)"
    return name


def build_statements(
    ledger: Ledger, period: int, start: int, end: int, timestamps: dict[int, int], decimals: int, symbol: str
) -> dict[str, Statement]:
    statements: dict[str, Statement] = {}
    for customer, entries in ledger.entries.items():
        if customer.startswith("#"):
            continue
        opening = sum(e.amount for e in entries if timestamps[e.block] < start)
        inside = [e for e in entries if start <= timestamps[e.block] < end]
        if not inside and opening == 0:
            continue
        lines = [Line(customer, 0, OPENING, start, opening, "0x" + "00" * 32, "opening balance")]
        usage: dict[str, int] = defaultdict(int)
        for entry in sorted(inside, key=lambda e: (e.block, e.log_index)):
            ts = timestamps[entry.block]
            lines.append(
                Line(
                    customer,
                    len(lines),
                    entry.kind,
                    ts,
                    entry.amount,
                    entry.tx_hash,
                    _describe(entry, ledger, decimals, symbol),
                )
            )
            if entry.kind == USAGE:
                usage[f"{datetime.fromtimestamp(entry.detail['window'], UTC):%Y-%m-%d}"] += -entry.amount
        closing = opening + sum(e.amount for e in inside)
        lines.append(Line(customer, len(lines), CLOSING, end - 1, closing, "0x" + "00" * 32, "closing balance"))
        statements[customer] = Statement(
            period,
            start,
            end,
            customer,
            opening,
            closing,
            lines,
            dict(usage),
            token_decimals=decimals,
            token_symbol=symbol,
        )
    return statements


def seal(statements: dict[str, Statement], chain_id: int, billing: str) -> tuple[bytes, int]:
    """Builds the period's tree over every line of every statement (customers in address order), stores each
    line's proof and the root in its statement; returns (root, number of lines)."""
    ordered = [line for customer in sorted(statements, key=str.lower) for line in statements[customer].lines]
    if not ordered:
        return b"", 0
    period = next(iter(statements.values())).period
    leaves = [line.leaf(period) for line in ordered]
    root = merkle_root(leaves)
    for i, line in enumerate(ordered):
        line.proof = ["0x" + p.hex() for p in merkle_proof(leaves, i)]
    for statement in statements.values():
        statement.root = "0x" + root.hex()
        statement.chain_id = chain_id
        statement.billing = billing
    return root, len(leaves)


# ----- files ---------------------------------------------------------------------------------------------------


def write_statement(statement: Statement, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{statement.period}-{statement.customer.lower()}"
    paths = {"json": folder / f"{stem}.json", "csv": folder / f"{stem}.csv", "html": folder / f"{stem}.html"}
    paths["json"].write_text(json.dumps(asdict(statement), indent=2))
    with paths["csv"].open("w", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(["index", "date", "kind", "description", "amount", "ref"])
        for line in statement.lines:
            writer.writerow(
                [
                    line.index,
                    _date(line.timestamp),
                    KIND_NAMES[line.kind],
                    line.description,
                    fmt_units(line.amount, statement.token_decimals),
                    line.ref,
                ]
            )
    paths["html"].write_text(render_html(statement))
    return paths


def _date(ts: int) -> str:
    return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M} UTC"


def _chart(usage: dict[str, int], decimals: int, symbol: str) -> str:
    """Usage charges per day as an inline SVG bar chart (no scripts, no external assets)."""
    if not usage:
        return "<p>No metered usage this period.</p>"
    days = sorted(usage)
    top = max(usage.values()) or 1
    width, height, bar = 640, 160, max(4, min(40, 600 // len(days)))
    bars = []
    for i, day in enumerate(days):
        h = int(120 * usage[day] / top)
        x = 20 + i * (bar + 4)
        label = f"{day}: {fmt_units(usage[day], decimals, symbol)}"
        bars.append(
            f'<rect x="{x}" y="{140 - h}" width="{bar}" height="{h}" fill="#3b6ea8"><title>{label}</title></rect>'
        )
    return (
        f'<svg role="img" aria-label="Usage charges per day" viewBox="0 0 {width} {height}" width="100%">'
        f'<line x1="16" y1="140" x2="{width - 10}" y2="140" stroke="#888"/>'
        + "".join(bars)
        + f'<text x="20" y="156" font-size="11">{days[0]}</text>'
        f'<text x="{width - 90}" y="156" font-size="11">{days[-1]}</text></svg>'
    )


def render_html(s: Statement) -> str:
    d, sym = s.token_decimals, s.token_symbol
    rows = "".join(
        f"<tr><td>{_date(line.timestamp)}</td><td>{html.escape(line.description)}</td>"
        f'<td class="n">{fmt_units(line.amount, d, sym)}</td></tr>'
        for line in s.lines
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Statement {s.period} for {s.customer}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 56rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ padding: .35rem .5rem; border-bottom: 1px solid #ddd; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.totals {{ display: flex; gap: 2rem; margin: 1rem 0; }} .totals div {{ background: #f3f6fa; padding: .6rem 1rem; }}
code {{ word-break: break-all; font-size: .85em; }}
</style></head><body>
<h1>Statement {s.period}</h1>
<p>Customer <code>{s.customer}</code>, {_date(s.start)} to {_date(s.end)}</p>
<div class="totals"><div>Opening balance<br><strong>{fmt_units(s.opening, d, sym)}</strong></div>
<div>Closing balance<br><strong>{fmt_units(s.closing, d, sym)}</strong></div></div>
<h2>Usage per day</h2>
{_chart(s.usage_by_day, d, sym)}
<h2>Lines</h2>
<table><thead><tr><th>Date</th><th>What</th><th>Amount</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Verify this statement</h2>
<p>Every line is a leaf of the Merkle tree whose root <code>{s.root}</code> the operator committed to the billing
contract <code>{s.billing}</code> (chain {s.chain_id}) for period {s.period}. Check it yourself against the chain:</p>
<pre>streamledger verify-statement {s.period}-{s.customer.lower()}.json --rpc &lt;your node&gt;</pre>
</body></html>
"""


# ----- verification ------------------------------------------------------------------------------------------


def verify_statement_file(path: Path, w3: Web3) -> list[tuple[int, bool]]:
    """Checks every line of a statement file against the root committed on-chain, using only the chain:
    (line index, verified) per line. A missing or different root fails every line."""
    from .artifacts import billing_abi

    data = json.loads(Path(path).read_text())
    billing = w3.eth.contract(address=Web3.to_checksum_address(data["billing"]), abi=billing_abi())
    root = billing.functions.statementRoot(data["period"]).call()[0]
    results = []
    for raw in data["lines"]:
        line = Line(**raw)
        ok = (
            root == bytes.fromhex(data["root"][2:])
            and billing.functions.verifyStatementLine(
                data["period"], line.as_tuple(), [bytes.fromhex(p[2:]) for p in line.proof]
            ).call()
        )
        results.append((line.index, bool(ok)))
    return results


# ----- providers ---------------------------------------------------------------------------------------------


def provider_report(ledger: Ledger, start: int, end: int, timestamps: dict[int, int], now: int) -> list[dict[str, Any]]:
    """Per payee for the period: earned (credited), withdrawn, and, as of `now`, what is still pending in
    escrow (the dispute window or an unfinished period) and what is frozen in open disputes, each split by
    the splits' basis points."""
    earned: dict[str, int] = defaultdict(int)
    for release in ledger.releases:
        if start <= timestamps.get(release.block, 0) < end:
            for _, payee, amount in release.credited:
                earned[payee] += amount
    pending: dict[str, int] = defaultdict(int)
    disputed: dict[str, int] = defaultdict(int)

    def share(split: int, amount: int, into: dict[str, int]) -> None:
        providers, bps = ledger.splits.get(split, ([], []))
        for provider, part in zip(providers, split_shares(amount, bps) if bps else [], strict=True):
            into[ledger.payouts.get(provider, f"provider {provider}")] += part

    for (split, _day), amount in ledger.escrow.items():
        if amount:
            share(split, amount, pending)
    for dispute in ledger.disputes.values():
        if dispute["status"] == "open":
            share(dispute["splitId"], dispute["amount"], disputed)
    withdrawn: dict[str, int] = defaultdict(int)
    for payee, amount, block in ledger.withdrawals:
        if start <= timestamps.get(block, 0) < end:
            withdrawn[payee] += amount
    payees = sorted(set(earned) | set(pending) | set(disputed) | set(withdrawn))
    return [
        {
            "payee": p,
            "provider": ledger.provider_of_payee.get(p),
            "earned": earned[p],
            "pending": pending[p],
            "disputed": disputed[p],
            "withdrawn": withdrawn[p],
            "owed": ledger.earnings(p),
        }
        for p in payees
    ]


def statement_blocks(ledger: Ledger) -> set[int]:
    """The blocks whose timestamps statements and provider reports need."""
    blocks = {e.block for entries in ledger.entries.values() for e in entries}
    blocks |= {r.block for r in ledger.releases} | {b for _, _, b in ledger.withdrawals}
    return blocks
