"""Who is playing: a token (or a wallet signature) -> a customer address, with no personal data anywhere.

**Device tokens** (operator-issued, reusable until they expire)::

    sl1.<kid>.<payload>.<mac>

- `kid`: the key id, 1-16 of `[A-Za-z0-9_-]`; the service holds every key still accepted, issues with one.
- `payload`: base64url (no padding) of address (20 bytes) | issued-at (5 bytes, big-endian unix seconds) |
  expires-at (5 bytes) | device id (UTF-8, 1-64 bytes: the operator's own opaque device or app-install id).
- `mac`: base64url of HMAC-SHA256(key[kid], "sl1." + kid + "." + payload), all 32 bytes.

A token is valid when its kid is a known key, the MAC matches (compared in constant time), and the service's
wall clock is before expires-at. It is refused when its device id or its address is in the revocation file.
Keys come from a file (`--keys`, JSON: {"current": kid, "keys": {kid: hex}}) or $STREAMLEDGER_AUTH_KEYS
(the same JSON, or "kid:hex,kid:hex" with the first one current); never from the repository.

**Wallet sign-in** (EIP-4361, "Sign-In with Ethereum"): the player asks for a nonce, the customer's wallet signs
a message carrying it (EIP-191 personal_sign), and the service exchanges a valid message once for a
short-lived device token. Nonces are self-authenticating (issue time, random bytes and an HMAC under a key made
at start-up), live `nonce_ttl` seconds and are accepted once: a replayed message is refused, and a restart
invalidates every nonce handed out before it, so a message can never be replayed across a restart either.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PREFIX = "sl1"
KID_RE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
MAX_DEVICE_BYTES = 64
MAX_TOKEN_CHARS = 512


class TokenError(Exception):
    """A token or sign-in message that is refused; `reason` is the machine-readable code."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(detail or reason)


@dataclass(frozen=True, slots=True)
class Claims:
    """What a valid token says: whose it is (20-byte address), which device, until when (unix seconds)."""

    address: bytes
    device: str
    issued_at: int
    expires_at: int
    kid: str

    @property
    def address_hex(self) -> str:
        return "0x" + self.address.hex()


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_address(address: str | bytes) -> bytes:
    if isinstance(address, bytes):
        if len(address) != 20:
            raise ValueError("an address is 20 bytes")
        return address
    text = address[2:] if address[:2] in ("0x", "0X") else address
    if len(text) != 40:
        raise ValueError(f"not an address: {address!r}")
    return bytes.fromhex(text)


# ----- keys ---------------------------------------------------------------------------------------------------


class KeyRing:
    """The operator's token keys: every key still accepted, and the one new tokens are issued with."""

    def __init__(self, keys: dict[str, bytes], current: str | None = None):
        if not keys:
            raise ValueError("no token keys")
        for kid, key in keys.items():
            if not KID_RE.match(kid):
                raise ValueError(f"key id {kid!r}: 1-16 characters of A-Z a-z 0-9 _ -")
            if len(key) < 32:
                raise ValueError(f"key {kid!r} is shorter than 32 bytes")
        self.keys = dict(keys)
        self.current = current or next(iter(keys))
        if self.current not in self.keys:
            raise ValueError(f"current key {self.current!r} is not among the keys")

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        text = text.strip()
        if text.startswith("{"):
            data = json.loads(text)
            keys = {kid: bytes.fromhex(hexkey.removeprefix("0x")) for kid, hexkey in data["keys"].items()}
            return cls(keys, data.get("current"))
        keys = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            kid, _, hexkey = part.partition(":")
            keys[kid] = bytes.fromhex(hexkey.removeprefix("0x"))
        return cls(keys)

    @classmethod
    def load(cls, path: str | Path | None = None, env: str = "STREAMLEDGER_AUTH_KEYS") -> KeyRing:
        """From `path`, else from the environment variable `env`."""
        if path:
            return cls.parse(Path(path).read_text())
        if value := os.environ.get(env):
            return cls.parse(value)
        raise RuntimeError(f"no token keys: pass --keys FILE or set ${env} (create a file: streamledger auth keygen)")

    @staticmethod
    def generate(kid: str = "k1") -> dict:
        """A new key file's content (write it with mode 0600, keep it out of the repository)."""
        return {"current": kid, "keys": {kid: secrets.token_bytes(32).hex()}}


# ----- device tokens ------------------------------------------------------------------------------------------


def issue_token(
    keyring: KeyRing, address: str | bytes, device: str, lifetime: int, now: int | None = None, kid: str | None = None
) -> str:
    """A device token for `address` on `device`, valid for `lifetime` seconds from `now` (wall clock)."""
    kid = kid or keyring.current
    device_raw = device.encode("utf-8")
    if not 1 <= len(device_raw) <= MAX_DEVICE_BYTES:
        raise ValueError(f"device id: 1-{MAX_DEVICE_BYTES} bytes of UTF-8")
    issued = int(time.time() if now is None else now)
    payload = parse_address(address) + issued.to_bytes(5, "big") + (issued + int(lifetime)).to_bytes(5, "big")
    body = f"{PREFIX}.{kid}.{_b64e(payload + device_raw)}"
    mac = hmac.new(keyring.keys[kid], body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64e(mac)}"


class TokenVerifier:
    """Checks device tokens. Valid tokens are remembered (bounded), so a player's repeated requests cost a
    dictionary look-up and an expiry comparison; a forged token costs one HMAC."""

    def __init__(self, keyring: KeyRing, cache_size: int = 200_000):
        self.keyring = keyring
        self.cache_size = cache_size
        self._cache: dict[str, Claims] = {}
        self.revoked_devices: frozenset[str] = frozenset()
        self.revoked_addresses: frozenset[bytes] = frozenset()

    def set_revoked(self, entries: list[str]) -> None:
        """Revocation list: device ids, and addresses (every token of that address)."""
        addresses, devices = set(), set()
        for entry in entries:
            if re.fullmatch(r"0x[0-9a-fA-F]{40}", entry):
                addresses.add(bytes.fromhex(entry[2:]))
            else:
                devices.add(entry)
        self.revoked_devices, self.revoked_addresses = frozenset(devices), frozenset(addresses)

    def verify(self, token: str, now: float) -> Claims:
        """The token's claims, or TokenError(missing_token | invalid_token | expired_token | revoked_token)."""
        claims = self._cache.get(token)
        if claims is None:
            claims = self._check(token)
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[token] = claims
        if now >= claims.expires_at:
            raise TokenError("expired_token")
        if claims.device in self.revoked_devices or claims.address in self.revoked_addresses:
            raise TokenError("revoked_token")
        return claims

    def _check(self, token: str) -> Claims:
        if not token:
            raise TokenError("missing_token")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("invalid_token", "token too long")
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            raise TokenError("invalid_token", "not a sl1 token")
        _, kid, payload_text, mac_text = parts
        key = self.keyring.keys.get(kid)
        if key is None:
            raise TokenError("invalid_token", "unknown key id")
        try:
            mac = _b64d(mac_text)
            payload = _b64d(payload_text)
        except (binascii.Error, ValueError):
            raise TokenError("invalid_token", "bad encoding") from None
        body = f"{PREFIX}.{kid}.{payload_text}"
        expected = hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise TokenError("invalid_token", "bad signature")
        if len(payload) < 31 or len(payload) > 30 + MAX_DEVICE_BYTES:
            raise TokenError("invalid_token", "bad payload")
        try:
            device = payload[30:].decode("utf-8")
        except UnicodeDecodeError:
            raise TokenError("invalid_token", "bad device id") from None
        return Claims(
            address=payload[:20],
            device=device,
            issued_at=int.from_bytes(payload[20:25], "big"),
            expires_at=int.from_bytes(payload[25:30], "big"),
            kid=kid,
        )


# ----- wallet sign-in (EIP-4361) -------------------------------------------------------------------------------

_HEADER = re.compile(r"^(?P<domain>[^\s/]+) wants you to sign in with your Ethereum account:$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NONCE = re.compile(r"^[0-9a-f]{42}$")
_FIELDS = ("URI", "Version", "Chain ID", "Nonce", "Issued At", "Expiration Time", "Not Before", "Request ID")


def siwe_message(
    domain: str,
    address: str,
    uri: str,
    chain_id: int,
    nonce: str,
    issued_at: int,
    expiration: int,
    statement: str | None = "Play my StreamLedger subscription on this device.",
    request_id: str | None = None,
) -> str:
    """An EIP-4361 message (what a wallet is asked to sign); `address` EIP-55 checksummed."""

    def stamp(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    lines = [f"{domain} wants you to sign in with your Ethereum account:", address, ""]
    if statement:
        lines += [statement, ""]
    lines += [
        f"URI: {uri}",
        "Version: 1",
        f"Chain ID: {chain_id}",
        f"Nonce: {nonce}",
        f"Issued At: {stamp(issued_at)}",
        f"Expiration Time: {stamp(expiration)}",
    ]
    if request_id:
        lines.append(f"Request ID: {request_id}")
    return "\n".join(lines)


def parse_siwe(message: str) -> dict[str, str]:
    """The fields of an EIP-4361 message ("domain", "address", "statement" and the named fields)."""
    lines = message.split("\n")
    if len(lines) < 8:
        raise TokenError("invalid_message", "too short")
    header = _HEADER.match(lines[0])
    if not header or not _ADDRESS.match(lines[1]) or lines[2] != "":
        raise TokenError("invalid_message", "not an EIP-4361 message")
    out = {"domain": header["domain"], "address": lines[1]}
    i = 3
    if not lines[i].startswith("URI: "):  # optional statement, then a blank line
        if i + 1 >= len(lines) or lines[i + 1] != "" or "\n" in lines[i]:
            raise TokenError("invalid_message", "statement")
        out["statement"] = lines[i]
        i += 2
    expected = list(_FIELDS)
    while i < len(lines):
        line = lines[i]
        if line == "Resources:":
            rest = lines[i + 1 :]
            if not all(r.startswith("- ") for r in rest):
                raise TokenError("invalid_message", "resources")
            break
        key, sep, value = line.partition(": ")
        if not sep or key not in expected or not value:
            raise TokenError("invalid_message", f"unexpected line {line[:40]!r}")
        expected = expected[expected.index(key) + 1 :]  # fields in the EIP's order, each once
        out[key] = value
        i += 1
    for required in ("URI", "Version", "Chain ID", "Nonce", "Issued At"):
        if required not in out:
            raise TokenError("invalid_message", f"missing {required}")
    return out


def _rfc3339(value: str) -> float:
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise TokenError("invalid_message", f"bad time {value!r}") from None
    if stamp.tzinfo is None:
        raise TokenError("invalid_message", "time without a zone")
    return stamp.timestamp()


class WalletSignIn:
    """EIP-4361 sign-in: nonces, message checks, EIP-191 signature recovery, one use per nonce."""

    def __init__(
        self,
        domain: str,
        chain_id: int,
        nonce_ttl: int = 600,
        max_lifetime: int = 900,
        skew: int = 60,
        uri_prefix: str | None = None,
    ):
        self.domain = domain
        self.chain_id = int(chain_id)
        self.nonce_ttl = nonce_ttl
        self.max_lifetime = max_lifetime
        self.skew = skew
        self.uri_prefix = uri_prefix
        self._key = secrets.token_bytes(32)  # per process: a restart voids every nonce handed out before it
        self._used: dict[str, float] = {}

    def new_nonce(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        raw = int(now).to_bytes(5, "big") + secrets.token_bytes(8)
        return (raw + hmac.new(self._key, raw, hashlib.sha256).digest()[:8]).hex()

    def _check_nonce(self, nonce: str, now: float) -> None:
        if not _NONCE.match(nonce):
            raise TokenError("invalid_nonce")
        raw = bytes.fromhex(nonce)
        if not hmac.compare_digest(raw[13:], hmac.new(self._key, raw[:13], hashlib.sha256).digest()[:8]):
            raise TokenError("invalid_nonce", "not issued by this service (or before its restart)")
        issued = int.from_bytes(raw[:5], "big")
        if now > issued + self.nonce_ttl:
            raise TokenError("expired_nonce")
        if nonce in self._used:
            raise TokenError("replayed_nonce")

    def verify(self, message: str, signature: str, now: float | None = None) -> tuple[bytes, str | None, float]:
        """(address, request id or None, expiration) of a valid message; consumes its nonce."""
        from eth_account import Account
        from eth_account.messages import encode_defunct
        from eth_utils import is_checksum_address

        now = time.time() if now is None else now
        fields = parse_siwe(message)
        if fields["domain"] != self.domain:
            raise TokenError("wrong_domain")
        if fields["Version"] != "1":
            raise TokenError("invalid_message", "version")
        if fields["Chain ID"] != str(self.chain_id):
            raise TokenError("wrong_chain")
        if self.uri_prefix and not fields["URI"].startswith(self.uri_prefix):
            raise TokenError("wrong_uri")
        if not is_checksum_address(fields["address"]):
            raise TokenError("invalid_message", "address not EIP-55 checksummed")
        issued = _rfc3339(fields["Issued At"])
        if "Expiration Time" not in fields:
            raise TokenError("invalid_message", "an expiration time is required")
        expires = _rfc3339(fields["Expiration Time"])
        if issued > now + self.skew:
            raise TokenError("invalid_message", "issued in the future")
        if now >= expires:
            raise TokenError("expired_message")
        if expires - issued > self.max_lifetime:
            raise TokenError("invalid_message", f"lives longer than {self.max_lifetime} s")
        if "Not Before" in fields and now + self.skew < _rfc3339(fields["Not Before"]):
            raise TokenError("invalid_message", "not yet valid")
        self._check_nonce(fields["Nonce"], now)
        try:
            sig = bytes.fromhex(signature.removeprefix("0x"))
            signer = Account.recover_message(encode_defunct(text=message), signature=sig)
        except Exception:  # malformed, wrong length, s out of range: all simply "bad signature"
            raise TokenError("bad_signature") from None
        if signer.lower() != fields["address"].lower():
            raise TokenError("bad_signature")
        self._used[fields["Nonce"]] = now + self.nonce_ttl
        if len(self._used) > 10_000:
            self._used = {n: t for n, t in self._used.items() if t > now}
        return bytes.fromhex(fields["address"][2:]), fields.get("Request ID"), expires
