"""Xtream UI-style middleware: the `user_activity` table (one row per finished connection), from a CSV export
with a header row or from a MySQL dump's INSERT statements (sqldump.py).

Per row:
    session_id  <namespace>-<activity_id>
    customer    the subscriber mapping of user_id
    device_id   keyed hash of (user_id, user_ip, user_agent)
    content_id  the streams mapping's content id for stream_id (a stream_id not in it is quarantined)
    start, end  date_start .. date_end (unix seconds); a row without date_end is a connection still open:
                held, not billed
    bytes       0: the table has no byte counts (a play the policy bills by bytes is quarantined)
    kind        the streams mapping's type: live, or movie/series (VOD: `rental:<content id>` by default)
server_id, container, user_ip, user_agent, geoip_country_code, isp and any other column are not used.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from .base import HELD, UNKNOWN_SUBSCRIBER, Adapter, AdapterConfigError, Entry, Record, base_name, epoch, open_text
from .sqldump import DumpRows

TABLE = "user_activity"
# Xtream UI's column order, for an INSERT without a column list in a dump without the CREATE TABLE.
COLUMNS = (
    "activity_id",
    "user_id",
    "stream_id",
    "server_id",
    "user_agent",
    "user_ip",
    "container",
    "date_start",
    "date_end",
    "geoip_country_code",
    "isp",
    "external_device",
    "divergence",
)
NULLS = {"", "NULL", "null", "\\N"}


class XtreamAdapter(Adapter):
    name = "xtream"
    unit = "rows"

    def __init__(self, config):
        super().__init__(config)
        if self.streams is None:
            raise AdapterConfigError("xtream: a streams mapping (--streams) is needed to tell live from VOD")

    def read(self, path: Path) -> Iterator[Record | Entry]:
        source = str(path)
        rows = self._sql_rows(path) if base_name(path).endswith(".sql") else self._csv_rows(path)
        for line, index, row in rows:
            self.report.read += 1
            if isinstance(row, str):
                yield Entry(source, line, row, row=index)
            else:
                yield self._record(row, source, line, index)

    def _sql_rows(self, path: Path):
        with open_text(path) as fp:
            yield from DumpRows(fp, TABLE, COLUMNS)

    def _csv_rows(self, path: Path):
        """(line, None, row) of a CSV export; a row with fewer fields than the header (a cut line) is reported."""
        with open_text(path) as fp:
            reader = csv.reader(_lf_lines(fp))
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip().strip("`") for h in header]
            line = reader.line_num + 1
            for fields in reader:
                if not fields or not any(f.strip() for f in fields):
                    line = reader.line_num + 1
                    continue
                if len(fields) < len(header):
                    yield line, None, f"truncated row ({len(fields)} of {len(header)} fields)"
                else:
                    fields = [f.replace(_CR, "\r") for f in fields]
                    values = [None if f.strip() in NULLS else f.strip() for f in fields]
                    yield line, None, dict(zip(header, values, strict=False))
                line = reader.line_num + 1

    def _record(self, row: dict, source: str, line: int, index: int | None) -> Record | Entry:
        get = row.get  # values are None when NULL (both readers); an empty string counts as missing too
        activity = get("activity_id") or None

        def quarantine(reason: str) -> Entry:
            return Entry(source, line, reason, row=index, ref=activity or "")

        if activity is None:
            return quarantine("missing activity_id")
        date_end = get("date_end") or None
        if date_end is None:
            return Entry(source, line, "connection still open (no date_end)", HELD, index, activity)
        user = get("user_id") or None
        if user is None:
            return quarantine("missing user_id")
        found = self.subscribers.lookup(user)
        if found is None:
            return quarantine(UNKNOWN_SUBSCRIBER)
        stream_id = get("stream_id") or None
        if stream_id is None:
            return quarantine("missing stream_id")
        stream = self.streams.get(stream_id)
        if stream is None:
            return quarantine("unknown stream")
        date_start = get("date_start") or None
        if date_start is None:
            return quarantine("missing date_start")
        start, end = epoch(date_start), epoch(date_end)
        if start is None:
            return quarantine("bad date_start")
        if end is None:
            return quarantine("bad date_end")
        if start[1] != end[1]:
            return quarantine("timestamps in mixed units")
        meter = self.meters.meter(stream.kind, stream.content_id)
        if self.meters.counts_bytes(meter):
            return quarantine("missing bytes (user_activity has no byte counts)")
        ip = get("user_ip")
        return Record(
            session_id=self.session_id(activity, ip),
            customer=found[1],
            device_id=self.pseudonyms.device(self.name, user, ip, get("user_agent")),
            content_id=stream.content_id,
            meter=meter,
            start=start[0],
            end=end[0],
            bytes=0,
        )


# A line ends at a line feed only. The csv module would end a record at a bare carriage return too (and
# miscount every line after it), so while it reads, each one stands in as a lone surrogate, which text decoded
# from UTF-8 never holds, and fields get it back.
_CR = "\ud800"


def _lf_lines(fp) -> Iterator[str]:
    pending = ""
    while chunk := fp.read(1 << 16):
        pending += chunk
        *lines, pending = pending.split("\n")
        for line in lines:
            yield _protect(line) + "\n"
    if pending:
        yield _protect(pending)


def _protect(line: str) -> str:
    if "\r" not in line:
        return line
    body, crlf = (line[:-1], "\r") if line.endswith("\r") else (line, "")
    return body.replace("\r", _CR) + crlf
