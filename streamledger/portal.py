"""The customer portal's local web server (`streamledger portal serve`).

The portal is a static page (portal/, bundled with ethers into build/portal/ by `make portal`) that talks to
the billing contract only through the customer's own EIP-1193 wallet: this server never sees a key and
never calls a node. It serves

  /                         the page, its script and stylesheet (build/portal/)
  /config.json              the deployment record and the billing contract's ABI (functions, events, errors)
  /statements?customer=0x…  the statement files published for one customer: [{period, start, end, file}]
  /statements/<file>.json   one statement file (`streamledger statements` output), proofs included

Statements are optional (`--statements DIR`); without them the page still shows everything read from the
chain. Nothing is listed for anyone but the address asked about, and only files named
`<period>-<address>.json` are ever read.
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import artifacts
from .artifacts import ROOT

BUNDLE = ROOT / "build" / "portal"
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
STATEMENT_NAME = re.compile(r"^(\d{1,10})-(0x[0-9a-f]{40})\.json$")
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
# The page loads nothing from anywhere else; the wallet is an extension, not a network peer of the page.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PortalError(Exception):
    """The portal cannot be served as asked (missing bundle, unreadable deployment)."""


def portal_config(deployment_path: Path) -> dict[str, Any]:
    """What the page needs to find the system: the deployment record and the billing ABI."""
    try:
        deployment = json.loads(Path(deployment_path).read_text())
    except (OSError, ValueError) as exc:
        raise PortalError(f"cannot read the deployment record {deployment_path}: {exc}") from exc
    for key in ("chain_id", "billing", "token"):
        if key not in deployment:
            raise PortalError(f"{deployment_path} has no {key!r}: is it a deployments/<network>.json file?")
    return {"deployment": deployment, "abi": artifacts.billing_abi()}


def list_statements(folder: Path | None, customer: str) -> list[dict[str, Any]]:
    """The statement files published for `customer`, newest period first."""
    if folder is None or not folder.is_dir():
        return []
    wanted = customer.lower()
    found = []
    for path in folder.glob(f"*-{wanted}.json"):
        match = STATEMENT_NAME.match(path.name)
        if not match or match.group(2) != wanted:
            continue
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found.append(
            {"period": data.get("period"), "start": data.get("start"), "end": data.get("end"), "file": path.name}
        )
    return sorted(found, key=lambda s: -(s["period"] or 0))


class PortalServer:
    """A threaded HTTP server for the portal; `start()` runs it in the background, `serve_forever()` in front."""

    def __init__(
        self,
        deployment_path: Path,
        statements: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 8600,
        bundle: Path = BUNDLE,
    ):
        if not (bundle / "index.html").exists() or not (bundle / "app.js").exists():
            raise PortalError(f"the portal is not built ({bundle} has no index.html/app.js): run `make portal`")
        self.bundle = bundle
        self.statements = Path(statements) if statements else None
        self.deployment_path = Path(deployment_path)
        portal_config(self.deployment_path)  # fail now, not on the first request
        self._httpd = ThreadingHTTPServer((host, port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> PortalServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="portal", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:  # pragma: no cover - the CLI's foreground loop
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "StreamLedgerPortal"

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the CLI prints its own line
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path in STATIC:
                    name, kind = STATIC[url.path]
                    return self._send(HTTPStatus.OK, (server.bundle / name).read_bytes(), kind)
                if url.path == "/config.json":
                    try:
                        body = json.dumps(portal_config(server.deployment_path)).encode()
                    except PortalError as exc:
                        return self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
                    return self._send(HTTPStatus.OK, body, "application/json")
                if url.path == "/statements":
                    customer = parse_qs(url.query).get("customer", [""])[0]
                    if not ADDRESS.match(customer):
                        return self._error(HTTPStatus.BAD_REQUEST, "customer must be a 0x-prefixed 20-byte address")
                    body = json.dumps(list_statements(server.statements, customer)).encode()
                    return self._send(HTTPStatus.OK, body, "application/json")
                if url.path.startswith("/statements/"):
                    name = url.path.removeprefix("/statements/")
                    if server.statements is None or not STATEMENT_NAME.match(name):
                        return self._error(HTTPStatus.NOT_FOUND, "no such statement")
                    path = server.statements / name
                    if not path.is_file():
                        return self._error(HTTPStatus.NOT_FOUND, "no such statement")
                    return self._send(HTTPStatus.OK, path.read_bytes(), "application/json")
                return self._error(HTTPStatus.NOT_FOUND, "not found")

            def _error(self, status: HTTPStatus, message: str) -> None:
                self._send(status, json.dumps({"error": message}).encode(), "application/json")

            def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in HEADERS.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler
