"""The HTTP service: a raw asyncio Protocol with httptools' parser (uvloop's event loop when installed).

Every handler is synchronous and reads memory only: a request is parsed, decided and answered in one
`data_received` call, HTTP/1.1 keep-alive and pipelining included. Routes:

    GET  /flussonic/auth        Flussonic's auth backend protocol: 200 + X-UserId/X-Max-Sessions/X-AuthDuration, or 403
    GET  /api/v1/decision       the same decision as JSON
    GET  /api/v1/entitlements   what the token's customer may play now
    GET  /api/v1/siwe/nonce     a one-time nonce for wallet sign-in (EIP-4361)
    POST /api/v1/siwe/token     a signed message -> a device token (once per nonce)
    GET  /api/v1/status         chain position, follower health
    GET  /healthz               200 once the chain has been read
    GET  /openapi.json          the OpenAPI document
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

import httptools
import orjson

from .openapi import openapi
from .service import AuthService
from .state import Decision
from .tokens import TokenError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
MAX_URL = 16 * 1024
MAX_HEADERS = 100


def parse_query(raw: bytes) -> dict[str, str]:
    """Query parameters, first occurrence wins; values decoded as UTF-8 (invalid bytes replaced)."""
    out: dict[str, str] = {}
    for part in raw.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        if b"%" in key or b"+" in key:
            key = unquote_to_bytes(key.replace(b"+", b" "))
        if b"%" in value or b"+" in value:
            value = unquote_to_bytes(value.replace(b"+", b" "))
        name = key.decode("utf-8", "replace")
        if name not in out:
            out[name] = value.decode("utf-8", "replace")
    return out


_REASON_PHRASES = {
    200: b"OK",
    400: b"Bad Request",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def response(status: int, body: bytes = b"", content_type: bytes = b"", headers: bytes = b"") -> bytes:
    head = b"HTTP/1.1 %d %s\r\n" % (status, _REASON_PHRASES.get(status, b"Error"))
    if content_type:
        head += b"Content-Type: " + content_type + b"\r\n"
    return head + headers + b"Content-Length: %d\r\n\r\n" % len(body) + body


def json_response(status: int, data, headers: bytes = b"") -> bytes:
    return response(status, orjson.dumps(data), b"application/json", headers)


def error_response(status: int, error: str, detail: str = "", headers: bytes = b"") -> bytes:
    data = {"error": error, "detail": detail} if detail else {"error": error}
    return json_response(status, data, headers)


_ALLOW = b"HTTP/1.1 200 OK\r\nX-UserId: %s\r\nX-Max-Sessions: %d\r\nX-AuthDuration: %d\r\nContent-Length: 0\r\n\r\n"
_DENY = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nX-Reason: %s\r\nX-AuthDuration: %d\r\n"
    b"Content-Length: %d\r\n\r\n%s\n"
)


class App:
    """Routing and rendering on top of an AuthService."""

    def __init__(self, service: AuthService):
        self.service = service
        self._openapi = json_response(200, openapi())
        self.routes: dict[bytes, dict[bytes, Callable[[dict[str, str], dict[bytes, bytes], bytes], bytes]]] = {
            b"/flussonic/auth": {b"GET": self.flussonic},
            b"/api/v1/decision": {b"GET": self.decision},
            b"/api/v1/entitlements": {b"GET": self.entitlements},
            b"/api/v1/siwe/nonce": {b"GET": self.nonce},
            b"/api/v1/siwe/token": {b"POST": self.siwe_token},
            b"/api/v1/status": {b"GET": self.status},
            b"/healthz": {b"GET": self.health},
            b"/openapi.json": {b"GET": lambda q, h, b: self._openapi},
        }

    def handle(self, method: bytes, url: bytes, headers: dict[bytes, bytes], body: bytes) -> bytes:
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            return error_response(400, "bad_url")
        methods = self.routes.get(parsed.path)
        if methods is None:
            return error_response(404, "not_found")
        handler = methods.get(method)
        if handler is None:
            if method == b"HEAD" and b"GET" in methods:
                full = methods[b"GET"](parse_query(parsed.query or b""), headers, body)
                return full[: full.index(b"\r\n\r\n") + 4]
            allow = b", ".join(methods)
            return error_response(405, "method_not_allowed", headers=b"Allow: " + allow + b"\r\n")
        try:
            return handler(parse_query(parsed.query or b""), headers, body)
        except Exception:  # never a 5xx the caller could not have expected; log it for the operator
            log.exception("handler failed for %r", url[:200])
            return error_response(400, "bad_request")

    # ----- Flussonic -----

    def flussonic(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        name = query.get("name")
        if not name:
            return response(400, b"no stream name\n", b"text/plain")
        service = self.service
        if not service.ready:
            return response(503, b"not ready\n", b"text/plain", b"Retry-After: 1\r\n")
        decision, claims = service.decide(query.get("token", ""), name)
        if decision.allowed:
            return _ALLOW % (
                service.user_id(decision, claims).encode(),
                decision.max_sessions,
                service.auth_duration(decision),
            )
        reason = decision.reason.encode()
        return _DENY % (
            reason,
            service.settings.deny_duration,
            len(reason) + 1,
            reason,
        )

    # ----- JSON API -----

    @staticmethod
    def _token(query: dict[str, str], headers: dict[bytes, bytes]) -> str:
        token = query.get("token")
        if token is None:
            auth = headers.get(b"authorization", b"")
            if auth[:7].lower() == b"bearer ":
                token = auth[7:].strip().decode("utf-8", "replace")
        return token or ""

    def _decision_json(self, stream: str, decision: Decision, claims) -> dict:
        service = self.service
        return {
            "allowed": decision.allowed,
            "reason": decision.reason,
            "stream": stream,
            "package": decision.package,
            "customer": service.address_text(claims.address) if claims else None,
            "customerId": decision.customer_id,
            "device": claims.device if claims else None,
            "maxSessions": decision.max_sessions,
            "authDuration": service.auth_duration(decision),
            "validUntil": int(decision.until),
            "block": service.clock[2],
        }

    def decision(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        stream = query.get("stream")
        if not stream:
            return error_response(400, "missing_stream")
        if not self.service.ready:
            return error_response(503, "not_ready", headers=b"Retry-After: 1\r\n")
        decision, claims = self.service.decide(self._token(query, headers), stream)
        return json_response(200 if decision.allowed else 403, self._decision_json(stream, decision, claims))

    def entitlements(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        service = self.service
        if not service.ready:
            return error_response(503, "not_ready", headers=b"Retry-After: 1\r\n")
        import time

        try:
            claims = service.tokens.verify(self._token(query, headers), time.time())
        except TokenError as exc:
            return error_response(403, exc.reason)
        now = service.chain_now()
        state = service.state
        packages = state.entitled_packages(claims.address, now)
        account = state.accounts.get(claims.address)
        plan = state.plans.get(account.plan_id) if account and account.plan_id else None
        live = plan is not None and now < account.ends
        streams = [name for name, pkgs in service.streams.streams.items() if any(p in packages for p in pkgs)]
        return json_response(
            200,
            {
                "customer": service.address_text(claims.address),
                "customerId": account.customer_id if account else 0,
                "maxSessions": plan.max_streams if live else (service.settings.item_max_sessions if packages else 0),
                "packages": [
                    {"package": p, "reason": r, "validUntil": int(u)} for p, (r, u) in sorted(packages.items())
                ],
                "streams": streams,
                "block": service.clock[2],
            },
        )

    def nonce(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        sign_in = self.service.sign_in
        if sign_in is None:
            return error_response(404, "sign_in_disabled")
        return json_response(
            200,
            {
                "nonce": sign_in.new_nonce(),
                "domain": sign_in.domain,
                "chainId": sign_in.chain_id,
                "expiresIn": sign_in.nonce_ttl,
                "maxMessageLifetime": sign_in.max_lifetime,
            },
        )

    def siwe_token(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        if self.service.sign_in is None:
            return error_response(404, "sign_in_disabled")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "bad_json")
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("message"), str)
            or not isinstance(data.get("signature"), str)
            or len(data["message"]) > 4096
            or len(data["signature"]) > 200
        ):
            return error_response(400, "bad_request", "a JSON object with `message` and `signature` strings")
        try:
            token, address, expires = self.service.exchange(data["message"], data["signature"])
        except TokenError as exc:
            return error_response(403, exc.reason, str(exc) if str(exc) != exc.reason else "")
        customer = self.service.address_text(address)
        return json_response(200, {"token": token, "customer": customer, "expiresAt": expires})

    def status(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        return json_response(200, self.service.status())

    def health(self, query: dict[str, str], headers: dict[bytes, bytes], body: bytes) -> bytes:
        if self.service.ready:
            return response(200, b"ok\n", b"text/plain")
        return response(503, b"not ready\n", b"text/plain")


class HttpProtocol(asyncio.Protocol):
    """One connection: httptools parses, App answers, in order (pipelined requests included)."""

    __slots__ = ("app", "body", "body_size", "closing", "header_count", "headers", "parser", "transport", "url")

    def __init__(self, app: App):
        self.app = app
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.header_count = 0
        self.body: list[bytes] = []
        self.body_size = 0
        self.closing = False

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "upgrade_not_supported")
        except httptools.HttpParserError:
            self._fail(400, "bad_request")

    def _fail(self, status: int, error: str) -> None:
        if self.transport is not None and not self.closing:
            self.closing = True
            self.transport.write(error_response(status, error, headers=b"Connection: close\r\n"))
            self.transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.header_count = 0
        self.body = []
        self.body_size = 0

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_URL:
            self._fail(400, "url_too_long")
            raise httptools.HttpParserError("url too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_count += 1
        if self.header_count > MAX_HEADERS:
            self._fail(431, "too_many_headers")
            raise httptools.HttpParserError("too many headers")
        key = name.lower()
        if key in (b"authorization", b"content-type"):
            self.headers[key] = value

    def on_body(self, body: bytes) -> None:
        self.body_size += len(body)
        if self.body_size <= MAX_BODY:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.transport is None or self.closing:
            return
        parser = self.parser
        if self.body_size > MAX_BODY:
            answer = error_response(400, "body_too_large")
        else:
            answer = self.app.handle(parser.get_method(), self.url, self.headers, b"".join(self.body))
        if parser.should_keep_alive():
            self.transport.write(answer)
        else:
            head, sep, rest = answer.partition(b"\r\n")
            self.transport.write(head + sep + b"Connection: close\r\n" + rest)
            self.closing = True
            self.transport.close()


def install_uvloop() -> bool:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned in requirements.txt
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True


async def serve(app: App, host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    """Serves until SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(app), host, port, backlog=1024, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    log.warning("auth backend listening on http://%s:%d", host, bound)
    if ready:
        ready(bound)
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    try:
        await stop
    finally:
        server.close()
        await server.wait_closed()
