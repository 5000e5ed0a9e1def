"""The OpenAPI 3.0 document the service serves at /openapi.json (and that the tests fuzz with schemathesis)."""

from __future__ import annotations

from typing import Any

from .state import REASONS

_ALLOWED = ["plan", "ppv", "rental"]
_REFUSED = sorted(set(REASONS) - set(_ALLOWED))


def _q(name: str, description: str, schema: dict[str, Any] | None = None, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}

_DECISION = {
    "type": "object",
    "required": ["allowed", "reason", "stream", "customerId", "maxSessions", "authDuration", "block"],
    "properties": {
        "allowed": {"type": "boolean"},
        "reason": {"type": "string", "enum": _ALLOWED + _REFUSED},
        "stream": {"type": "string"},
        "package": {"type": "integer", "minimum": 0, "description": "the package that allowed it (0: none)"},
        "customer": {"type": "string", "nullable": True, "pattern": "^0x[0-9a-fA-F]{40}$"},
        "customerId": {"type": "integer", "minimum": 0},
        "device": {"type": "string", "nullable": True},
        "maxSessions": {"type": "integer", "minimum": 0},
        "authDuration": {"type": "integer", "minimum": 1},
        "validUntil": {"type": "integer", "minimum": 0, "description": "chain time the entitlement ends"},
        "block": {"type": "integer", "minimum": 0, "description": "the block the state is at"},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    if headers:
        out["headers"] = headers
    return out


_STREAM = _q("stream", "stream name as the streaming server knows it", {"type": "string", "minLength": 1}, True)
_TOKEN = _q("token", "device token (sl1.…); or send `Authorization: Bearer <token>`")


def openapi(version: str = "1") -> dict[str, Any]:
    flussonic_params = [
        _q("name", "stream or VOD file name", {"type": "string", "minLength": 1}, True),
        _q("proto", "protocol (hls, dash, rtmp, rtsp, mpegts, …)"),
        _q("ip", "the player's IP address (not stored)"),
        _q("request_type", "new_session or update_session"),
        _q("request_number", "counter of auth requests of this session"),
        _q("session_id", "Flussonic's session id"),
        _q("token", "the player's token (sl1 device token)"),
        _q("stream_clients", "players of this stream on the server"),
        _q("total_clients", "players on the server"),
        _q("duration", "seconds since the session started (update_session)"),
        _q("bytes", "bytes sent in this session (update_session)"),
        _q("dvr", "true for DVR / catch-up playback"),
        _q("user_agent", "the player's user agent (not stored)"),
        _q("referer", "the page that embeds the player (not stored)"),
        _q("qs", "the player's query string"),
    ]
    integer_header = {"schema": {"type": "integer", "minimum": 0}}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "StreamLedger authorization backend",
            "version": version,
            "description": (
                "May this player play this stream? Decided from the billing contract's state, followed from "
                "the chain and held in memory. docs/auth-backend.md has the token format and guarantees."
            ),
        },
        "paths": {
            "/flussonic/auth": {
                "get": {
                    "operationId": "flussonicAuth",
                    "summary": "Flussonic auth backend (on_play / auth): 200 to allow, 403 to refuse",
                    "parameters": flussonic_params,
                    "responses": {
                        "200": {
                            "description": "allowed",
                            "headers": {
                                "X-UserId": {
                                    "required": True,
                                    "description": "the on-chain customer id (or address)",
                                    "schema": {"type": "string"},
                                },
                                "X-Max-Sessions": {"required": True, **integer_header},
                                "X-AuthDuration": {"required": True, "schema": {"type": "integer", "minimum": 1}},
                            },
                        },
                        "400": _text("no stream name"),
                        "403": _text(
                            "refused; the body and X-Reason say why",
                            {"X-Reason": {"required": True, "schema": {"type": "string", "enum": _REFUSED}}},
                        ),
                        "503": _text("the service has not read the chain yet"),
                    },
                }
            },
            "/api/v1/decision": {
                "get": {
                    "operationId": "decision",
                    "summary": "The Flussonic endpoint's decision, as JSON (for Ministra/Xtream-style middleware)",
                    "parameters": [_STREAM, _TOKEN],
                    "responses": {
                        "200": _json(_DECISION, "allowed"),
                        "403": _json(_DECISION, "refused"),
                        "400": _json(_ERROR, "no stream"),
                        "503": _json(_ERROR, "the service has not read the chain yet"),
                    },
                }
            },
            "/api/v1/entitlements": {
                "get": {
                    "operationId": "entitlements",
                    "summary": "Every package and mapped stream the token's customer may play now",
                    "parameters": [_TOKEN],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["customer", "customerId", "maxSessions", "packages", "streams", "block"],
                                "properties": {
                                    "customer": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
                                    "customerId": {"type": "integer", "minimum": 0},
                                    "maxSessions": {"type": "integer", "minimum": 0},
                                    "packages": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["package", "reason", "validUntil"],
                                            "properties": {
                                                "package": {"type": "integer", "minimum": 1},
                                                "reason": {"type": "string", "enum": _ALLOWED},
                                                "validUntil": {"type": "integer", "minimum": 0},
                                            },
                                        },
                                    },
                                    "streams": {"type": "array", "items": {"type": "string"}},
                                    "block": {"type": "integer", "minimum": 0},
                                },
                            },
                            "the customer's entitlements",
                        ),
                        "403": _json(_ERROR, "no valid token"),
                        "503": _json(_ERROR, "the service has not read the chain yet"),
                    },
                }
            },
            "/api/v1/siwe/nonce": {
                "get": {
                    "operationId": "signInNonce",
                    "summary": "A one-time nonce for an EIP-4361 sign-in message",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["nonce", "domain", "chainId", "expiresIn"],
                                "properties": {
                                    "nonce": {"type": "string", "pattern": "^[0-9a-f]{42}$"},
                                    "domain": {"type": "string"},
                                    "chainId": {"type": "integer"},
                                    "expiresIn": {"type": "integer"},
                                    "maxMessageLifetime": {"type": "integer"},
                                },
                            },
                            "a nonce",
                        ),
                        "404": _json(_ERROR, "wallet sign-in is not enabled"),
                    },
                }
            },
            "/api/v1/siwe/token": {
                "post": {
                    "operationId": "signInToken",
                    "summary": "Exchange a signed EIP-4361 message (once) for a device token",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["message", "signature"],
                                    "properties": {
                                        "message": {"type": "string", "maxLength": 4096},
                                        "signature": {"type": "string", "maxLength": 200},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["token", "customer", "expiresAt"],
                                "properties": {
                                    "token": {"type": "string"},
                                    "customer": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
                                    "expiresAt": {"type": "integer"},
                                },
                            },
                            "a device token",
                        ),
                        "400": _json(_ERROR, "not a JSON object with message and signature strings (or over 64 KiB)"),
                        "403": _json(_ERROR, "refused: bad message, signature, nonce (replayed, expired) or domain"),
                        "404": _json(_ERROR, "wallet sign-in is not enabled"),
                    },
                }
            },
            "/api/v1/status": {
                "get": {
                    "operationId": "status",
                    "summary": "Where the service is on the chain",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["ready", "block", "chainTime"],
                                "properties": {
                                    "ready": {"type": "boolean"},
                                    "block": {"type": "integer"},
                                    "chainTime": {"type": "integer"},
                                },
                            },
                            "status",
                        )
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "200 once the chain has been read",
                    "responses": {"200": _text("ready"), "503": _text("not ready")},
                }
            },
        },
    }
