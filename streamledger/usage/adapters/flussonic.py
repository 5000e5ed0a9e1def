"""Flussonic Media Server: play sessions from its event sink, one JSON event per line.

`event_sink <name> { url log:///var/log/flussonic/events.log; }` (or an HTTP sink whose request bodies are
saved one per line: a line may then hold a JSON array of events). Only `play_closed` events bill; every other
event is skipped and counted by name. A session seen opening (play_opened, play_started, play_updated, …) that
has no play_closed by the end of the input is held back and listed: its play_closed, in a later log, bills it.

Per play_closed event:
    session_id  <namespace>-<id>
    customer    the subscriber mapping of user_id, else of token
    device_id   keyed hash of (user_id or token, ip, user_agent)
    content_id  media (or name), through the streams mapping when one is given
    start, end  started_at (opened_at when started_at is missing or 0) .. closed_at; seconds, milliseconds
                or microseconds, told apart per record by magnitude (the docs say utc_ms; examples show
                seconds). A record whose timestamps disagree on the unit is quarantined.
    bytes       bytes
    kind        catchup when dvr is true, else live (or the streams mapping's type): the meter policy says
                which meter it bills
A play_closed without closed_at is a session still open: held, not billed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from .base import HELD, UNKNOWN_SUBSCRIBER, Adapter, Entry, Record, byte_count, epoch, open_text, present

BILLED_EVENT = "play_closed"
TIMESTAMPS = ("opened_at", "started_at", "closed_at")


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


class FlussonicAdapter(Adapter):
    name = "flussonic"
    unit = "events"

    def __init__(self, config):
        super().__init__(config)
        self._open: dict[str, tuple[str, int, int | None]] = {}  # session id -> where it was last seen open

    def read(self, path: Path) -> Iterator[Record | Entry]:
        source = str(path)
        with open_text(path) as fp:
            for number, line in enumerate(fp, start=1):
                if not line.strip():
                    continue
                try:
                    parsed = orjson.loads(line)
                except orjson.JSONDecodeError:
                    parsed = self._after_prefix(line)
                if parsed is None:
                    self.report.read += 1
                    truncated = not line.endswith("\n")
                    reason = "invalid JSON: truncated last line" if truncated else "invalid JSON"
                    yield Entry(source, number, reason)
                    continue
                if isinstance(parsed, list):  # an HTTP sink's batch: events numbered within the line
                    for index, event in enumerate(parsed, start=1):
                        self.report.read += 1
                        yield from self._event(event, source, number, index)
                else:
                    self.report.read += 1
                    yield from self._event(parsed, source, number, None)

    @staticmethod
    def _after_prefix(line: str) -> object | None:
        """A log line with a prefix (time, level) before the JSON object, or None."""
        at = line.find("{")
        if at <= 0:
            return None
        try:
            return orjson.loads(line[at:])
        except orjson.JSONDecodeError:
            return None

    def _event(self, event: object, source: str, line: int, row: int | None) -> Iterator[Record | Entry]:
        if not isinstance(event, dict):
            yield Entry(source, line, "not a JSON object", row=row)
            return
        name = event.get("event") or event.get("type")
        if not isinstance(name, str) or not name:
            yield Entry(source, line, "missing event", row=row)
            return
        sid = event.get("id")
        sid = None if sid is None or isinstance(sid, (dict, list, bool)) else str(sid).strip()
        if name != BILLED_EVENT:
            self.report.skipped[f"event {name[:40]}"] += 1
            if sid and name.startswith("play_"):
                self._open[sid] = (source, line, row)
            return
        if sid:
            self._open.pop(sid, None)
        item = self._closed(event, sid, source, line, row)
        if item is not None:
            yield item

    def _closed(self, event: dict, sid: str | None, source: str, line: int, row: int | None) -> Record | Entry:
        def quarantine(reason: str) -> Entry:
            return Entry(source, line, reason, row=row, ref=sid or "")

        if not sid:
            return quarantine("missing id")
        if not present(event.get("closed_at")):
            return Entry(source, line, "session still open (no closed_at)", HELD, row, sid)
        content = event.get("media") or event.get("name")
        if not isinstance(content, (str, int)) or isinstance(content, bool) or str(content).strip() == "":
            return quarantine("missing media")
        content = str(content).strip()
        user, token = event.get("user_id"), event.get("token")
        if not present(user) and not present(token):
            return quarantine("missing user_id and token")
        found = self.subscribers.lookup(user, token)
        if found is None:
            return quarantine(UNKNOWN_SUBSCRIBER)
        subscriber, customer = found

        opened = event.get("started_at") if present(event.get("started_at")) else event.get("opened_at")
        if not present(opened):
            return quarantine("missing started_at and opened_at")
        stamps = {}
        for name in TIMESTAMPS:
            if present(event.get(name)):
                parsed = epoch(event[name])
                if parsed is None:
                    return quarantine(f"bad {name}")
                stamps[name] = parsed
        if len({unit for _, unit in stamps.values()}) > 1:
            return quarantine("timestamps in mixed units")
        start = stamps["started_at" if "started_at" in stamps else "opened_at"][0]
        end = stamps["closed_at"][0]

        kind = "catchup" if _truthy(event.get("dvr")) else "live"
        stream = self.streams.get(content) if self.streams else None
        if stream is not None:
            content = stream.content_id
            kind = "catchup" if kind == "catchup" and stream.kind == "live" else stream.kind
        meter = self.meters.meter(kind, content)

        raw_bytes = event.get("bytes")
        if raw_bytes is None:
            if self.meters.counts_bytes(meter):
                return quarantine("missing bytes")
            nbytes = 0
        else:
            nbytes = byte_count(raw_bytes)
            if nbytes is None:
                return quarantine("bad bytes")

        ip, agent = event.get("ip"), event.get("user_agent") or event.get("useragent")
        return Record(
            session_id=self.session_id(sid, token, ip),
            customer=customer,
            device_id=self.pseudonyms.device(self.name, subscriber, ip, agent),
            content_id=content,
            meter=meter,
            start=start,
            end=end,
            bytes=nbytes,
        )

    def finish(self) -> Iterator[Entry]:
        """Sessions that opened but never closed in the input: listed as held (their events were counted as
        skipped), to be billed from the log that holds their play_closed."""
        for sid, (source, line, row) in self._open.items():
            yield Entry(source, line, "session still open at the end of the log (no play_closed)", HELD, row, sid, 0)
        self._open.clear()
