"""An HTTP event sink for Flussonic: receives the events it POSTs and appends them to hourly JSON-lines files
that the flussonic adapter reads (`streamledger adapt receive`).

Flussonic's event sinks POST a JSON array of events (one object is accepted too, and JSON lines). A body is
taken whole or not at all: when it is not JSON, holds something other than objects, or is larger than the
limit, the answer is 400 or 413 and nothing of it is written, so the sender's retry cannot half-duplicate it.
A body that was written is answered 200 only after the lines are flushed to the file. Each event is one line,
compact JSON, in `events-YYYYMMDDHH.jsonl` by the UTC hour it arrived in; a file is never rewritten, so the
adapter can read every hour that has passed while the current one grows.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024


class BadBody(ValueError):
    pass


def parse_events(body: bytes) -> list[dict]:
    """The events of a POST body: a JSON array of objects, one object, or JSON lines of objects."""
    text = body.strip()
    if not text:
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise BadBody(f"not JSON: {exc}") from None
    events = value if isinstance(value, list) else [value]
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadBody(f"event {i} is a {type(event).__name__}, not an object")
    return events


class EventFiles:
    """Appends events to hourly files in `folder`, one writer at a time."""

    def __init__(self, folder: Path, clock=time.time):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.lock = threading.Lock()
        self.received = 0

    def path_for(self, now: float) -> Path:
        return self.folder / time.strftime("events-%Y%m%d%H.jsonl", time.gmtime(now))

    def append(self, events: list[dict]) -> Path:
        data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        with self.lock:
            path = self.path_for(self.clock())
            with open(path, "ab") as fp:
                fp.write(data)
                fp.flush()
                os.fsync(fp.fileno())
            self.received += len(events)
        return path


def make_server(folder: Path, host: str = "127.0.0.1", port: int = 8089, max_body: int = MAX_BODY):
    files = EventFiles(folder)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > max_body:
                self._answer(413, f"body over {max_body} bytes")
                return
            try:
                events = parse_events(self.rfile.read(length))
            except BadBody as exc:
                self._answer(400, str(exc))
                return
            if events:
                files.append(events)
            self._answer(200, f"{len(events)} events")

        def _answer(self, status: int, message: str) -> None:
            body = message.encode() + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            log.debug("%s " + format, self.client_address[0], *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.files = files
    return server
