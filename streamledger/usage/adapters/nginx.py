"""nginx access logs of HLS (or DASH) segment requests, for metering bytes delivered.

Formats: `combined` (the token is taken from the request's query string, `?token=…` by default) or
`combined` followed by `key=value` fields, as docs/platform-adapters.md recommends:

    log_format streamledger '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
                            '"$http_referer" "$http_user_agent" token="$arg_token" msec=$msec';

(`token=` wins over the query string, `msec=` over $time_local, `bytes=` over $body_bytes_sent; the common
format, without referer and user agent, is read too). A request is a segment request when its path matches
the stream pattern, whose `stream` group names the stream (by default the folder holding the segment:
/live/sport-hd/seg-1764000000.ts -> sport-hd). Playlists, keys and other paths are skipped, as are responses
other than 200 and 206.

Requests are grouped into sessions by (token, stream): a session ends when its token has requested nothing
of that stream for the idle gap (default 3 segments of 6 s). A session's start and end are its first and last
request (at least one second apart), its bytes their sum. Lines may be out of order by up to REORDER
seconds (nginx logs a request when it completes); a session is written once the log has moved past its last
request by the idle gap plus that margin, so memory holds only the sessions in progress.

Per session:
    session_id  <namespace>-<hash of (namespace, customer, content id, start)>
    customer    the subscriber mapping of the token (else of $remote_user)
    device_id   keyed hash of (token, remote address, user agent) of its first request
    content_id  the stream, through the streams mapping when one is given
    meter       the policy's `segments` meter (gb_delivered by default)
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .base import UNKNOWN_SUBSCRIBER, Adapter, AdapterConfigError, Entry, Record, open_text

LINE = re.compile(
    r'(?P<addr>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) '
    r'(?P<bytes>\d+|-)(?: "[^"]*" "(?P<agent>[^"]*)")?(?P<rest>.*)$'
)
FIELD = re.compile(r'(\w+)=(?:"([^"]*)"|(\S*))')
SEGMENT = r"/(?P<stream>[^/]+)/[^/]*\.(?:ts|m4s|mp4|m4v|m4a|aac|cmfv|cmfa|vtt|webvtt)$"
MONTHS = {
    month: number
    for number, month in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
BILLED_STATUS = {"200", "206"}
REORDER = 60  # seconds: how far out of order log lines may be
SEGMENT_SECONDS = 6
IDLE_SEGMENTS = 3


def _fields(rest: str) -> dict[str, str]:
    """The `key=value` / `key="value"` fields after the combined format's own."""
    if not rest:
        return {}
    return {key: quoted or bare for key, quoted, bare in FIELD.findall(rest)}


def parse_time_local(text: str) -> int | None:
    """Unix seconds of nginx's $time_local, `10/Oct/2025:13:55:36 +0200`."""
    try:
        day, month, rest = text[:2], text[3:6], text[7:]
        year, hour, minute, second = int(rest[0:4]), int(rest[5:7]), int(rest[8:10]), int(rest[11:13])
        zone = rest[14:]
        offset = (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60) * (-1 if zone[0] == "-" else 1)
        return calendar.timegm((year, MONTHS[month], int(day), hour, minute, second)) - offset
    except (KeyError, ValueError, IndexError):
        return None


@dataclass(slots=True)
class _Session:
    source: str
    line: int
    subscriber: str
    stream: str
    first: float
    last: float
    bytes: int
    requests: int
    addr: str
    agent: str


class NginxAdapter(Adapter):
    name = "nginx"
    unit = "requests"

    def __init__(
        self,
        config,
        segment_seconds: float = SEGMENT_SECONDS,
        idle_gap: float | None = None,
        token_param: str = "token",
        stream_pattern: str = SEGMENT,
    ):
        super().__init__(config)
        self.idle_gap = IDLE_SEGMENTS * segment_seconds if idle_gap is None else idle_gap
        if self.idle_gap <= 0:
            raise AdapterConfigError("nginx: the idle gap must be positive")
        self.token_param = token_param + "="
        try:
            self.stream_pattern = re.compile(stream_pattern)
        except re.error as exc:
            raise AdapterConfigError(f"nginx: bad stream pattern: {exc}") from None
        if "stream" not in self.stream_pattern.groupindex:
            raise AdapterConfigError("nginx: the stream pattern needs a (?P<stream>…) group")
        self._open: OrderedDict[tuple[str, str], _Session] = OrderedDict()
        self._clock = 0.0  # the latest request time seen
        self._times: dict[str, int | None] = {}

    def _time(self, text: str) -> int | None:
        seconds = self._times.get(text, -1)
        if seconds == -1:
            if len(self._times) > 100_000:
                self._times.clear()
            seconds = self._times[text] = parse_time_local(text)
        return seconds

    def read(self, path: Path) -> Iterator[Record | Entry]:
        source = str(path)
        report, skipped = self.report, self.report.skipped
        with open_text(path) as fp:
            for number, line in enumerate(fp, start=1):
                if not line.strip():
                    continue
                report.read += 1
                if not line.endswith("\n"):
                    yield Entry(source, number, "truncated last line (no newline at the end of the file)")
                    continue
                match = LINE.match(line.rstrip("\r\n"))
                if match is None:
                    yield Entry(source, number, "unreadable line (not the combined format)")
                    continue
                status = match.group("status")
                if status not in BILLED_STATUS:
                    skipped[f"HTTP {status}"] += 1
                    continue
                request = match.group("request").split(" ")
                target = request[1] if len(request) > 1 else request[0]
                path_part, _, query = target.partition("?")
                stream = self.stream_pattern.search(unquote(path_part))
                if stream is None:
                    skipped["not a segment request"] += 1
                    continue
                fields = _fields(match.group("rest"))
                token = fields.get("token") or self._query_token(query)
                if token in (None, "", "-"):
                    user = match.group("user")
                    token = None if user == "-" else user
                if not token:
                    yield Entry(source, number, "missing token")
                    continue
                when = self._msec(fields.get("msec"))
                if when is None:
                    when = self._time(match.group("time"))
                    if when is None:
                        yield Entry(source, number, "bad time")
                        continue
                size = fields.get("bytes") or match.group("bytes")
                size = int(size) if size.isdigit() else 0
                yield from self._request(source, number, token, stream.group("stream"), when, size, match)

    def _query_token(self, query: str) -> str | None:
        for pair in query.split("&"):
            if pair.startswith(self.token_param):
                return unquote(pair[len(self.token_param) :])
        return None

    @staticmethod
    def _msec(text: str | None) -> float | None:
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            return None
        return value if 0 < value < 10**11 else None

    def _request(self, source, number, token, stream, when, size, match) -> Iterator[Record | Entry]:
        key = (token, stream)
        session = self._open.get(key)
        if session is not None and when - session.last > self.idle_gap:
            del self._open[key]
            yield self._close(session)
            session = None
        if session is None:
            agent = match.group("agent") or ""
            session = _Session(source, number, token, stream, when, when, 0, 0, match.group("addr"), agent)
            self._open[key] = session
        else:
            session.first = min(session.first, when)
            session.last = max(session.last, when)
            self._open.move_to_end(key)
        session.bytes += size
        session.requests += 1
        if when > self._clock:
            self._clock = when
            horizon = when - self.idle_gap - REORDER
            while self._open:
                oldest = next(iter(self._open.values()))
                if oldest.last >= horizon:
                    break
                self._open.popitem(last=False)
                yield self._close(oldest)

    def _close(self, session: _Session) -> Record | Entry:
        found = self.subscribers.lookup(session.subscriber)
        if found is None:
            ref = f"{session.requests} requests"
            return Entry(session.source, session.line, UNKNOWN_SUBSCRIBER, ref=ref, covers=session.requests)
        customer = found[1]
        stream = self.streams.get(session.stream) if self.streams else None
        content = stream.content_id if stream else session.stream
        start = int(session.first)
        end = max(int(session.last), start + 1)
        digest = hashlib.sha256(f"{self.namespace}|{customer}|{content}|{start}".encode()).hexdigest()[:24]
        return Record(
            session_id=f"{self.namespace}-{digest}",
            customer=customer,
            device_id=self.pseudonyms.device(self.name, session.subscriber, session.addr, session.agent),
            content_id=content,
            meter=self.meters.meter("segments", content),
            start=start,
            end=end,
            bytes=session.bytes,
            covers=session.requests,
        )

    def finish(self) -> Iterator[Record | Entry]:
        while self._open:
            _, session = self._open.popitem(last=False)
            yield self._close(session)
