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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
from eth_account import Account as EthAccount
from tqdm import tqdm

from ..chain import Chain, NotMined, TransactionFailed
from ..deployment import Deployment
from ..oracle import (
    RentalBatchData,
    RentalReport,
    UsageBatchData,
    UsageLine,
    export_typed_data,
    merkle_root,
    ordered_signatures,
    packed_leaves,
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
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


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
        customers = list(dict.fromkeys(customers))
        wanted = [c for c in customers if c not in self._cache]
        if self._lookup is None:  # a fixed table: whoever is not in it is unknown
            self._cache.update((c, (0, 0)) for c in wanted)
            wanted = []
        for i in range(0, len(wanted), chunk):
            part = wanted[i : i + chunk]
            for address, entry in zip(part, self._lookup(part), strict=True):
                self._cache[address] = entry
        entries = [self._cache[c] for c in customers]
        return pl.DataFrame(
            {"customer": customers, "customer_id": [e[0] for e in entries], "streams": [e[1] for e in entries]},
            schema={"customer": pl.String, "customer_id": pl.Int64, "streams": pl.Int64},
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
    waiting: int = 0  # built, but without enough signatures (or expired and not re-signable here)
    not_mined: int = 0  # left pending because the node did not mine: the next run checks batchSettled first
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
        with ThreadPoolExecutor(1) as pool:  # hashlib releases the GIL: the fingerprint is taken while parsing
            fingerprint = pool.submit(lambda: hashlib.sha256(data).hexdigest())
            raw = read_log(path, data)
            valid, quarantined = validate(raw, set(self.meter_units), self.titles)
            del raw
            sha = fingerprint.result()
        report = FileReport(str(path))
        previous = self.journal.file_processed(sha)
        report.replayed = previous is not None
        report.records = valid.height + quarantined.height
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
        del valid
        is_clean = pl.col(FLAG).is_null()
        billable = pl.col("meter").is_in(list(self.meter_units)) | pl.col("meter").str.starts_with("rental:")
        clean, billed = flagged.select(is_clean.sum().alias("clean"), (is_clean & billable).sum().alias("billed")).row(
            0
        )
        report.billed = billed
        report.included = clean - billed
        report.flagged = flagged.height - clean
        report.quarantined = quarantined.height
        report.flags = dict(flagged.filter(~is_clean)[FLAG].value_counts().iter_rows())
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
        with ThreadPoolExecutor(1) as pool:  # polars and zlib release the GIL: this overlaps with the hashing
            sessions = flagged.lazy().filter(is_clean).select(pl.col("session_id").str.join("\n"))
            packed_sessions = None if report.replayed else pool.submit(_pack_sessions, sessions)
            del flagged
            batches = list(self._usage_batches(sha, lines, now)) + list(self._rental_batches(sha, rentals, now))
            report.batches = len(batches)
            with self.journal.transaction() as db:
                if packed_sessions is not None:
                    snapshot = Journal.pack_directory(*(directory[c].to_list() for c in directory.columns))
                    self.journal.add_file(db, sha, str(path), _counts(report), packed_sessions.result(), now, snapshot)
                for row, hashes, counts in batches:
                    if self.journal.batch(row.batch_id) is None:
                        self.journal.add_batch(db, row, hashes, counts)
        return report

    def _usage_batches(self, sha: str, lines: pl.DataFrame, now: int):
        """Signed batches of at most max_lines lines, one meter and window each, in the order of `lines`
        (sorted by meter, window, customer). Yields (row, records hashes, record counts)."""
        if lines.is_empty():
            return
        chain_id, billing = self.deployment.chain_id, self.deployment.billing
        # every line's 8 payload bytes, 32-byte records hash and 4-byte count, laid out once for all batches
        packed = np.column_stack([lines["customer_id"].to_numpy(), lines["quantity"].to_numpy()]).astype(">u4")
        packed = packed.tobytes()
        hashes = b"".join(lines["records_hash"].to_list())
        counts = lines["records"].to_numpy().astype(">u4").tobytes()
        groups = (
            lines.with_row_index("_at")
            .group_by("meter", "window_start", maintain_order=True)
            .agg(pl.col("_at").first(), pl.len())
        )
        for meter, window_start, first, size in groups.iter_rows():
            for a in range(first, first + size, self.max_lines):
                b = min(a + self.max_lines, first + size)
                payload, records = packed[8 * a : 8 * b], hashes[32 * a : 32 * b]
                root = merkle_root(packed_leaves(payload, records))
                batch = UsageBatchData(
                    batch_id=_batch_id(chain_id, billing, "usage", meter, window_start, payload, root),
                    deadline=now + self.deadline,
                    meter_id=self.deployment.meters[meter],
                    window_start=window_start,
                    window_end=window_start + self.window,
                    _root=root,
                )
                signatures = self.signer.sign(batch.digest(chain_id, billing, payload))
                row = BatchRow(
                    batch.batch_id,
                    "usage",
                    sha,
                    meter,
                    batch.meter_id,
                    batch.window_start,
                    batch.window_end,
                    batch.deadline,
                    payload,
                    root,
                    b"".join(signatures),
                    self.signer.status(signatures),
                )
                yield row, records, counts[4 * a : 4 * b]

    def _rental_batches(self, sha: str, rentals: pl.DataFrame, now: int):
        """Signed batches of at most MAX_RENTALS rental reports, in the order of `rentals`. Yields (row, b"",
        b"") like _usage_batches."""
        if rentals.is_empty():
            return
        chain_id, billing = self.deployment.chain_id, self.deployment.billing
        # 13 bytes a report, as settleRentals reads them: customer id (4), title id (4), first play (5)
        titles = rentals["title"].replace_strict(self.deployment.vod_titles, return_dtype=pl.Int64).to_numpy()
        packed = np.zeros((rentals.height, 13), np.uint8)
        packed[:, 0:4] = rentals["customer_id"].to_numpy().astype(">u4").view(np.uint8).reshape(-1, 4)
        packed[:, 4:8] = titles.astype(">u4").view(np.uint8).reshape(-1, 4)
        packed[:, 8:13] = rentals["first_play_at"].to_numpy().astype(">u8").view(np.uint8).reshape(-1, 8)[:, 3:]
        packed = packed.tobytes()
        for a in range(0, rentals.height, MAX_RENTALS):
            payload = packed[13 * a : 13 * min(a + MAX_RENTALS, rentals.height)]
            batch = RentalBatchData(_batch_id(chain_id, billing, "rental", "", 0, payload, b""), now + self.deadline)
            signatures = self.signer.sign(batch.digest(chain_id, billing, payload))
            row = BatchRow(
                batch.batch_id,
                "rental",
                sha,
                None,
                None,
                None,
                None,
                batch.deadline,
                payload,
                None,
                b"".join(signatures),
                self.signer.status(signatures),
            )
            yield row, b"", b""

    def _write_reports(self, path: Path, quarantined: pl.DataFrame, flagged: pl.DataFrame, dry_run: bool) -> None:
        if dry_run:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        source = _cell(str(path))
        q = self.out_dir / "quarantine.csv"
        new = not q.exists()
        with q.open("a", newline="") as fp:
            writer = csv.writer(fp)
            if new:
                writer.writerow(["source", "line", "reason"])
            writer.writerows((source, line, _cell(reason)) for line, reason in quarantined.iter_rows())
        f = self.out_dir / "fraud.csv"
        new = not f.exists()
        rows = flagged.filter(pl.col(FLAG).is_not_null()).select("line", "session_id", "customer", "device_id", FLAG)
        with f.open("a", newline="") as fp:
            writer = csv.writer(fp)
            if new:
                writer.writerow(["source", "line", "session_id", "customer", "device_id", "reason"])
            writer.writerows([source, *map(_cell, row)] for row in rows.iter_rows())

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
            try:
                self._submit_one(row, report)
            except NotMined as exc:
                # the node would not mine it: the batch stays pending (the next run checks batchSettled
                # first, so nothing is billed twice) and so do the rest
                log.error("%s", exc)
                report.errors.append(str(exc))
                report.not_mined += len(pending) - pending.index(row)
                break
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


def _cell(value):
    """A value for a human-facing CSV report (quarantine.csv, fraud.csv), which people open in spreadsheets:
    text that a spreadsheet would take for a formula (`=cmd|' /C calc'!A0`, `@SUM(...)`) gets a leading
    single quote. The journal keeps every value exactly."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def _pack_sessions(sessions: pl.LazyFrame) -> bytes:
    return Journal.pack_sessions((sessions.collect().item() or "").encode())


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
