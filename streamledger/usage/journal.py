"""The feeder's durable journal (SQLite): which log files were processed, which session ids were seen, and
every batch with its on-chain state. With the chain's own "each batch id once" rule it makes the feeder
exactly-once: a file's records, its batches and its session ids are committed in one transaction, and a
batch is marked settled only after the chain says so.
"""

from __future__ import annotations

import json
import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson
import polars as pl

VERSION = 2  # PRAGMA user_version of the journal format this code writes

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    processed_at INTEGER NOT NULL,
    records INTEGER NOT NULL,
    billed INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    session_ids BLOB NOT NULL,
    directory BLOB NOT NULL            -- customer -> [id, streams] as the fraud rules saw them (JSON, zlib)
);
CREATE TABLE IF NOT EXISTS batches (
    batch_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                -- usage | rental
    file_sha256 TEXT NOT NULL,
    meter_key TEXT,
    meter_id INTEGER,
    window_start INTEGER,
    window_end INTEGER,
    deadline INTEGER NOT NULL,
    payload BLOB NOT NULL,             -- packed lines or rentals, as signed and sent
    records_root BLOB,
    records_hashes BLOB,               -- usage: each line's records hash, 32 bytes, in line order
    record_counts BLOB,                -- usage: each line's number of records, 4 bytes big-endian
    signatures BLOB NOT NULL,          -- 65 bytes each, sorted by signer
    status TEXT NOT NULL,              -- unsigned | pending | settled | rejected
    tx_hash TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    settled_at INTEGER
);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
"""


class JournalError(RuntimeError):
    """The journal file cannot be used by this version of the feeder."""


@dataclass
class BatchRow:
    batch_id: int
    kind: str
    file_sha256: str
    meter_key: str | None
    meter_id: int | None
    window_start: int | None
    window_end: int | None
    deadline: int
    payload: bytes
    records_root: bytes | None
    signatures: bytes
    status: str
    tx_hash: str | None = None
    error: str | None = None

    def signature_list(self) -> list[bytes]:
        return [self.signatures[i : i + 65] for i in range(0, len(self.signatures), 65)]


class Journal:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit survives a crash of the machine, not just us
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = self.db.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if version != VERSION and tables:
            self.db.close()
            raise JournalError(
                f"{self.path}: journal format {version}, this feeder reads format {VERSION}; "
                "settle its pending batches with the feeder that wrote it, then start a new journal"
            )
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version = {VERSION}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ----- files and sessions -----

    def file_processed(self, sha256: str) -> str | None:
        """The path under which this content was processed before, or None."""
        row = self.db.execute("SELECT path FROM files WHERE sha256 = ?", (sha256,)).fetchone()
        return row[0] if row else None

    def seen_sessions(self, since: int) -> pl.Series:
        """Session ids of files processed since `since` (unix seconds)."""
        ids: list[str] = []
        for (blob,) in self.db.execute("SELECT session_ids FROM files WHERE processed_at >= ?", (since,)):
            text = zlib.decompress(blob).decode()
            if text:
                ids.extend(text.split("\n"))
        return pl.Series("session_id", ids, dtype=pl.String)

    @staticmethod
    def pack_sessions(sessions: bytes) -> bytes:
        """A file's clean session ids (UTF-8, one per line) as add_file stores them."""
        return zlib.compress(sessions, 1)

    @staticmethod
    def pack_directory(customers: list[str], ids: list[int], streams: list[int]) -> bytes:
        """The customer directory the fraud rules used, as add_file stores it: {customer: [id, streams]}."""
        return zlib.compress(orjson.dumps(dict(zip(customers, zip(ids, streams, strict=True), strict=True))), 1)

    def add_file(
        self,
        db: sqlite3.Connection,
        sha256: str,
        path: str,
        counts: dict[str, int],
        sessions: bytes,
        now: int,
        directory: bytes,
    ) -> None:
        """`sessions` and `directory` packed by pack_sessions and pack_directory."""
        db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sha256,
                path,
                now,
                counts["records"],
                counts["billed"],
                counts["flagged"],
                counts["quarantined"],
                sessions,
                directory,
            ),
        )

    def file_context(self, sha256: str) -> tuple[int, dict[str, list[int]]] | None:
        """When a file was processed and the customer directory its fraud rules used, or None."""
        row = self.db.execute("SELECT processed_at, directory FROM files WHERE sha256 = ?", (sha256,)).fetchone()
        return (row[0], json.loads(zlib.decompress(row[1]))) if row else None

    # ----- batches -----

    def add_batch(self, db: sqlite3.Connection, batch: BatchRow, hashes: bytes = b"", counts: bytes = b"") -> None:
        """A usage batch comes with its lines' records hashes (32 bytes each) and record counts (4 bytes each,
        big-endian), in the order of its payload."""
        if batch.kind == "usage" and not (len(hashes) == 4 * len(batch.payload) == 8 * len(counts)):
            raise ValueError(f"batch {batch.batch_id}: records hashes or counts do not match its lines")
        db.execute(
            "INSERT INTO batches (batch_id, kind, file_sha256, meter_key, meter_id, window_start, window_end, "
            "deadline, payload, records_root, records_hashes, record_counts, signatures, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                batch.batch_id,
                batch.kind,
                batch.file_sha256,
                batch.meter_key,
                batch.meter_id,
                batch.window_start,
                batch.window_end,
                batch.deadline,
                batch.payload,
                batch.records_root,
                hashes if batch.kind == "usage" else None,
                counts if batch.kind == "usage" else None,
                batch.signatures,
                batch.status,
                int(time.time()),
            ),
        )

    def batches(self, *statuses: str) -> list[BatchRow]:
        marks = ",".join("?" * len(statuses))
        rows = self.db.execute(
            "SELECT batch_id, kind, file_sha256, meter_key, meter_id, window_start, window_end, deadline, payload, "
            f"records_root, signatures, status, tx_hash, error FROM batches WHERE status IN ({marks}) "
            "ORDER BY created_at, batch_id",
            statuses,
        ).fetchall()
        return [BatchRow(*row) for row in rows]

    def batch(self, batch_id: int) -> BatchRow | None:
        row = self.db.execute(
            "SELECT batch_id, kind, file_sha256, meter_key, meter_id, window_start, window_end, deadline, payload, "
            "records_root, signatures, status, tx_hash, error FROM batches WHERE batch_id = ?",
            (batch_id,),
        ).fetchone()
        return BatchRow(*row) if row else None

    def lines(self, batch_id: int) -> list[tuple[int, int, bytes, int]]:
        """A usage batch's lines: (customer id, quantity, records hash, records), in payload order."""
        row = self.db.execute(
            "SELECT payload, records_hashes, record_counts FROM batches WHERE batch_id = ? AND kind = 'usage'",
            (batch_id,),
        ).fetchone()
        if row is None:
            return []
        payload, hashes, counts = row
        return [
            (
                int.from_bytes(payload[8 * i : 8 * i + 4], "big"),
                int.from_bytes(payload[8 * i + 4 : 8 * i + 8], "big"),
                hashes[32 * i : 32 * i + 32],
                int.from_bytes(counts[4 * i : 4 * i + 4], "big"),
            )
            for i in range(len(payload) // 8)
        ]

    def set_signatures(self, batch_id: int, deadline: int, signatures: bytes, status: str) -> None:
        self.db.execute(
            "UPDATE batches SET deadline = ?, signatures = ?, status = ? WHERE batch_id = ?",
            (deadline, signatures, status, batch_id),
        )

    def mark_settled(self, batch_id: int, tx_hash: str | None) -> None:
        self.db.execute(
            "UPDATE batches SET status = 'settled', tx_hash = ?, settled_at = ? WHERE batch_id = ?",
            (tx_hash, int(time.time()), batch_id),
        )

    def mark_rejected(self, batch_id: int, error: str) -> None:
        self.db.execute("UPDATE batches SET status = 'rejected', error = ? WHERE batch_id = ?", (error, batch_id))

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM batches GROUP BY status").fetchall())
