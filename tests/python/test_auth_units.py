"""The authorization backend's pieces without a chain: tokens, wallet sign-in messages, the stream map, the
decision rules (IptvBilling.isEntitled's), and the HTTP layer fed raw bytes."""

from __future__ import annotations

import time

import orjson
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from streamledger.auth.config import StreamMap, StreamMapError
from streamledger.auth.server import App, HttpProtocol, parse_query
from streamledger.auth.service import AuthService
from streamledger.auth.state import PPV, VOD, Plan, PpvEvent, State, VodTitle
from streamledger.auth.state import Account as Acct
from streamledger.auth.tokens import (
    KeyRing,
    TokenError,
    TokenVerifier,
    WalletSignIn,
    issue_token,
    parse_siwe,
    siwe_message,
)

ALICE = bytes.fromhex("90f79bf6eb2c4f870365e785982e1f101e93b906")
BOB = bytes.fromhex("15d34aaf54267db7d7c367839aaf71a00a2c6a65")
KEYS = KeyRing({"k1": b"\x11" * 32, "k0": b"\x22" * 32}, "k1")


# ----- device tokens -----


def test_a_token_round_trips_and_is_bound_to_its_address_device_and_expiry():
    token = issue_token(KEYS, ALICE, "tv-1", 3600, now=1_000)
    claims = TokenVerifier(KEYS).verify(token, 2_000)
    assert (claims.address, claims.device, claims.issued_at, claims.expires_at, claims.kid) == (
        ALICE,
        "tv-1",
        1_000,
        4_600,
        "k1",
    )
    assert token.startswith("sl1.k1.") and len(token) < 120


def test_tokens_of_an_older_key_still_verify_while_it_is_on_the_ring():
    old = issue_token(KEYS, ALICE, "tv", 3600, now=1_000, kid="k0")
    assert TokenVerifier(KEYS).verify(old, 1_001).kid == "k0"
    with pytest.raises(TokenError) as exc:
        TokenVerifier(KeyRing({"k1": b"\x11" * 32})).verify(old, 1_001)
    assert exc.value.reason == "invalid_token"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # MAC
        lambda t: t.replace("sl1.", "sl2.", 1),
        lambda t: t + ".x",
        lambda t: t.split(".")[0] + ".k1." + "!!!" + "." + t.split(".")[3],
        lambda t: "x" * 600,
        lambda t: "sl1.k1..",
    ],
)
def test_any_change_to_a_token_makes_it_invalid(mangle):
    token = issue_token(KEYS, ALICE, "tv", 3600, now=1_000)
    with pytest.raises(TokenError) as exc:
        TokenVerifier(KEYS).verify(mangle(token), 1_001)
    assert exc.value.reason == "invalid_token"


def test_a_payload_swapped_under_another_tokens_mac_is_invalid():
    a = issue_token(KEYS, ALICE, "tv", 3600, now=1_000).split(".")
    b = issue_token(KEYS, BOB, "tv", 3600, now=1_000).split(".")
    with pytest.raises(TokenError):
        TokenVerifier(KEYS).verify(".".join([a[0], a[1], b[2], a[3]]), 1_001)


def test_expiry_and_revocation_apply_to_cached_tokens_too():
    verifier = TokenVerifier(KEYS)
    token = issue_token(KEYS, ALICE, "tv", 100, now=1_000)
    verifier.verify(token, 1_050)  # cached now
    with pytest.raises(TokenError) as exc:
        verifier.verify(token, 1_100)
    assert exc.value.reason == "expired_token"
    fresh = issue_token(KEYS, ALICE, "stb-9", 100, now=1_000)
    verifier.set_revoked(["stb-9"])
    with pytest.raises(TokenError) as exc:
        verifier.verify(fresh, 1_001)
    assert exc.value.reason == "revoked_token"
    verifier.set_revoked(["0x" + ALICE.hex()])
    with pytest.raises(TokenError):
        verifier.verify(token, 1_001)


def test_key_rings_load_from_json_or_the_compact_environment_form(monkeypatch):
    ring = KeyRing.parse('{"current": "b", "keys": {"a": "' + "11" * 32 + '", "b": "0x' + "22" * 32 + '"}}')
    assert ring.current == "b" and ring.keys["b"] == b"\x22" * 32
    monkeypatch.setenv("STREAMLEDGER_AUTH_KEYS", "x:" + "33" * 32 + ",y:" + "44" * 32)
    assert KeyRing.load().current == "x"
    with pytest.raises(ValueError):
        KeyRing({"k": b"short"})
    with pytest.raises(ValueError):
        KeyRing({"bad kid!": b"\x00" * 32})


# ----- wallet sign-in -----


def _signed(sign_in: WalletSignIn, account, **overrides):
    now = int(time.time())
    fields = {
        "domain": "tv.example",
        "address": account.address,
        "uri": "https://tv.example/login",
        "chain_id": 31337,
        "nonce": sign_in.new_nonce(),
        "issued_at": now,
        "expiration": now + 300,
    }
    fields.update(overrides)
    message = siwe_message(**fields)
    return message, Account.sign_message(encode_defunct(text=message), account.key).signature.hex()


def test_a_sign_in_message_is_accepted_once():
    sign_in = WalletSignIn("tv.example", 31337)
    wallet = Account.create()
    message, signature = _signed(sign_in, wallet)
    address, request_id, _ = sign_in.verify(message, signature)
    assert address == bytes.fromhex(wallet.address[2:]) and request_id is None
    with pytest.raises(TokenError) as exc:
        sign_in.verify(message, signature)
    assert exc.value.reason == "replayed_nonce"


def test_nonces_from_before_a_restart_are_refused():
    before, after = WalletSignIn("tv.example", 31337), WalletSignIn("tv.example", 31337)
    message, signature = _signed(before, Account.create())
    with pytest.raises(TokenError) as exc:
        after.verify(message, signature)
    assert exc.value.reason == "invalid_nonce"


def test_an_expired_nonce_is_refused():
    sign_in = WalletSignIn("tv.example", 31337, nonce_ttl=60)
    message, signature = _signed(sign_in, Account.create(), nonce=sign_in.new_nonce(now=time.time() - 120))
    with pytest.raises(TokenError) as exc:
        sign_in.verify(message, signature)
    assert exc.value.reason == "expired_nonce"


def test_the_eip_4361_fields_are_parsed_in_order():
    text = siwe_message("tv.example", "0x" + "ab" * 20, "https://x", 1, "f" * 42, 0, 60, request_id="tv")
    fields = parse_siwe(text)
    assert fields["domain"] == "tv.example" and fields["Request ID"] == "tv" and fields["Chain ID"] == "1"
    swapped = text.replace("Version: 1\nChain ID: 1", "Chain ID: 1\nVersion: 1")
    with pytest.raises(TokenError):
        parse_siwe(swapped)
    with pytest.raises(TokenError):
        parse_siwe("hello")


# ----- stream map -----


def test_the_stream_map_takes_exact_names_then_the_longest_prefix():
    streams = StreamMap.from_dict({"streams": {"a": 1, "b": [2, 3]}, "prefixes": {"vod/": 9, "vod/x/": 7}})
    assert streams.packages_of("a") == (1,)
    assert streams.packages_of("b") == (2, 3)
    assert streams.packages_of("vod/x/index.m3u8") == (7,)
    assert streams.packages_of("vod/y.mp4") == (9,)
    assert streams.packages_of("c") is None


BAD_MAPS = [{"streams": {"a": 0}}, {"streams": {"a": "1"}}, {"streams": {"a": []}}, {"x": {}}, {"prefixes": {"": 1}}]


@pytest.mark.parametrize("data", BAD_MAPS)
def test_a_malformed_stream_map_is_refused(data):
    with pytest.raises(StreamMapError):
        StreamMap.from_dict(data)


# ----- the decision rules -----


@pytest.fixture
def state():
    s = State()
    s.plans = {
        1: Plan(2, frozenset({1}), False),
        2: Plan(4, frozenset({1, 2}), False),
        3: Plan(2, frozenset({3}), True),
    }
    s.accounts[ALICE] = Acct(1, 1, 1_000, 1_300, (3,), 2)  # paid through 1,000, grace to 1,300, sports add-on
    s.accounts[BOB] = Acct(2, 0, 0, 0, (), 0)  # registered, no plan
    s.ppv_events[1] = PpvEvent(101, 2_000, 3_000)
    s.vod_titles[1] = VodTitle(201, 7_200)
    s.package_refs = {101: (PPV, 1), 201: (VOD, 1)}
    s.purchases[(BOB, 1)] = 1
    s.rentals[(BOB, 1)] = (1, 2_500)
    s.items_of[BOB] = frozenset({(PPV, 1), (VOD, 1)})
    return s


def test_plan_packages_and_add_ons_entitle_until_grace_ends(state):
    assert state.decide(ALICE, (1,), 500) == (True, "plan", 1, 2, 1_300, 1)
    assert state.decide(ALICE, (3,), 1_299).allowed  # the add-on, within grace
    assert state.decide(ALICE, (2,), 500).reason == "not_entitled"
    assert state.decide(ALICE, (1,), 1_300).reason == "lapsed"
    assert state.decide(ALICE, (2, 1), 500).package == 1  # any of the stream's packages


def test_ppv_and_rentals_follow_their_windows(state):
    assert state.decide(BOB, (101,), 1_999).reason == "ppv_not_started"
    assert state.decide(BOB, (101,), 2_000)[:2] == (True, "ppv")
    assert state.decide(BOB, (101,), 2_000).max_sessions == 1  # no plan: the item figure
    assert state.decide(BOB, (101,), 3_000).reason == "ppv_ended"
    assert state.decide(ALICE, (101,), 2_500).reason == "ppv_not_bought"
    assert state.decide(BOB, (201,), 2_499)[:2] == (True, "rental")
    assert state.decide(BOB, (201,), 2_500).reason == "rental_expired"
    state.purchases[(BOB, 1)] = 3  # refunded
    assert state.decide(BOB, (101,), 2_500).reason == "ppv_not_bought"
    assert state.decide(BOB, (1,), 2_500).reason == "no_subscription"
    assert state.decide(b"\x00" * 20, (1,), 0).reason == "not_a_customer"


def test_entitled_packages_lists_plan_add_on_and_items(state):
    assert set(state.entitled_packages(ALICE, 500)) == {1, 3}
    assert set(state.entitled_packages(BOB, 2_100)) == {101, 201}
    assert state.entitled_packages(ALICE, 2_000) == {}


# ----- HTTP, fed raw bytes -----


class _Transport:
    def __init__(self):
        self.out = b""
        self.closed = False

    def write(self, data):
        self.out += data

    def close(self):
        self.closed = True


def _service(state) -> AuthService:
    service = AuthService(StreamMap.from_dict({"streams": {"news": 1, "sport": 3}}), KEYS)
    service.state = state
    service.clock = (500, time.monotonic(), 7, "0x" + "00" * 32)
    service.ready = True
    return service


def _feed(app: App, raw: bytes) -> tuple[bytes, bool]:
    protocol = HttpProtocol(app)
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(raw)
    return transport.out, transport.closed


def test_pipelined_flussonic_requests_are_answered_in_order(state):
    app = App(_service(state))
    token = issue_token(KEYS, ALICE, "tv", 3600)
    one = f"GET /flussonic/auth?name=news&token={token}&request_type=new_session HTTP/1.1\r\nHost: x\r\n\r\n"
    two = f"GET /flussonic/auth?name=movies&token={token} HTTP/1.1\r\nHost: x\r\n\r\n"
    out, closed = _feed(app, (one + two).encode())
    first, second = out.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(b"200 OK") and b"X-Max-Sessions: 2\r\n" in first and b"X-UserId: 1\r\n" in first
    assert second.startswith(b"403") and b"X-Reason: unknown_stream" in second
    assert not closed


def test_malformed_http_gets_400_and_the_connection_closed(state):
    out, closed = _feed(App(_service(state)), b"GARBAGE\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and closed


def test_wrong_methods_get_405_with_allow(state):
    out, _ = _feed(App(_service(state)), b"DELETE /flussonic/auth HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 405") and b"Allow: GET" in out


def test_http_1_0_closes_after_the_answer(state):
    out, closed = _feed(App(_service(state)), b"GET /healthz HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out and closed


def test_the_json_decision_matches_the_flussonic_one(state):
    app = App(_service(state))
    token = issue_token(KEYS, ALICE, "tv", 3600)
    out, _ = _feed(app, f"GET /api/v1/decision?stream=sport&token={token} HTTP/1.1\r\n\r\n".encode())
    body = orjson.loads(out.split(b"\r\n\r\n", 1)[1])
    assert body["allowed"] and body["reason"] == "plan" and body["maxSessions"] == 2 and body["block"] == 7


def test_query_strings_decode_like_browsers_send_them():
    assert parse_query(b"a=1&b=x%20y&c=p+q&a=2&&d&e=%ZZ&f=%C3%A9") == {
        "a": "1",
        "b": "x y",
        "c": "p q",
        "d": "",
        "e": "%ZZ",
        "f": "é",
    }
