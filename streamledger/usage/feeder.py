"""The feeder pipeline: log files -> validated, fraud-checked, aggregated, signed usage batches -> the chain.

Two phases, each safe to interrupt at any instant:

1. `process_file` reads a file and commits, in ONE journal transaction, the file's fingerprint, its session
   ids and its signed batches (status pending). Killed before the commit: nothing happened, the file is
   processed again from scratch. Killed after: the batches are there to submit.
2. `submit` sends pending batches. A batch is marked settled only when the chain says so (its receipt, or
   `batchSettled(id)` on restart); the contract accepts each batch id once, so a batch sent twice around a
   crash is charged once (the second attempt reverts with Billing_BatchReplayed, which counts as settled).

Batch ids are derived from the batch's content, so the same input always yields the same batches.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import polars as pl
from eth_account import Account as EthAccount
from tqdm import tqdm

from ..chain import Chain, TransactionFailed
from ..deployment import Deployment
from ..oracle import (
    RentalBatchData,
    RentalReport,
    UsageBatchData,
    UsageLine,
    export_typed_data,
    ordered_signatures,
    sign_with_keys,
)
from .aggregate import rental_reports, usage_lines
from .fraud import FLAG, flag_fraud
from .journal import BatchRow, Journal
from .reader import read_bytes, read_log
from .validate import REASON, validate

log = logging.getLogger(__name__)

DAY = 86_400
MAX_LINES = 400  # per usage batch: about 2.4 M gas, well inside any block
MAX_RENTALS = 200


class FeederError(RuntimeError):
    """The feeder cannot go on (configuration, keys, chain); the message says what to fix."""


# ----- who is who ------------------------------------------------------------------------------------------


class CustomerDirectory:
    """Customer address -> (customer id, concurrent streams allowed). The chain-backed directory asks the
    billing contract's customerIds() view for many addresses per call."""

    def __init__(self, lookup=None, table: dict[str, tuple[int, int]] | None = None):
        self._lookup = lookup
        self._cache: dict[str, tuple[int, int]] = dict(table or {})

    @classmethod
    def from_chain(cls, billing) -> CustomerDirectory:
        def lookup(addresses: list[str]) -> list[tuple[int, int]]:
            from web3 import Web3

            ids, streams = billing.functions.customerIds([Web3.to_checksum_address(a) for a in addresses]).call()
            return list(zip(ids, streams, strict=True))

        return cls(lookup)

    def frame(self, customers: Iterable[str], chunk: int = 500) -> pl.DataFrame:
        wanted = [c for c in dict.fromkeys(customers) if c not in self._cache]
        if self._lookup is None:  # a fixed table: whoever is not in it is unknown
            self._cache.update((c, (0, 0)) for c in wanted)
            wanted = []
        for i in range(0, len(wanted), chunk):
            part = wanted[i : i + chunk]
            for address, entry in zip(part, self._lookup(part), strict=True):
                self._cache[address] = entry
        rows = [(c, *self._cache[c]) for c in dict.fromkeys(customers)]
        return pl.DataFrame(
            rows, schema={"customer": pl.String, "customer_id": pl.Int64, "streams": pl.Int64}, orient="row"
        )


@dataclass
class OracleSigner:
    """The oracle keys this feeder holds. With fewer than `threshold` keys, batches wait (status unsigned)
    for signatures made elsewhere (export typed data, import signatures)."""

    keys: tuple[bytes, ...]
    threshold: int

    @property
    def addresses(self) -> set[str]:
        return {EthAccount.from_key(k).address for k in self.keys}

    def sign(self, digest: bytes) -> list[bytes]:
        """Signatures of the keys held, at most `threshold` (fewer when this feeder holds fewer keys)."""
        return sign_with_keys(digest, self.keys[: self.threshold], self._signers[: self.threshold])

    @cached_property
    def _signers(self) -> tuple[str, ...]:
        return tuple(EthAccount.from_key(k).address for k in self.keys)

    def status(self, signatures: list[bytes]) -> str:
        return "pending" if len(signatures) >= self.threshold else "unsigned"


# ----- reports ---------------------------------------------------------------------------------------------


@dataclass
class FileReport:
    path: str
    records: int = 0
    billed: int = 0  # accepted and billable (metered or a rental play)
    included: int = 0  # accepted, content included in a plan: checked, not billed
    flagged: int = 0
    quarantined: int = 0
    replayed: bool = False
    lines: int = 0
    rentals: int = 0
    batches: int = 0
    flags: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    charges: dict[int, int] = field(default_factory=dict)  # dry run: customer id -> token units

    @property
    def accepted(self) -> int:
        return self.billed + self.included + self.flagged

    def check(self) -> None:
        if self.accepted + self.quarantined != self.records:
            raise FeederError(
                f"{self.path}: {self.accepted} accepted + {self.quarantined} quarantined != {self.records}"
            )


@dataclass
class SubmitReport:
    settled: int = 0
    already: int = 0
    rejected: int = 0
    waiting: int = 0
    lines: int = 0  # usage lines in the batches settled now
    gas: int = 0
    errors: list[str] = field(default_factory=list)


# ----- the feeder ------------------------------------------------------------------------------------------


class Feeder:
    def __init__(
        self,
        deployment: Deployment,
        journal: Journal,
        out_dir: Path,
        signer: OracleSigner,
        directory: CustomerDirectory,
        meter_units: dict[str, str],
        chain: Chain | None = None,
        window: int = DAY,
        max_lines: int = MAX_LINES,
        skew: int = 300,
        default_streams: int = 1,
        dedupe_days: int = 35,
        deadline: int = DAY,
        clock=time.time,
    ):
        self.deployment = deployment
        self.journal = journal
        self.out_dir = Path(out_dir)
        self.signer = signer
        self.directory = directory
        self.meter_units = {k: v for k, v in meter_units.items() if k in deployment.meters}
        self.titles = set(deployment.vod_titles)
        self.chain = chain
        self.window = window
        self.max_lines = max_lines
        self.skew = skew
        self.default_streams = default_streams
        self.dedupe_days = dedupe_days
        self.deadline = deadline
        self.clock = clock
        self.billing = chain.billing(deployment.billing) if chain else None

    # ----- phase 1: a file to signed batches -----

    def process_file(self, path: Path, dry_run: bool = False, now: int | None = None) -> FileReport:
        path = Path(path)
        now = int(self.clock()) if now is None else now
        data = read_bytes(path)
        sha = hashlib.sha256(data).hexdigest()
        report = FileReport(str(path))
        previous = self.journal.file_processed(sha)
        report.replayed = previous is not None
        raw = read_log(path, data)
        report.records = raw.height
        valid, quarantined = validate(raw, set(self.meter_units), self.titles)
        directory = self.directory.frame(valid["customer"].unique().to_list())
        seen = self.journal.seen_sessions(now - self.dedupe_days * DAY)
        flagged = flag_fraud(
            valid,
            now=now,
            directory=directory,
            seen_sessions=seen,
            replayed=report.replayed,
            skew=self.skew,
            default_streams=self.default_streams,
        )
        billable = pl.col("meter").is_in(list(self.meter_units)) | pl.col("meter").str.starts_with("rental:")
        clean = flagged.filter(pl.col(FLAG).is_null())
        report.billed = clean.filter(billable).height
        report.included = clean.height - report.billed
        report.flagged = flagged.height - clean.height
        report.quarantined = quarantined.height
        report.flags = dict(flagged.filter(pl.col(FLAG).is_not_null())[FLAG].value_counts().iter_rows())
        report.reasons = dict(quarantined[REASON].value_counts().iter_rows())
        report.check()

        lines = usage_lines(flagged, self.meter_units, self.window)
        rentals = rental_reports(flagged, self.titles)
        report.lines, report.rentals = lines.height, rentals.height
        self._write_reports(path, quarantined, flagged, dry_run)
        if dry_run:
            report.charges = self._preview_charges(lines, rentals)
            return report
        if report.replayed:
            log.warning("%s: same content as %s, processed before: nothing billed", path, previous)
        batches = list(self._usage_batches(sha, lines, now)) + list(self._rental_batches(sha, rentals, now))
        report.batches = len(batches)
        sessions = clean["session_id"].to_list()
        with self.journal.transaction() as db:
            if not report.replayed:
                snapshot = {c: [i, n] for c, i, n in directory.iter_rows()}
                self.journal.add_file(db, sha, str(path), _counts(report), sessions, now, snapshot)
            for row, payload_lines in batches:
                if self.journal.batch(row.batch_id) is None:
                    self.journal.add_batch(db, row, payload_lines)
        return report

    def _usage_batches(self, sha: str, lines: pl.DataFrame, now: int):
        chain_id = self.deployment.chain_id
        for (meter, window_start), group in lines.group_by(["meter", "window_start"], maintain_order=True):
            rows = group.rows()
            for chunk_start in range(0, len(rows), self.max_lines):
                chunk = rows[chunk_start : chunk_start + self.max_lines]
                usage = [UsageLine(int(r[2]), int(r[3]), r[4]) for r in chunk]
                batch = UsageBatchData(
                    batch_id=0,
                    deadline=now + self.deadline,
                    meter_id=self.deployment.meters[meter],
                    window_start=int(window_start),
                    window_end=int(window_start) + self.window,
                    lines=usage,
                )
                packed = batch.packed_lines()
                root = batch.records_root()
                batch.batch_id = _batch_id(
                    chain_id, self.deployment.billing, "usage", meter, window_start, packed, root
                )
                signatures = self.signer.sign(batch.digest(chain_id, self.deployment.billing))
                row = BatchRow(
                    batch.batch_id,
                    "usage",
                    sha,
                    meter,
                    batch.meter_id,
                    batch.window_start,
                    batch.window_end,
                    batch.deadline,
                    packed,
                    root,
                    b"".join(signatures),
                    self.signer.status(signatures),
                )
                yield row, [(r[2], r[3], r[4], r[5]) for r in chunk]

    def _rental_batches(self, sha: str, rentals: pl.DataFrame, now: int):
        chain_id = self.deployment.chain_id
        rows = rentals.rows()
        for start in range(0, len(rows), MAX_RENTALS):
            chunk = rows[start : start + MAX_RENTALS]
            batch = RentalBatchData(
                0,
                now + self.deadline,
                [RentalReport(int(cid), self.deployment.vod_titles[title], int(first)) for title, cid, first in chunk],
            )
            packed = batch.packed()
            batch.batch_id = _batch_id(chain_id, self.deployment.billing, "rental", "", 0, packed, b"")
            signatures = self.signer.sign(batch.digest(chain_id, self.deployment.billing))
            row = BatchRow(
                batch.batch_id,
                "rental",
                sha,
                None,
                None,
                None,
                None,
                batch.deadline,
                packed,
                None,
                b"".join(signatures),
                self.signer.status(signatures),
            )
            yield row, []

    def _write_reports(self, path: Path, quarantined: pl.DataFrame, flagged: pl.DataFrame, dry_run: bool) -> None:
        if dry_run:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        q = self.out_dir / "quarantine.csv"
        new = not q.exists()
        with q.open("a", newline="") as fp:
            writer = csv.writer(fp)
            if new:
                writer.writerow(["source", "line", "reason"])
            writer.writerows((str(path), line, reason) for line, reason in quarantined.iter_rows())
        f = self.out_dir / "fraud.csv"
        new = not f.exists()
        rows = flagged.filter(pl.col(FLAG).is_not_null()).select("line", "session_id", "customer", "device_id", FLAG)
        with f.open("a", newline="") as fp:
            writer = csv.writer(fp)
            if new:
                writer.writerow(["source", "line", "session_id", "customer", "device_id", "reason"])
            writer.writerows((str(path), *row) for row in rows.iter_rows())

    def _preview_charges(self, lines: pl.DataFrame, rentals: pl.DataFrame) -> dict[int, int]:
        """What a dry run would charge each customer id, in token units, at the chain's current prices."""
        charges: dict[int, int] = {}
        if self.billing is None:
            return charges
        prices = {key: self.billing.functions.meterOf(mid).call()[:2] for key, mid in self.deployment.meters.items()}
        for meter, _, cid, qty, _, _ in lines.iter_rows():
            price, scale = prices[meter]
            charges[cid] = charges.get(cid, 0) + -(-qty * price // scale)
        for title, cid, _ in rentals.iter_rows():
            price = self.billing.functions.vodTitleOf(self.deployment.vod_titles[title]).call()[0]
            charges[cid] = charges.get(cid, 0) + price
        return charges

    # ----- phase 2: submission -----

    def submit(self, progress: bool = False) -> SubmitReport:
        if self.chain is None:
            raise FeederError("no chain connection: cannot submit")
        report = SubmitReport()
        pending = self.journal.batches("pending")
        report.waiting = len(self.journal.batches("unsigned"))
        for row in tqdm(pending, desc="submitting", unit="batch", disable=not progress, leave=False):
            self._submit_one(row, report)
        return report

    def _submit_one(self, row: BatchRow, report: SubmitReport) -> None:
        if self.billing.functions.batchSettled(row.batch_id).call():
            self.journal.mark_settled(row.batch_id, row.tx_hash)
            report.already += 1
            return
        now = self.chain.w3.eth.get_block("latest")["timestamp"]
        if row.deadline <= now + 60 and not self._resign(row, now):
            report.waiting += 1
            return
        call = self._call(row)
        try:
            receipt = self.chain.transact(call, f"{row.kind} batch {row.batch_id}")
        except TransactionFailed as exc:
            if exc.name == "Billing_BatchReplayed":  # settled by an earlier attempt or another submitter
                self.journal.mark_settled(row.batch_id, None)
                report.already += 1
                return
            self.journal.mark_rejected(row.batch_id, str(exc))
            report.rejected += 1
            report.errors.append(str(exc))
            log.error("%s", exc)
            return
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        self.journal.mark_settled(row.batch_id, tx_hash)
        report.settled += 1
        report.gas += receipt["gasUsed"]
        if row.kind == "usage":
            report.lines += len(row.payload) // 8

    def _call(self, row: BatchRow):
        signatures = row.signature_list()
        if row.kind == "usage":
            header = (row.batch_id, row.deadline, row.meter_id, row.window_start, row.window_end, row.records_root)
            return self.billing.functions.settleUsage(header, row.payload, signatures)
        return self.billing.functions.settleRentals((row.batch_id, row.deadline), row.payload, signatures)

    def batch_data(self, row: BatchRow) -> UsageBatchData | RentalBatchData:
        """The signed message of a journal batch."""
        if row.kind == "usage":
            lines = [UsageLine(cid, qty, rh) for cid, qty, rh, _ in self.journal.lines(row.batch_id)]
            return UsageBatchData(row.batch_id, row.deadline, row.meter_id, row.window_start, row.window_end, lines)
        p = row.payload
        rentals = [
            RentalReport(
                int.from_bytes(p[i : i + 4], "big"),
                int.from_bytes(p[i + 4 : i + 8], "big"),
                int.from_bytes(p[i + 8 : i + 13], "big"),
            )
            for i in range(0, len(p), 13)
        ]
        return RentalBatchData(row.batch_id, row.deadline, rentals)

    def _resign(self, row: BatchRow, now: int) -> bool:
        """A batch about to expire gets a fresh deadline and fresh signatures, if this feeder holds the keys."""
        if len(self.signer.keys) < self.signer.threshold:
            return False
        batch = self.batch_data(row)
        batch.deadline = now + self.deadline
        signatures = self.signer.sign(batch.digest(self.deployment.chain_id, self.deployment.billing))
        self.journal.set_signatures(row.batch_id, batch.deadline, b"".join(signatures), "pending")
        row.deadline, row.signatures = batch.deadline, b"".join(signatures)
        return True

    # ----- external signers -----

    def export_unsigned(self, folder: Path) -> list[Path]:
        """Writes each batch waiting for signatures as eth_signTypedData_v4 JSON: <folder>/<batch id>.json."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for row in self.journal.batches("unsigned", "pending"):
            path = folder / f"{row.batch_id}.json"
            path.write_text(export_typed_data(self.batch_data(row), self.deployment.chain_id, self.deployment.billing))
            written.append(path)
        return written

    def import_signatures(self, batch_id: int, signatures_hex: Sequence[str], signers: set[str]) -> int:
        """Adds signatures made elsewhere to a batch; it becomes pending once the threshold is met. Returns
        how many distinct valid signatures the batch now has."""
        from ..oracle import import_signature

        row = self.journal.batch(batch_id)
        if row is None:
            raise FeederError(f"no batch {batch_id} in the journal")
        batch = self.batch_data(row)
        chain_id, billing = self.deployment.chain_id, self.deployment.billing
        new = [import_signature(batch, chain_id, billing, s, signers) for s in signatures_hex]
        digest = batch.digest(chain_id, billing)
        combined = ordered_signatures(digest, [*row.signature_list(), *new])
        status = "pending" if len(combined) >= self.deployment.oracle_threshold else "unsigned"
        self.journal.set_signatures(batch_id, row.deadline, b"".join(combined), status)
        return len(combined)


def _counts(report: FileReport) -> dict[str, int]:
    return {
        "records": report.records,
        "billed": report.billed,
        "flagged": report.flagged,
        "quarantined": report.quarantined,
    }


def _batch_id(chain_id: int, billing: str, kind: str, meter: str, window: int, payload: bytes, root: bytes) -> int:
    """A 63-bit id derived from the batch's content: the same input always gives the same id."""
    digest = hashlib.sha256(f"{chain_id}|{billing.lower()}|{kind}|{meter}|{window}|".encode() + payload + root).digest()
    return int.from_bytes(digest[:8], "big") >> 1
