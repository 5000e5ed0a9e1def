"""The authorization backend over real HTTP, following a real local chain (docs/auth-backend.md).

The service runs as `python -m streamledger.cli auth serve` in a subprocess, following the anvil brownie
launched (its own state, its own follower: it never shares anything with the test but the chain). Requests are
shaped as Flussonic sends them. Each test waits until the service has processed the chain's latest block
(`synced`), then asks; "within one block" means: after exactly one block is mined and the service reports
being at that block, its answers already reflect it. brownie's per-test isolation reverts the chain after each
test, which the service follows as a reorg.

The last tests use anvils of their own: the node restarted under the service, and a fork deeper than the
service's reorg depth.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pytest
import requests
from brownie import accounts, chain, web3
from eth_account import Account
from eth_account.messages import encode_defunct

from streamledger import artifacts
from streamledger.auth.testing import ServiceProcess
from streamledger.auth.tokens import KeyRing, issue_token, siwe_message
from streamledger.catalogue import load_catalogue
from streamledger.chain import Chain, Sender, connect_web3
from streamledger.deployment import deploy_system
from streamledger.devchain import AnvilNode
from streamledger.oracle import RentalBatchData, RentalReport, sign_batch
from tests.conftest import DAY, fund_with, ids, now, time_travel

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ROOT / "catalogue" / "streams-development.yaml"
DOMAIN = "tv.example"
HOUR = 3_600


class Auth:
    """The running service, its keys, and helpers to ask it things."""

    def __init__(self, process: ServiceProcess, keyring: KeyRing, revocations: Path, rpc_web3=None):
        self.process = process
        self.url = process.url
        self.keyring = keyring
        self.revocations = revocations
        self.http = requests.Session()
        self.w3 = rpc_web3 or web3

    def token(self, who, device: str = "living-room-tv", days: float = 90, issued_at: int | None = None) -> str:
        address = getattr(who, "address", who)
        return issue_token(self.keyring, address, device, int(days * DAY), issued_at)

    def flussonic(self, stream: str, token: str | None, request_type: str = "new_session", **extra):
        """A GET exactly as Flussonic's auth backend client sends it (every parameter, URL-encoded)."""
        params = {
            "name": stream,
            "proto": "hls",
            "ip": "10.77.0.150",
            "request_type": request_type,
            "request_number": "0" if request_type == "new_session" else "3",
            "session_id": str(uuid.uuid4()),
            "stream_clients": "1",
            "total_clients": "2",
            "duration": "0" if request_type == "new_session" else "120",
            "bytes": "0" if request_type == "new_session" else "48123456",
            "dvr": "false",
            "user_agent": "VLC/3.0.20 LibVLC/3.0.20",
            "referer": "https://portal.tv.example/live",
            "qs": f"token={token}" if token else "",
        }
        if token is not None:
            params["token"] = token
        params.update(extra)
        return self.http.get(self.url + "/flussonic/auth", params=params, timeout=5)

    def decision(self, stream: str, token: str | None):
        params = {"stream": stream} if token is None else {"stream": stream, "token": token}
        return self.http.get(self.url + "/api/v1/decision", params=params, timeout=5)

    def status(self) -> dict:
        return self.http.get(self.url + "/api/v1/status", timeout=5).json()

    def synced(self, timeout: float = 15) -> dict:
        """Waits until the service has processed the node's latest block (number and hash)."""
        latest = self.w3.eth.get_block("latest")
        want = (latest["number"], "0x" + bytes(latest["hash"]).hex())
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if (status["block"], status["blockHash"]) == want:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"service at {status['block']} {status['blockHash']}, chain at {want}")
            time.sleep(0.02)


def _start(tmp: Path, deployment, rpc: str, *extra: str) -> tuple[ServiceProcess, KeyRing, Path]:
    deployment_path = tmp / "deployment.json"
    deployment_path.write_text(json.dumps(asdict(deployment)))
    keys = KeyRing.generate("k1")
    keys_path = tmp / "auth-keys.json"
    keys_path.write_text(json.dumps(keys))
    revocations = tmp / "revoked.txt"
    process = ServiceProcess(
        "--deployment",
        str(deployment_path),
        "--streams",
        str(STREAMS),
        "--rpc",
        rpc,
        "--keys",
        str(keys_path),
        "--poll-interval",
        "0.05",
        "--max-backoff",
        "1",
        "--siwe-domain",
        DOMAIN,
        "--revocations",
        str(revocations),
        *extra,
        log=tmp / "service.log",
    ).start()
    return process, KeyRing.parse(json.dumps(keys)), revocations


@pytest.fixture(scope="module")
def auth(deployment, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    process, keyring, revocations = _start(tmp, deployment, web3.provider.endpoint_uri)
    yield Auth(process, keyring, revocations)
    process.stop()


@pytest.fixture
def subscribe(billing, token, plans, unit):
    """subscribe(customer, plan="basic", deposit=100 tokens)."""

    def _subscribe(customer, plan="basic", deposit=None):
        fund_with(billing, token, customer, 100 * unit if deposit is None else deposit)
        billing.subscribe(plans[plan], billing.planOf(plans[plan])[0], {"from": customer})

    return _subscribe


def _allowed(response) -> bool:
    assert response.status_code in (200, 403), response.text
    return response.status_code == 200


# ----- Flussonic protocol ------------------------------------------------------------------------------------


def test_an_entitled_subscriber_gets_200_with_the_plans_stream_limit(auth, billing, subscribe, alice, carol):
    subscribe(alice, "basic")
    subscribe(carol, "premium")  # a 7-day trial of premium
    auth.synced()

    dvr = "dvr/news-24/archive-1700000000-3600.m3u8"  # matched by a prefix
    for customer, streams in ((alice, ["news-24", "weather", dvr]), (carol, ["news-24", "movies-hd"])):
        for stream in streams:
            for request_type in ("new_session", "update_session"):
                r = auth.flussonic(stream, auth.token(customer), request_type)
                assert r.status_code == 200, (stream, r.headers)
                assert r.headers["X-UserId"] == str(billing.customerIdOf(customer))
                assert int(r.headers["X-Max-Sessions"]) == billing.maxStreams(customer)
                assert 1 <= int(r.headers["X-AuthDuration"]) <= 60
    assert auth.flussonic("news-24", auth.token(alice)).headers["X-Max-Sessions"] == "2"
    assert auth.flussonic("news-24", auth.token(carol)).headers["X-Max-Sessions"] == "4"


def test_streams_outside_the_plan_are_refused_until_the_add_on_is_bought(auth, billing, subscribe, plans, alice):
    subscribe(alice, "basic")
    auth.synced()
    for stream in ("movies-hd", "sport-hd"):
        r = auth.flussonic(stream, auth.token(alice))
        assert r.status_code == 403 and r.headers["X-Reason"] == "not_entitled"
    r = auth.flussonic("no-such-channel", auth.token(alice))
    assert r.status_code == 403 and r.headers["X-Reason"] == "unknown_stream"

    billing.subscribe(plans["sports"], billing.planOf(plans["sports"])[0], {"from": alice})  # one block
    auth.synced()

    r = auth.flussonic("sport-hd", auth.token(alice))
    assert r.status_code == 200
    assert r.headers["X-Max-Sessions"] == "2"  # the base plan's limit
    assert auth.flussonic("sport-extra", auth.token(alice)).status_code == 200  # carried by the add-on's package
    assert auth.flussonic("movies-hd", auth.token(alice)).status_code == 403


def test_missing_forged_foreign_and_expired_tokens_are_refused(auth, subscribe, alice, rando):
    subscribe(alice, "basic")
    auth.synced()
    good = auth.token(alice)
    prefix, kid, payload, mac = good.split(".")
    bob_payload = issue_token(auth.keyring, rando.address, "living-room-tv", 90 * DAY).split(".")[2]
    other_keys = KeyRing({"k1": b"\x01" * 32})
    cases = {
        None: "missing_token",
        "": "missing_token",
        "not-a-token": "invalid_token",
        f"{prefix}.{kid}.{payload}.{mac[:-2]}AA": "invalid_token",  # MAC changed
        f"{prefix}.{kid}.{bob_payload}.{mac}": "invalid_token",  # another payload under alice's MAC
        f"{prefix}.k9.{payload}.{mac}": "invalid_token",  # unknown key id
        issue_token(other_keys, alice.address, "tv", 90 * DAY): "invalid_token",  # signed with another key
        auth.token(alice, issued_at=int(time.time()) - 2 * DAY, days=1): "expired_token",
        auth.token(rando): "not_a_customer",  # genuine, but never registered on-chain
    }
    assert auth.flussonic("news-24", good).status_code == 200
    for token, reason in cases.items():
        r = auth.flussonic("news-24", token)
        assert (r.status_code, r.headers["X-Reason"]) == (403, reason), token


def test_a_revoked_device_is_refused_without_touching_its_other_devices(auth, subscribe, alice):
    subscribe(alice, "basic")
    auth.synced()
    stolen, kept = auth.token(alice, device="stolen-stb"), auth.token(alice, device="phone")
    try:
        auth.revocations.write_text("stolen-stb  # reported stolen\n")
        deadline = time.monotonic() + 10
        while auth.flussonic("news-24", stolen).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        r = auth.flussonic("news-24", stolen)
        assert (r.status_code, r.headers["X-Reason"]) == (403, "revoked_token")
        assert auth.flussonic("news-24", kept).status_code == 200
    finally:
        auth.revocations.write_text("")


# ----- following the chain ------------------------------------------------------------------------------------


def test_a_lapsed_subscription_is_refused_within_one_block_and_a_renewal_restores_it(
    auth, billing, subscribe, plans, alice, keeper, token, unit
):
    price = billing.planOf(plans["basic"])[0]
    subscribe(alice, "basic", deposit=price)  # nothing left for the next period
    cid = billing.customerIdOf(alice)
    paid_through = billing.accountOf(alice)[4]
    time_travel(paid_through - now() + HOUR)
    billing.renew(plans["basic"], ids(cid), {"from": keeper})  # RenewalFailed: in grace
    auth.synced()
    assert billing.accountOf(alice)[3] == 3  # Grace
    assert auth.flussonic("news-24", auth.token(alice)).status_code == 200

    grace_ends = billing.accountOf(alice)[5]
    chain.sleep(grace_ends - now() + HOUR)
    chain.mine()  # exactly one block, past paid-through + grace
    block = web3.eth.block_number
    status = auth.synced()

    assert status["block"] == block  # no later block exists: the refusal comes from this one
    r = auth.flussonic("news-24", auth.token(alice), "update_session")
    assert (r.status_code, r.headers["X-Reason"]) == (403, "lapsed")
    assert not billing.isEntitled(alice, 1)
    assert auth.decision("news-24", auth.token(alice)).json()["reason"] == "lapsed"

    fund_with(billing, token, alice, 20 * unit)
    billing.renew(plans["basic"], ids(cid), {"from": keeper})  # a fresh period after suspension: one block
    auth.synced()

    r = auth.flussonic("news-24", auth.token(alice), "update_session")
    assert r.status_code == 200
    assert billing.isEntitled(alice, 1)
    assert r.headers["X-Max-Sessions"] == "2"


def test_cancel_now_takes_effect_within_one_block(auth, billing, subscribe, plans, alice):
    subscribe(alice, "basic")
    auth.synced()
    assert auth.flussonic("news-24", auth.token(alice)).status_code == 200

    billing.cancelNow(plans["basic"], {"from": alice})
    auth.synced()

    r = auth.flussonic("news-24", auth.token(alice), "update_session")
    assert (r.status_code, r.headers["X-Reason"]) == (403, "lapsed")


def test_the_auth_duration_never_outlasts_the_entitlement(auth, billing, subscribe, alice):
    subscribe(alice, "basic")
    grace_ends = billing.accountOf(alice)[5]
    time_travel(grace_ends - now() - 20)  # 20 s of grace left
    auth.synced()

    r = auth.flussonic("news-24", auth.token(alice))
    assert r.status_code == 200
    assert 1 <= int(r.headers["X-AuthDuration"]) <= 21


def test_pay_per_view_plays_only_within_its_window_once_bought(auth, billing, deployment, token, unit, bob, carol):
    event_id = deployment.ppv_events["title_fight"]
    _, package, _, view_start, view_end, _ = billing.ppvEventOf(event_id)
    fund_with(billing, token, bob, 50 * unit)
    billing.buyPpv(event_id, {"from": bob})
    fund_with(billing, token, carol, 50 * unit)
    billing.register(carol, {"from": carol})
    auth.synced()

    def answer(who):
        r = auth.flussonic("ppv/title-fight", auth.token(who))
        return r.status_code, r.headers.get("X-Reason")

    assert answer(bob) == (403, "ppv_not_started")
    assert answer(carol) == (403, "ppv_not_bought")

    time_travel(view_start - now() + 60)
    auth.synced()
    r = auth.flussonic("ppv/title-fight", auth.token(bob))
    assert r.status_code == 200
    assert r.headers["X-Max-Sessions"] == "1"  # no plan: the service's PPV/VOD figure
    assert int(r.headers["X-AuthDuration"]) <= view_end - now()
    assert billing.isEntitled(bob, package)
    assert answer(carol) == (403, "ppv_not_bought")
    assert auth.flussonic("news-24", auth.token(bob)).headers["X-Reason"] == "no_subscription"

    billing.disputePpv(event_id, {"from": bob})
    auth.synced()
    assert answer(bob) == (200, None)  # disputed, not yet refunded: still entitled, as on-chain

    time_travel(view_end - now() + 1)
    auth.synced()
    assert answer(bob) == (403, "ppv_ended")
    assert not billing.isEntitled(bob, package)


def test_a_refunded_ppv_purchase_ends_the_entitlement(auth, billing, deployment, token, unit, bob, arbiter):
    event_id = deployment.ppv_events["title_fight"]
    view_start = billing.ppvEventOf(event_id)[3]
    fund_with(billing, token, bob, 50 * unit)
    billing.buyPpv(event_id, {"from": bob})
    time_travel(view_start - now() + 60)
    auth.synced()
    assert auth.flussonic("ppv/title-fight", auth.token(bob)).status_code == 200

    tx = billing.disputePpv(event_id, {"from": bob})
    billing.resolveDispute(tx.events["DisputeOpened"]["disputeId"], True, {"from": arbiter})  # refunded
    auth.synced()

    r = auth.flussonic("ppv/title-fight", auth.token(bob))
    assert (r.status_code, r.headers["X-Reason"]) == (403, "ppv_not_bought")


def test_a_vod_rental_plays_until_it_expires(auth, billing, deployment, registered, oracle_keys, operator, alice, unit):
    title = deployment.vod_titles["the_long_night"]
    cid = registered(alice, 10 * unit)
    first_play = now() - 60
    batch = RentalBatchData(77_001, now() + HOUR, [RentalReport(cid, title, first_play)])
    signatures = sign_batch(batch, web3.eth.chain_id, billing.address, oracle_keys[:2])
    stream = "vod/the_long_night/index.m3u8"
    auth.synced()
    assert auth.flussonic(stream, auth.token(alice)).headers["X-Reason"] == "not_rented"

    billing.settleRentals(batch.header(), batch.packed(), signatures, {"from": operator})
    auth.synced()
    assert auth.flussonic(stream, auth.token(alice)).status_code == 200

    expires = billing.rentalOf(alice, title)[2]
    time_travel(expires - now() + 1)
    auth.synced()
    r = auth.flussonic(stream, auth.token(alice))
    assert (r.status_code, r.headers["X-Reason"]) == (403, "rental_expired")


def test_a_reorg_that_drops_a_subscription_is_followed(auth, billing, subscribe, carol):
    subscribe(carol, "premium")
    auth.synced()
    assert auth.flussonic("movies-hd", auth.token(carol)).status_code == 200
    reorgs = auth.status()["reorgs"]

    chain.undo()  # the subscribe transaction's block is gone
    chain.mine(3)  # and other blocks take its height
    status = auth.synced()

    r = auth.flussonic("movies-hd", auth.token(carol))
    assert (r.status_code, r.headers["X-Reason"]) == (403, "not_a_customer")  # subscribing registered her
    assert status["reorgs"] > reorgs


# ----- JSON API ---------------------------------------------------------------------------------------------


def test_the_json_api_agrees_with_the_flussonic_endpoint_and_the_contract(
    auth, billing, subscribe, deployment, plans, token, unit, alice, bob, carol, rando
):
    subscribe(alice, "basic")
    billing.subscribe(plans["sports"], billing.planOf(plans["sports"])[0], {"from": alice})
    subscribe(carol, "premium")
    fund_with(billing, token, bob, 50 * unit)
    billing.buyPpv(deployment.ppv_events["title_fight"], {"from": bob})
    auth.synced()
    stream_map = {
        "news-24": 1,
        "movies-hd": 2,
        "sport-hd": 3,
        "ppv/title-fight": 101,
        "vod/the_long_night/x.mp4": 201,
        "nope": None,
    }
    tokens = [auth.token(c) for c in (alice, bob, carol, rando)] + ["forged", None]
    compared = 0
    for tok in tokens:
        for stream, package in stream_map.items():
            f = auth.flussonic(stream, tok)
            j = auth.decision(stream, tok)
            body = j.json()
            assert f.status_code == j.status_code, (stream, tok, f.headers, body)
            assert body["allowed"] == (f.status_code == 200)
            if f.status_code == 200:
                assert body["customerId"] == int(f.headers["X-UserId"])
                assert body["maxSessions"] == int(f.headers["X-Max-Sessions"])
                assert abs(body["authDuration"] - int(f.headers["X-AuthDuration"])) <= 1
            else:
                assert body["reason"] == f.headers["X-Reason"]
            if package is not None and body["customer"]:
                assert body["allowed"] == billing.isEntitled(body["customer"], package), (stream, body)
            compared += 1
    assert compared == 36

    listing = auth.http.get(auth.url + "/api/v1/entitlements", params={"token": auth.token(alice)}).json()
    assert {p["package"] for p in listing["packages"]} == {1, 3}
    assert set(listing["streams"]) == {"news-24", "weather", "kids", "sport-hd", "sport-extra"}
    assert listing["maxSessions"] == 2
    bearer = {"Authorization": "Bearer " + auth.token(alice)}
    r = auth.http.get(auth.url + "/api/v1/decision", params={"stream": "sport-hd"}, headers=bearer)
    assert r.status_code == 200 and r.json()["reason"] == "plan"


# ----- wallet sign-in (EIP-4361) -----------------------------------------------------------------------------


def test_wallet_sign_in_issues_a_device_token_once_per_nonce(auth, billing, token, plans, unit):
    wallet = Account.create()
    local = accounts.add(wallet.key)
    accounts[0].transfer(local, "1 ether")
    fund_with(billing, token, local, 50 * unit)
    billing.subscribe(plans["basic"], billing.planOf(plans["basic"])[0], {"from": local})
    auth.synced()

    def sign_in(message: str, key=wallet.key, send: str | None = None):
        signature = Account.sign_message(encode_defunct(text=message), key).signature.hex()
        body = {"message": message if send is None else send, "signature": signature}
        return auth.http.post(auth.url + "/api/v1/siwe/token", json=body)

    def message(nonce=None, domain=DOMAIN, chain_id=None, issued=None, lifetime=300, address=wallet.address):
        if nonce is None:
            nonce = auth.http.get(auth.url + "/api/v1/siwe/nonce").json()["nonce"]
        issued = int(time.time()) if issued is None else issued
        cid = web3.eth.chain_id if chain_id is None else chain_id
        uri = "https://tv.example/login"
        return siwe_message(domain, address, uri, cid, nonce, issued, issued + lifetime, request_id="phone-7")

    signed = message()
    first = sign_in(signed)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["customer"] == wallet.address
    r = auth.flussonic("news-24", body["token"])
    assert r.status_code == 200 and r.headers["X-UserId"] == str(billing.customerIdOf(wallet.address))

    fresh = message()
    refusals = {
        "replayed_nonce": sign_in(signed),  # the same signed message again
        "bad_signature": sign_in(fresh, send=fresh.replace("Play my", "Pay my")),  # tampered after signing
        "expired_message": sign_in(message(issued=int(time.time()) - 600, lifetime=300)),
        "wrong_domain": sign_in(message(domain="evil.example")),
        "wrong_chain": sign_in(message(chain_id=1)),
        "invalid_nonce": sign_in(message(nonce="ab" * 21)),
        "invalid_message": sign_in(message(lifetime=7 * DAY)),  # far longer-lived than sign-in allows
    }
    refusals["bad_signature_other_key"] = sign_in(message(), key=Account.create().key)
    for reason, response in refusals.items():
        assert response.status_code == 403, (reason, response.text)
        assert response.json()["error"] == reason.removesuffix("_other_key"), (reason, response.text)
    assert auth.http.post(auth.url + "/api/v1/siwe/token", data=b"{not json").status_code == 400


# ----- the OpenAPI document, fuzzed ---------------------------------------------------------------------------


def _schemathesis() -> Path:
    """build/schemathesis-venv with requirements-schemathesis.txt (installed once; it cannot share .venv)."""
    venv = ROOT / "build" / "schemathesis-venv"
    pins = (ROOT / "requirements-schemathesis.txt").read_text()
    stamp = venv / ".requirements"
    binary = venv / "bin" / "schemathesis"
    if not (binary.exists() and stamp.exists() and stamp.read_text() == pins):
        subprocess.run(["python3.11", "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(ROOT / "requirements-schemathesis.txt")], check=True)
        stamp.write_text(pins)
    return binary


def test_the_openapi_document_holds_under_schemathesis(auth, subscribe, alice):
    subscribe(alice, "basic")
    auth.synced()
    spec = auth.http.get(auth.url + "/openapi.json").json()
    assert set(spec["paths"]) >= {"/flussonic/auth", "/api/v1/decision", "/api/v1/entitlements"}

    result = subprocess.run(
        [
            str(_schemathesis()),
            "run",
            auth.url + "/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "60",
            "--seed",
            "20260101",
            "--header",
            f"Authorization: Bearer {auth.token(alice)}",  # so the JSON API's allowed paths are fuzzed too
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / "build"), "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
    assert auth.status()["ready"]  # and the service is still up and following


# ----- anvils of our own: node restarts, deep forks -------------------------------------------------------------


def _own_system(node: AnvilNode):
    w3 = connect_web3(node.url)
    admin = Chain(w3, Sender(w3.eth.accounts[0]))
    catalogue = load_catalogue(artifacts.ROOT / "catalogue" / "development.yaml")
    deployment = deploy_system(admin, catalogue, "auth-own", dev_accounts=list(w3.eth.accounts))
    customer = w3.eth.accounts[3]
    me = admin.with_sender(Sender(customer))
    unit = 10**deployment.token_decimals
    me.transact(me.token(deployment.token).functions.mint(customer, 100 * unit))
    me.transact(me.token(deployment.token).functions.approve(deployment.billing, 100 * unit))
    me.transact(me.billing(deployment.billing).functions.deposit(100 * unit))
    return w3, deployment, me


def test_the_service_rides_out_a_node_restart(tmp_path):
    node = AnvilNode(state=tmp_path / "anvil-state.json").start()
    process = None
    try:
        w3, deployment, me = _own_system(node)
        billing = me.billing(deployment.billing)
        me.transact(billing.functions.subscribe(1, billing.functions.planOf(1).call()[0]))
        process, keyring, revocations = _start(tmp_path, deployment, node.url)
        auth = Auth(process, keyring, revocations, w3)
        tok = auth.token(me.sender.address)
        auth.synced()
        assert auth.flussonic("news-24", tok).status_code == 200

        node.stop()
        deadline = time.monotonic() + 20
        while auth.status()["nodeError"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert auth.status()["nodeError"]  # it knows
        assert auth.flussonic("news-24", tok).status_code == 200  # and answers from memory meanwhile
        node.start()

        me.transact(billing.functions.cancelNow(1))
        auth.synced(timeout=30)
        r = auth.flussonic("news-24", tok)
        assert (r.status_code, r.headers["X-Reason"]) == (403, "lapsed")
        assert auth.status()["nodeError"] is None
    finally:
        if process:
            process.stop()
        node.stop()


def test_a_fork_deeper_than_the_reorg_depth_means_a_full_reread(tmp_path):
    node = AnvilNode().start()
    process = None
    try:
        w3, deployment, me = _own_system(node)
        billing = me.billing(deployment.billing)
        process, keyring, revocations = _start(tmp_path, deployment, node.url, "--reorg-depth", "4")
        auth = Auth(process, keyring, revocations, w3)
        tok = auth.token(me.sender.address)
        snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
        me.transact(billing.functions.subscribe(1, billing.functions.planOf(1).call()[0]))
        for _ in range(10):
            w3.provider.make_request("evm_mine", [])
            auth.synced()
        assert auth.flussonic("news-24", tok).status_code == 200
        before = auth.status()

        w3.provider.make_request("evm_revert", [snapshot])  # 11 blocks gone, the subscription with them
        w3.provider.make_request("evm_mine", [])
        status = auth.synced()

        r = auth.flussonic("news-24", tok)
        assert (r.status_code, r.headers["X-Reason"]) == (403, "not_a_customer")  # subscribing registered them
        assert status["resyncs"] == before["resyncs"] + 1
    finally:
        if process:
            process.stop()
        node.stop()


def test_the_cli_issues_tokens_the_service_accepts(tmp_path):
    keys = tmp_path / "keys.json"
    run = [sys.executable, "-m", "streamledger.cli", "auth"]
    subprocess.run([*run, "keygen", "--out", str(keys)], check=True, capture_output=True, cwd=ROOT)
    assert keys.stat().st_mode & 0o777 == 0o600
    again = subprocess.run([*run, "keygen", "--out", str(keys)], capture_output=True, cwd=ROOT)
    assert again.returncode != 0  # never overwritten
    address = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
    out = subprocess.run(
        [*run, "issue-token", "--keys", str(keys), "--address", address, "--device", "tv-1", "--days", "1"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    from streamledger.auth.tokens import TokenVerifier

    claims = TokenVerifier(KeyRing.load(keys)).verify(out, time.time())
    assert claims.address_hex.lower() == address.lower() and claims.device == "tv-1"
