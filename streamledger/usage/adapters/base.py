"""What every platform adapter shares: the canonical record it yields, the exceptions it reports, the
operator's mappings (subscribers, streams, meters), pseudonyms for devices, timestamps of unknown unit, and
the runner that writes the canonical CSV and the exceptions file.

An adapter reads its source one line at a time and yields, for each source record, either a canonical
`Record` or an `Entry` for the exceptions file: QUARANTINED (it cannot be billed as it stands: a field
billing needs is missing or unreadable, the subscriber or stream is unknown) or HELD (a session still open:
it is billed from the export that closes it). Source records that are not usage at all (other event types,
playlist requests, failed requests) are skipped and counted by reason. Nothing is dropped silently:

    records read = records behind the canonical rows + quarantined + held + skipped

Privacy: the canonical fields (which the feeder commits to on-chain through the records hash) never carry
an IP address, user agent, country or token. Session ids are the platform's opaque session id, or a hash of
fields that are in the record anyway; device ids are a keyed hash (HMAC-SHA256 with the operator's adapter
key) of the subscriber, IP and user agent.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..schema import INCLUDED_METERS, RENTAL_PREFIX

# The canonical CSV's columns, in the order docs/usage-records.md shows them.
CANONICAL = ("session_id", "customer", "device_id", "content_id", "meter", "start", "end", "bytes")
EXCEPTION_COLUMNS = ("source", "line", "row", "status", "reason", "ref")
QUARANTINED = "quarantined"
HELD = "held"
UNKNOWN_SUBSCRIBER = "unknown subscriber"
INCLUDED = "included"

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
KINDS = ("live", "catchup", "vod", "segments")
# The type names platforms use for their streams, and the kind of play each is billed as.
STREAM_TYPES = {
    "live": "live",
    "created_live": "live",
    "radio": "live",
    "radio_streams": "live",
    "catchup": "catchup",
    "catch-up": "catchup",
    "timeshift": "catchup",
    "archive": "catchup",
    "dvr": "catchup",
    "vod": "vod",
    "movie": "vod",
    "movies": "vod",
    "series": "vod",
    "episode": "vod",
}
TIME_UNITS = {"time", "minute", "minutes", "second", "seconds", "hour", "hours"}
BYTE_UNITS = {"bytes", "byte", "mb", "gb", "kb"}


class AdapterConfigError(ValueError):
    """An operator file (subscribers, streams, meters, key) is unusable; the message says where and why."""


# ----- what adapters yield -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """One canonical session record (docs/usage-records.md). `covers`: how many source records it stands for
    (nginx: the requests of the session); not written."""

    session_id: str
    customer: str
    device_id: str
    content_id: str
    meter: str
    start: int
    end: int
    bytes: int
    covers: int = 1

    def row(self) -> tuple:
        return (
            self.session_id,
            self.customer,
            self.device_id,
            self.content_id,
            self.meter,
            self.start,
            self.end,
            self.bytes,
        )


@dataclass(slots=True)
class Entry:
    """A source record that produced no canonical record: where it is (`line`, and `row` within the line for
    multi-row SQL statements or JSON arrays), why, and the platform's own reference to it (its session or
    activity id: never an IP, user agent or token). `covers` as for Record (0: a notice about records
    counted elsewhere, such as a session whose events were all skipped but that never closed)."""

    source: str
    line: int
    reason: str
    status: str = QUARANTINED
    row: int | None = None
    ref: str = ""
    covers: int = 1

    def row_values(self) -> tuple:
        row = "" if self.row is None else self.row
        return (_cell(self.source), self.line, row, self.status, _cell(self.reason), _cell(self.ref))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """The exceptions file is a report people open in spreadsheets, and `ref` comes from the platform's data:
    text a spreadsheet would run as a formula (`=cmd|' /C calc'!A0`) gets a leading quote. (The canonical
    CSV, the feeder's input, keeps every value exactly.)"""
    return "'" + value if value.startswith(FORMULA_START) else value


@dataclass
class Report:
    adapter: str
    unit: str  # what a source record is: "events", "rows", "requests"
    inputs: list[str] = field(default_factory=list)
    read: int = 0
    records: int = 0  # canonical rows written
    billed_from: int = 0  # source records behind them
    quarantined: int = 0
    held: int = 0
    held_covers: int = 0
    notices: int = 0  # held entries that cover no source record (sessions left open at the end of a log)
    skipped: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    held_reasons: Counter = field(default_factory=Counter)

    def add(self, item: Record | Entry) -> None:
        if isinstance(item, Record):
            self.records += 1
            self.billed_from += item.covers
        elif item.status == HELD:
            self.held += 1
            self.held_covers += item.covers
            self.notices += item.covers == 0
            self.held_reasons[item.reason] += 1
        else:
            self.quarantined += item.covers
            self.reasons[item.reason] += item.covers

    def check(self) -> None:
        accounted = self.billed_from + self.quarantined + self.held_covers + sum(self.skipped.values())
        if accounted != self.read:
            raise RuntimeError(
                f"{self.adapter}: {self.read} {self.unit} read but {accounted} accounted for "
                f"({self.billed_from} billed, {self.quarantined} quarantined, {self.held_covers} held, "
                f"{sum(self.skipped.values())} skipped)"
            )

    def summary(self) -> str:
        lines = [
            f"{self.adapter}: read {self.read:,} {self.unit} = {self.billed_from:,} in {self.records:,} canonical "
            f"records + {self.quarantined:,} quarantined + {self.held_covers:,} held + "
            f"{sum(self.skipped.values()):,} skipped"
        ]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"    skipped     {count:>8,}  {reason}")
        for reason, count in sorted(self.reasons.items()):
            lines.append(f"    quarantined {count:>8,}  {reason}")
        for reason, count in sorted(self.held_reasons.items()):
            lines.append(f"    held        {count:>8,}  {reason}")
        return "\n".join(lines)


# ----- operator files ----------------------------------------------------------------------------------------


def _load_structured(path: Path) -> object:
    text = path.read_text(encoding="utf-8")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AdapterConfigError(f"{path}: not valid JSON ({exc})") from None


def _csv_rows(path: Path, required: tuple[str, ...], aliases: dict | None = None) -> Iterator[tuple[int, dict]]:
    """(line, row) of a CSV file with a header; `aliases` renames header columns."""
    aliases = aliases or {}
    with path.open(newline="", encoding="utf-8") as fp:
        reader = csv.reader(fp)
        header = [aliases.get(h.strip(), h.strip()) for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise AdapterConfigError(f"{path}: the header needs the column(s) {', '.join(missing)}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            yield reader.line_num, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}


class Subscribers:
    """Platform user id or token -> customer billing address, kept by the operator (never on-chain).

    CSV with the header `subscriber,customer` (other columns ignored), or a JSON/YAML object
    {"<subscriber>": "0x…"}. A subscriber listed twice with different addresses is an error."""

    def __init__(self, table: dict[str, str]):
        self.table = table

    @classmethod
    def load(cls, path: str | Path) -> Subscribers:
        path = Path(path)
        table: dict[str, str] = {}

        def add(key: object, address: object, where: str) -> None:
            key = "" if key is None else str(key).strip()
            address = "" if address is None else str(address).strip()
            if not key:
                raise AdapterConfigError(f"{where}: empty subscriber")
            if not ADDRESS.match(address):
                raise AdapterConfigError(f"{where}: {address!r} is not a customer address (0x + 40 hex digits)")
            address = address.lower()
            if table.setdefault(key, address) != address:
                raise AdapterConfigError(f"{where}: subscriber {key!r} is mapped to two different addresses")

        if path.suffix == ".csv":
            for line, row in _csv_rows(path, ("subscriber", "customer")):
                add(row["subscriber"], row["customer"], f"{path}:{line}")
        else:
            data = _load_structured(path)
            if not isinstance(data, dict):
                raise AdapterConfigError(f"{path}: expected an object of subscriber -> customer address")
            for key, address in data.items():
                add(key, address, f"{path}: {key!r}")
        return cls(table)

    def lookup(self, *keys: object) -> tuple[str, str] | None:
        """(subscriber key, address) of the first key that is mapped."""
        for key in keys:
            if key is None or key == "":
                continue
            key = str(key)
            address = self.table.get(key)
            if address is not None:
                return key, address
        return None


@dataclass(frozen=True, slots=True)
class Stream:
    kind: str  # live, catchup or vod
    content_id: str


class Streams:
    """The platform's stream ids or names -> (kind of play, content id), supplied by the operator.

    CSV with the header `stream,type,content_id` (`stream_id` is accepted for `stream`), or a JSON/YAML object
    {"<stream>": {"type": "movie", "content_id": "the_long_night"}}. Types: live, created_live, radio
    (live); catchup, timeshift, archive, dvr (catch-up); movie, series, episode, vod (VOD)."""

    def __init__(self, table: dict[str, Stream]):
        self.table = table

    @classmethod
    def load(cls, path: str | Path) -> Streams:
        path = Path(path)
        table: dict[str, Stream] = {}

        def add(key: object, kind: object, content: object, where: str) -> None:
            key = "" if key is None else str(key).strip()
            kind = STREAM_TYPES.get(str(kind or "").strip().lower())
            if not key:
                raise AdapterConfigError(f"{where}: empty stream")
            if kind is None:
                raise AdapterConfigError(f"{where}: unknown stream type (one of {', '.join(sorted(STREAM_TYPES))})")
            content = key if content is None or str(content).strip() == "" else str(content).strip()
            if key in table:
                raise AdapterConfigError(f"{where}: stream {key!r} listed twice")
            table[key] = Stream(kind, content)

        if path.suffix == ".csv":
            for line, row in _csv_rows(path, ("stream", "type"), {"stream_id": "stream"}):
                add(row["stream"], row["type"], row.get("content_id"), f"{path}:{line}")
        else:
            data = _load_structured(path)
            if not isinstance(data, dict):
                raise AdapterConfigError(f"{path}: expected an object of stream -> {{type, content_id}}")
            for key, entry in data.items():
                if not isinstance(entry, dict):
                    raise AdapterConfigError(f"{path}: {key!r}: expected {{type, content_id}}")
                add(key, entry.get("type"), entry.get("content_id"), f"{path}: {key!r}")
        return cls(table)

    @staticmethod
    def entry(stream_type: str, content_id: str) -> Stream:
        """A mapping entry from a platform's type name (movie, live, …) and a content id."""
        kind = STREAM_TYPES.get(stream_type.strip().lower())
        if kind is None:
            raise AdapterConfigError(f"unknown stream type {stream_type!r} (one of {', '.join(sorted(STREAM_TYPES))})")
        return Stream(kind, content_id)

    def get(self, key: object) -> Stream | None:
        return None if key is None else self.table.get(str(key))


class MeterPolicy:
    """Which meter a play bills: the operator's choice per kind of play and per content (docs/platform-adapters.md).

        meters:  {meter key: time | bytes}   the catalogue's metered keys and what they count
        kinds:   {live|catchup|vod|segments: meter}   the default per kind of play
        content: {content id: meter, or {kind: meter}}   exceptions per content id

    A meter value is a meter key, `included` (in the plan: checked, never billed), `rental` (a VOD play:
    `rental:<content id>`) or `rental:<title key>`. The file's sections are merged over DEFAULT."""

    DEFAULT = {
        "meters": {"premium_minutes": "time", "gb_delivered": "bytes"},
        "kinds": {"live": "premium_minutes", "catchup": "premium_minutes", "vod": "rental", "segments": "gb_delivered"},
        "content": {},
    }

    def __init__(self, meters: dict, kinds: dict, content: dict, where: str = "meters"):
        self.units: dict[str, str] = {}
        for key, unit in meters.items():
            unit = str(unit).strip().lower()
            if unit in TIME_UNITS:
                self.units[str(key)] = "time"
            elif unit in BYTE_UNITS:
                self.units[str(key)] = "bytes"
            else:
                raise AdapterConfigError(f"{where}: meter {key!r}: unit {unit!r} is neither time nor bytes")
        self.kinds = {kind: self._meter(kinds.get(kind, INCLUDED), f"{where}: kinds.{kind}") for kind in KINDS}
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise AdapterConfigError(f"{where}: unknown kind(s) {sorted(unknown)} (one of {', '.join(KINDS)})")
        self.content: dict[str, dict[str, str]] = {}
        for content_id, value in content.items():
            at = f"{where}: content.{content_id}"
            if isinstance(value, dict):
                bad = set(value) - set(KINDS)
                if bad:
                    raise AdapterConfigError(f"{at}: unknown kind(s) {sorted(bad)}")
                self.content[str(content_id)] = {k: self._meter(v, f"{at}.{k}") for k, v in value.items()}
            else:
                meter = self._meter(value, at)
                self.content[str(content_id)] = dict.fromkeys(KINDS, meter)

    def _meter(self, value: object, where: str) -> str:
        text = "" if value is None else str(value).strip()
        if text.lower() in INCLUDED_METERS:
            return INCLUDED
        if text == "rental" or (text.startswith(RENTAL_PREFIX) and len(text) > len(RENTAL_PREFIX)):
            return text
        if text not in self.units:
            known = ", ".join(sorted(self.units)) or "none"
            raise AdapterConfigError(f"{where}: {text!r} is not a declared meter ({known}), included or rental")
        return text

    @classmethod
    def load(cls, path: str | Path | None) -> MeterPolicy:
        if path is None:
            return cls(**cls.DEFAULT)
        data = _load_structured(Path(path)) or {}
        if not isinstance(data, dict) or set(data) - {"meters", "kinds", "content"}:
            raise AdapterConfigError(f"{path}: expected the sections meters, kinds and content")
        merged = {name: {**cls.DEFAULT[name], **(data.get(name) or {})} for name in ("meters", "kinds", "content")}
        return cls(**merged, where=str(path))

    def meter(self, kind: str, content_id: str) -> str:
        chosen = self.content.get(content_id, {}).get(kind) or self.kinds[kind]
        return RENTAL_PREFIX + content_id if chosen == "rental" else chosen

    def counts_bytes(self, meter: str) -> bool:
        return self.units.get(meter) == "bytes"


class Pseudonyms:
    """Device ids that say nothing about the device: HMAC-SHA256 under the operator's adapter key."""

    CACHE = 200_000  # devices remembered: a log names the same devices again and again

    def __init__(self, key: bytes):
        self.key = key
        self._devices: dict[tuple, str] = {}

    def device(self, *parts: object) -> str:
        device = self._devices.get(parts)
        if device is None:
            message = "\x1f".join("" if p is None else str(p) for p in parts).encode()
            device = "dev-" + hmac.new(self.key, message, hashlib.sha256).hexdigest()[:20]
            if len(self._devices) >= self.CACHE:
                self._devices.clear()
            self._devices[parts] = device
        return device

    def opaque(self, *parts: object) -> str:
        message = "\x1f".join("" if p is None else str(p) for p in parts).encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:24]


def load_key(path: str | Path, create: bool = True) -> bytes:
    """The operator's adapter key: 64 hex digits in a file. Created (mode 0600) when absent and `create`:
    device ids derive from it, so it must be kept (and backed up) with the subscriber mapping."""
    path = Path(path)
    if not path.exists():
        if not create:
            raise AdapterConfigError(f"{path}: no adapter key")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fp:
            fp.write(secrets.token_hex(32) + "\n")
        print(f"created the adapter key {path}: keep it, device ids derive from it", file=sys.stderr)
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AdapterConfigError(f"{path}: the adapter key must be hex digits") from None
    if len(key) < 16:
        raise AdapterConfigError(f"{path}: the adapter key is too short (at least 32 hex digits)")
    return key


# ----- reading sources -----------------------------------------------------------------------------------------


def open_text(path: Path) -> IO[str]:
    """A source file as text, gunzipped when it ends in .gz; invalid UTF-8 becomes U+FFFD (the feeder then
    quarantines any field that carries it). Newlines are kept as they are."""
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115 - the wrapper owns it
    return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")


def base_name(path: Path) -> str:
    return path.name.removesuffix(".gz")


# Epoch values by magnitude: below 1e11 seconds (1e11 s is the year 5138), below 1e14 milliseconds (1e11 ms is
# 1973), below 1e17 microseconds.
UNIT_LIMITS = ((10**11, "s", 1), (10**14, "ms", 1_000), (10**17, "us", 1_000_000))


def epoch(value: object) -> tuple[int, str] | None:
    """(unix seconds, unit) of a timestamp in seconds, milliseconds or microseconds, told apart by magnitude;
    None when it is not a positive number. Fractions are cut (a start and an end both cut keep the
    duration within a second)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                return None
    if not isinstance(value, (int, float)) or value != value or value <= 0:
        return None
    for limit, unit, divisor in UNIT_LIMITS:
        if value < limit:
            return int(value // divisor), unit
    return None


def present(value: object) -> bool:
    """A field that carries something: not absent, null, empty or zero (platforms write 0 for "not yet")."""
    return value is not None and value != "" and value != 0 and value != "0"


def byte_count(value: object) -> int | None:
    """A non-negative whole number of bytes, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value >= 0 else None


# ----- the adapter and its runner ----------------------------------------------------------------------------


@dataclass
class AdapterConfig:
    subscribers: Subscribers
    meters: MeterPolicy
    key: bytes
    streams: Streams | None = None
    namespace: str | None = None  # session id prefix; default the adapter's name


class Adapter:
    """Base: `read(path)` yields Records and Entries for one source file and counts what it reads and skips in
    `self.report`; `finish()` yields what is left once every file is read (sessions still open)."""

    name = "adapter"
    unit = "records"

    def __init__(self, config: AdapterConfig):
        self.config = config
        self.subscribers = config.subscribers
        self.streams = config.streams
        self.meters = config.meters
        self.pseudonyms = Pseudonyms(config.key)
        self.namespace = config.namespace or self.name
        self.report = Report(self.name, self.unit)

    def read(self, path: Path) -> Iterator[Record | Entry]:
        raise NotImplementedError

    def finish(self) -> Iterator[Record | Entry]:
        return iter(())

    def session_id(self, platform_id: object, *personal: object) -> str:
        """`<namespace>-<platform id>`; if the platform's id carries a personal value of the record (some
        set-ups use the token or the address as the session id), a keyed hash of it instead."""
        text = str(platform_id).strip()
        if any(p and str(p) in text for p in personal if p is not None and len(str(p)) >= 4):
            text = "h" + self.pseudonyms.opaque(self.name, text)
        return f"{self.namespace}-{text}"


def _open_out(path: Path, compressed: bool) -> IO[str]:
    raw = gzip.open(path, "wb") if compressed else path.open("wb")  # noqa: SIM115 - the wrapper owns it
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def run(adapter: Adapter, inputs: Iterable[str | Path], out: str | Path, exceptions: str | Path) -> Report:
    """Reads every input through `adapter`; writes the canonical CSV to `out` and the quarantined and held
    entries to `exceptions`, each replaced whole only once the run is complete (a file the feeder picks up is
    never half written). Checks that every source record is accounted for."""
    out, exceptions = Path(out), Path(exceptions)
    report = adapter.report
    parts = [out.with_name(out.name + ".part"), exceptions.with_name(exceptions.name + ".part")]
    for p in parts:
        p.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _open_out(parts[0], out.suffix == ".gz") as fo, _open_out(parts[1], exceptions.suffix == ".gz") as fx:
            records, entries = csv.writer(fo, lineterminator="\n"), csv.writer(fx, lineterminator="\n")
            records.writerow(CANONICAL)
            entries.writerow(EXCEPTION_COLUMNS)

            def consume(items: Iterable[Record | Entry]) -> None:
                for item in items:
                    report.add(item)
                    if isinstance(item, Record):
                        records.writerow(item.row())
                    else:
                        entries.writerow(item.row_values())

            for path in inputs:
                report.inputs.append(str(path))
                consume(adapter.read(Path(path)))
            consume(adapter.finish())
        report.check()
    except BaseException:
        for p in parts:
            p.unlink(missing_ok=True)
        raise
    os.replace(parts[0], out)
    os.replace(parts[1], exceptions)
    return report
