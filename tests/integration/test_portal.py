"""The customer portal in a real browser (headless Chromium driven by Playwright) against the local chain.

The page is the bundle `make portal` builds, served by the product's own server (streamledger.portal). Its
wallet is a test-injected EIP-1193 provider that forwards every request to the chain's node for one of the
node's unlocked development accounts, as a wallet extension would: the node signs the transactions and the
EIP-712 permits. Each test asserts what the page shows after each transaction, and what the chain holds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests
from brownie import accounts, web3
from playwright import sync_api as playwright_api
from playwright.sync_api import expect

from streamledger.artifacts import ROOT
from streamledger.chain import Chain, Sender
from streamledger.keeper import Keeper
from streamledger.portal import BUNDLE, PortalServer
from streamledger.reconcile import Reconciler
from streamledger.statements import block_timestamps, build_statements, seal, statement_blocks, write_statement
from streamledger.usage.service import build_feeder
from tests.conftest import DAY, deploy, fund_with, now, time_travel

UNIT = 10**6  # the test stablecoin's 6 decimals
TIMEOUT = 30_000  # ms a page may take to show a transaction's outcome
SCREENSHOTS = Path(os.environ.get("STREAMLEDGER_SCREENSHOTS", ROOT / "reports" / "portal"))

# The wallet: window.ethereum, forwarding to the node through a function the test exposes. Only the one
# account is offered, and a request to act for another address is refused, as a wallet refuses it.
WALLET_JS = """
(() => {
  const account = %(account)s;
  const chainOverride = %(chain)s;
  const listeners = {};
  window.ethereum = {
    isStreamLedgerTestWallet: true,
    async request({ method, params = [] }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [account];
      if (method === "eth_chainId" && chainOverride) return chainOverride;
      const reply = await window.__wallet(method, params);
      if (reply.error) {
        const err = new Error(reply.error.message);
        err.code = reply.error.code;
        err.data = reply.error.data;
        throw err;
      }
      return reply.result;
    },
    on(event, fn) { (listeners[event] ||= []).push(fn); },
    removeListener(event, fn) { listeners[event] = (listeners[event] || []).filter((f) => f !== fn); },
  };
})();
"""


# ----- browser, server, wallet ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium_executable():
    out = subprocess.run(
        ["node", str(ROOT / "tools" / "chromium.mjs"), str(ROOT / "build" / "chromium")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browser(chromium_executable):
    fonts = ROOT / "build" / "chromium" / "fonts"
    env = dict(os.environ)
    if fonts.is_dir() and "FONTCONFIG_PATH" not in env:
        env["FONTCONFIG_PATH"] = str(fonts)  # the fonts shipped with the pinned Chromium: the same on every machine
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_executable,
            env=env,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The system deployed, its deployment record written, and the portal server serving it."""
    assert (BUNDLE / "app.js").exists(), "the portal is not built: run `make portal`"
    dep, billing, token = deploy(operators=[accounts[1].address])
    work = tmp_path_factory.mktemp("portal")
    dep.network = "portal-test"
    record = dep.save(work)
    statements = work / "statements"
    statements.mkdir()
    server = PortalServer(record, statements, port=0).start()
    yield {"url": server.url, "dep": dep, "billing": billing, "token": token, "statements": statements, "work": work}
    server.stop()


def open_page(browser, url, account, chain_id=None, viewport=None, declines=False):
    """A fresh browser context whose wallet holds `account` (and, with `declines`, refuses every signature as
    a person pressing Reject would); returns the page, loaded."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900}, accept_downloads=True)
    endpoint = web3.provider.endpoint_uri

    def wallet(method, params):
        if declines and method in ("eth_sendTransaction", "eth_signTypedData_v4"):
            return {"error": {"code": 4001, "message": "User rejected the request."}}
        if method == "eth_sendTransaction" and params[0].get("from", "").lower() != account.lower():
            return {"error": {"code": 4100, "message": "the wallet does not hold that account"}}
        if method == "eth_signTypedData_v4" and params[0].lower() != account.lower():
            return {"error": {"code": 4100, "message": "the wallet does not hold that account"}}
        reply = requests.post(
            endpoint, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=30
        )
        return reply.json()

    context.expose_function("__wallet", wallet)
    context.add_init_script(WALLET_JS % {"account": json.dumps(account), "chain": json.dumps(chain_id)})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.page_errors = errors
    return page


def connect(page):
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.locator("#network-state")).to_contain_text("Connected to chain", timeout=TIMEOUT)
    expect(page.locator("#account")).to_be_visible(timeout=TIMEOUT)


def act(page, form_button, fields=None, *, select=None):
    """Fills a form by its labels, submits it and waits for the outcome; returns the error text ('' when done)."""
    for label, value in (select or {}).items():  # first: choosing a plan fills in its price
        page.get_by_label(label, exact=True).select_option(value=str(value))
    for label, value in (fields or {}).items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name=form_button, exact=True).click()
    return wait_outcome(page)


def wait_outcome(page):
    expect(page.locator("#status")).to_have_text(re.compile(r"(done|not done)\.$"), timeout=TIMEOUT)
    return page.locator("#error").inner_text()


def feed(dep, customer, meter, minutes, work):
    """The operator's feeder bills one session of `customer` on `meter` (a meter key or rental:<title>) from a
    real log file: a real signed batch."""
    t = now()
    start = t - t % DAY - DAY + 3600  # in yesterday's closed usage window
    name = f"{customer[:8]}-{meter.replace(':', '-')}-{minutes}"
    log = work / f"sessions-{name}.csv"
    log.write_text(
        "session_id,customer,device_id,content_id,meter,start,end,bytes\n"
        f"s{name},{customer},tv,vod9,{meter},{start},{start + minutes * 60},0\n"
    )
    feeder = build_feeder(Chain(web3, Sender(accounts[1].address)), dep, work / f"feeder-{name}")
    feeder.process_file(log)
    assert feeder.submit().settled == 1


def publish_statements(dep, billing, period, folder, work):
    """The operator's statement run: every customer's statement rebuilt from events, sealed in one Merkle tree,
    the root committed on chain and the files written to the folder the portal serves."""
    reconciler = Reconciler(web3, dep, work / "state")
    reconciler.sync()
    end = web3.eth.get_block("latest")["timestamp"] + 1
    stamps = block_timestamps(web3, statement_blocks(reconciler.ledger))
    statements = build_statements(reconciler.ledger, period, 0, end, stamps, dep.token_decimals, dep.token_symbol)
    root, count = seal(statements, dep.chain_id, dep.billing)
    billing.commitStatementRoot(period, 0, end, root, count, {"from": accounts[1]})
    for statement in statements.values():
        write_statement(statement, folder)
    return statements, root, count


def mint(token, who, amount):
    token.mint(who, amount, {"from": who})


def tokens(n):
    return f"{n:,.2f} tUSD"


# ----- tests ---------------------------------------------------------------------------------------------------


def test_connect_detects_the_network_and_shows_the_contracts(browser, portal):
    alice = accounts[3]
    mint(portal["token"], alice, 75 * UNIT)
    page = open_page(browser, portal["url"], alice.address)
    expect(page.locator("#contracts")).to_contain_text(portal["dep"].billing)
    expect(page.locator("#contracts")).to_contain_text(portal["dep"].token)
    connect(page)
    expect(page.locator("#network-state")).to_have_text(f"Connected to chain {web3.eth.chain_id} as {alice.address}.")
    expect(page.locator("#balance")).to_have_text("0.00 tUSD")
    expect(page.locator("#wallet-balance")).to_have_text(tokens(75))
    expect(page.locator("#customer-id")).to_contain_text("none yet")
    expect(page.locator("#no-subscriptions")).to_be_visible()
    assert page.page_errors == []


def test_a_wallet_on_another_chain_is_told_to_switch(browser, portal):
    page = open_page(browser, portal["url"], accounts[3].address, chain_id="0x1")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.locator("#network-state")).to_have_text(
        f"Your wallet is on chain 1; this portal's contracts are on chain {web3.eth.chain_id}. "
        "Switch networks to continue."
    )
    expect(page.get_by_role("button", name="Switch the wallet to this network")).to_be_visible()
    expect(page.locator("#account")).to_be_hidden()


def test_a_request_declined_in_the_wallet_is_said_so_and_changes_nothing(browser, portal):
    ivy = accounts[2]
    mint(portal["token"], ivy, 5 * UNIT)
    page = open_page(browser, portal["url"], ivy.address, declines=True)
    connect(page)
    nonce = web3.eth.get_transaction_count(ivy.address)
    assert act(page, "Deposit", {"Amount to deposit": "5"}) == "You declined the request in your wallet."
    assert act(page, "Set cap", {"Most that usage and rentals may charge per cap period (0 for no cap)": "1"}) == (
        "You declined the request in your wallet."
    )
    expect(page.locator("#balance")).to_have_text(tokens(0))
    assert web3.eth.get_transaction_count(ivy.address) == nonce
    assert portal["billing"].balanceOf(ivy) == 0


def test_deposit_subscribe_buy_an_event_and_dispute_a_usage_charge(browser, portal):
    dep, billing, token = portal["dep"], portal["billing"], portal["token"]
    alice = accounts[3]
    mint(token, alice, 100 * UNIT)
    page = open_page(browser, portal["url"], alice.address)
    connect(page)
    expect(page.locator("#deposit-hint")).to_contain_text("permit")

    # deposit 60 with a permit: one signature, one transaction, no allowance left behind
    nonce = web3.eth.get_transaction_count(alice.address)
    assert act(page, "Deposit", {"Amount to deposit": "60"}) == ""
    expect(page.locator("#balance")).to_have_text(tokens(60))
    expect(page.locator("#wallet-balance")).to_have_text(tokens(40))
    assert billing.balanceOf(alice) == 60 * UNIT
    assert web3.eth.get_transaction_count(alice.address) == nonce + 1
    assert token.allowance(alice, billing) == 0

    # subscribe to Basic, accepting at most 12 per period
    basic = dep.plans["basic"]
    assert act(page, "Subscribe", {"Most you accept per period": "12"}, select={"Plan": basic}) == ""
    account = billing.accountOf(alice).dict()
    row = page.locator("#subscriptions tbody tr").first
    expect(row).to_contain_text("Basic")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text(_date(account["paidThrough"]))
    expect(row).to_contain_text(tokens(10))
    expect(row).to_contain_text(tokens(12))
    assert account["maxPrice"] == 12 * UNIT
    expect(page.locator("#balance")).to_have_text(tokens(50))
    expect(page.locator("#customer-id")).to_have_text(f"#{billing.customerIdOf(alice)}")
    expect(page.locator("#entitlements")).to_contain_text("Package 1: Basic, Premium")

    # buy the pay-per-view event: charged now, disputable until its release day
    event = dep.ppv_events["title_fight"]
    assert act(page, "Buy event", select={"Event": event}) == ""
    purchase = billing.ppvPurchaseOf(event, alice)
    ppv_row = page.locator("#pending tbody tr", has_text="Pay-per-view")
    expect(ppv_row).to_contain_text(tokens(15))
    expect(ppv_row).to_contain_text(_date(purchase["releaseDay"] * DAY))
    expect(ppv_row).to_contain_text("charged")
    expect(page.locator("#balance")).to_have_text(tokens(35))
    shown = billing.ppvEventOf(event).dict()
    expect(page.locator("#entitlements")).to_contain_text(
        f"Package 101: Championship Title Fight (pay-per-view), "
        f"watchable {_date(shown['viewStart'])} to {_date(shown['viewEnd'])}"
    )

    # the operator's feeder charges 31 minutes of premium viewing; the page shows it with its deadline
    feed(dep, alice.address, "premium_minutes", 31, portal["work"])
    page.get_by_role("button", name="Refresh").click()
    usage_row = page.locator("#pending tbody tr", has_text="Premium viewing minutes")
    expect(usage_row).to_contain_text("31 minutes", timeout=TIMEOUT)
    expect(usage_row).to_contain_text(tokens(0.31))
    expect(page.locator("#balance")).to_have_text(tokens(34.69))

    # dispute it: the amount is frozen for the arbiter, and the page says so
    usage_row.get_by_role("button", name=re.compile("^Dispute")).click()
    assert wait_outcome(page) == ""
    expect(usage_row).to_contain_text("disputed, awaiting the arbiter")
    expect(usage_row.get_by_role("button")).to_have_count(0)
    dispute = billing.disputeOf(billing.disputeCount())
    assert dispute["customer"] == alice.address and dispute["amount"] == 31 * 10**4
    disputes = page.locator("#disputes tbody tr")
    expect(disputes).to_have_count(1)
    shown_dispute = re.compile(r"#\d+\s*Premium viewing minutes: 31 minutes.*0\.31 tUSD\s*awaiting the arbiter")
    expect(disputes.first).to_have_text(shown_dispute)

    # the arbiter refunds it: the outcome and the balance follow
    billing.resolveDispute(billing.disputeCount(), True, {"from": accounts[10]})
    page.get_by_role("button", name="Refresh").click()
    expect(disputes.first).to_contain_text("refunded to your balance")
    expect(page.locator("#balance")).to_have_text(tokens(35))

    # the pay-per-view purchase is disputed too: its 15 leave the escrow and wait for the arbiter
    ppv_row.get_by_role("button", name=re.compile("^Dispute")).click()
    assert wait_outcome(page) == ""
    expect(ppv_row).to_contain_text("disputed, awaiting the arbiter")
    expect(disputes).to_have_count(2)
    expect(disputes.first).to_have_text(re.compile(r"Pay-per-view: Championship Title Fight\s*15\.00 tUSD\s*awaiting"))
    assert billing.ppvPurchaseOf(event, alice)["status"] == 2  # disputed

    # a spending cap, an upgrade and a cancellation
    assert act(page, "Set cap", {"Most that usage and rentals may charge per cap period (0 for no cap)": "20"}) == ""
    expect(page.locator("#cap")).to_contain_text(f"{tokens(20)} per period; {tokens(20)} left until")
    assert billing.spendingCapOf(alice)[0] == 20 * UNIT
    assert (
        act(
            page,
            "Change plan",
            {"Most you accept per period on the new plan": "18"},
            select={"New plan": dep.plans["premium"]},
        )
        == ""
    )
    expect(page.locator("#subscriptions tbody tr").first).to_contain_text("Premium")
    assert billing.accountOf(alice).dict()["planId"] == dep.plans["premium"]
    assert act(page, "Cancel subscription", select={"Subscription to cancel": dep.plans["premium"]}) == ""
    expect(page.locator("#subscriptions tbody tr").first).to_contain_text("cancelled")
    expect(page.locator("#balance")).to_have_text(_tokens_of(billing.balanceOf(alice)))

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#account").screenshot(path=str(SCREENSHOTS / "portal-account.png"))
    assert page.page_errors == []


def test_a_rental_is_shown_while_it_runs_and_can_be_disputed(browser, portal):
    dep, billing, token = portal["dep"], portal["billing"], portal["token"]
    hank = accounts[11]
    fund_with(billing, token, hank, 10 * UNIT)
    billing.register(hank, {"from": hank})  # a customer id, which usage reports name customers by
    feed(dep, hank.address, "rental:the_long_night", 95, portal["work"])
    title = dep.vod_titles["the_long_night"]
    rental = billing.rentalOf(hank, title).dict()

    page = open_page(browser, portal["url"], hank.address)
    connect(page)
    expect(page.locator("#entitlements")).to_contain_text("Package 201: The Long Night (film) (rental)")
    rental_row = page.locator("#pending tbody tr", has_text="Rental")
    expect(rental_row).to_contain_text("Rental: The Long Night (film)")
    expect(rental_row).to_contain_text(tokens(3.99))
    expect(rental_row).to_contain_text(_date(rental["releaseDay"] * DAY))
    expect(page.locator("#balance")).to_have_text(tokens(6.01))

    rental_row.get_by_role("button", name=re.compile("^Dispute")).click()
    assert wait_outcome(page) == ""
    expect(rental_row).to_contain_text("disputed, awaiting the arbiter")
    expect(page.locator("#disputes tbody tr").first).to_have_text(
        re.compile(r"Rental: The Long Night \(film\)\s*3\.99 tUSD\s*awaiting the arbiter")
    )
    assert billing.rentalOf(hank, title).dict()["status"] == 2  # disputed


def test_a_customer_accepts_a_raised_price(browser, portal):
    dep, billing, token = portal["dep"], portal["billing"], portal["token"]
    frank = accounts[8]
    basic = dep.plans["basic"]
    fund_with(billing, token, frank, 30 * UNIT)
    billing.subscribe(basic, 10 * UNIT, {"from": frank})
    billing.setPlanPrice(basic, 11 * UNIT, {"from": accounts[1]})

    page = open_page(browser, portal["url"], frank.address)
    connect(page)
    expect(page.get_by_label("Subscription", exact=True)).to_contain_text(
        "Basic — now 11.00 tUSD, you accept 10.00 tUSD"
    )
    assert act(page, "Accept price", {"New most you accept per period": "11"}, select={"Subscription": basic}) == ""
    assert billing.accountOf(frank).dict()["maxPrice"] == 11 * UNIT
    expect(page.locator("#subscriptions tbody tr").first).to_contain_text(tokens(11))


def test_the_view_follows_the_chain_a_keepers_renewal_shows_without_a_click(browser, portal):
    dep, billing, token = portal["dep"], portal["billing"], portal["token"]
    bob = accounts[4]
    fund_with(billing, token, bob, 30 * UNIT)
    billing.subscribe(dep.plans["basic"], 10 * UNIT, {"from": bob})
    page = open_page(browser, portal["url"], bob.address)
    connect(page)
    row = page.locator("#subscriptions tbody tr").first
    expect(row).to_contain_text(_date(billing.accountOf(bob).dict()["paidThrough"]))

    time_travel(31 * DAY)
    Keeper(Chain(web3, Sender(accounts[2].address)), dep).run_once()
    renewed = billing.accountOf(bob).dict()["paidThrough"]
    expect(row).to_contain_text(_date(renewed), timeout=TIMEOUT)  # no click: the page saw the new block
    expect(page.locator("#balance")).to_have_text(tokens(10))


def test_a_reverted_transaction_is_explained_in_plain_words(browser, portal):
    billing, token = portal["billing"], portal["token"]
    bob = accounts[4]
    mint(token, bob, 20 * UNIT)
    page = open_page(browser, portal["url"], bob.address)
    connect(page)
    assert act(page, "Deposit", {"Amount to deposit": "5"}) == ""

    error = act(page, "Withdraw", {"Amount to withdraw": "1000"})
    assert error == (
        "Your prepaid balance is too low: this needs 1,000.00 tUSD and you have 5.00 tUSD. Deposit more first. "
        "(Billing_InsufficientBalance)"
    )
    expect(page.locator("#balance")).to_have_text(tokens(5))

    error = act(page, "Subscribe", {"Most you accept per period": "9"}, select={"Plan": portal["dep"].plans["basic"]})
    assert error == (
        "Basic costs 10.00 tUSD, more than the most you agreed to pay (9.00 tUSD). Raise your maximum price if "
        "you accept it. (Billing_PriceAboveMax)"
    )
    assert billing.accountOf(bob).dict()["planId"] == 0

    # bad input never reaches the wallet
    nonce = web3.eth.get_transaction_count(bob.address)
    page.get_by_label("Amount to withdraw").fill("12,5x")
    page.get_by_role("button", name="Withdraw", exact=True).click()
    expect(page.locator("#error")).to_have_text("Enter an amount such as 12.50 (digits and one decimal point).")
    page.get_by_label("Amount to withdraw").fill("1.0000001")
    page.get_by_role("button", name="Withdraw", exact=True).click()
    expect(page.locator("#error")).to_have_text("This token has 6 decimals: use at most 6 digits after the point.")
    assert web3.eth.get_transaction_count(bob.address) == nonce


def test_a_statement_is_downloaded_and_its_lines_verified_against_the_chain(browser, portal, tmp_path):
    dep, billing, token = portal["dep"], portal["billing"], portal["token"]
    carol = accounts[5]
    fund_with(billing, token, carol, 30 * UNIT)
    billing.subscribe(dep.plans["basic"], 10 * UNIT, {"from": carol})

    statements, root, count = publish_statements(dep, billing, 7, portal["statements"], tmp_path)
    path = portal["statements"] / f"7-{carol.address.lower()}.json"

    page = open_page(browser, portal["url"], carol.address)
    connect(page)
    expect(page.get_by_label("Statement", exact=True)).to_contain_text("Period 7")
    expect(page.locator("#statement-summary")).to_contain_text(f"opening 0.00 tUSD, closing {tokens(20)}")
    lines = page.locator("#statement-lines tbody tr")
    expect(lines).to_have_count(len(statements[carol.address].lines))

    # every line's proof leads to the committed root, recomputed in the page and confirmed by the contract
    for i in range(len(statements[carol.address].lines)):
        page.get_by_role("button", name=f"Verify line {i}", exact=True).click()
        expect(page.locator(f"#proof-{i}")).to_have_text("verified")
    expect(page.locator("#verify-result")).to_contain_text(
        f"part of the statement root committed on chain for period 7 (root 0x{root.hex()}, {count} lines)"
    )

    # the download is the published file, byte for byte
    with page.expect_download() as download:
        page.get_by_role("button", name="Download statement").click()
    assert Path(download.value.path()).read_bytes() == path.read_bytes()

    # a statement whose subscription line was altered does not verify
    data = json.loads(path.read_text())
    charged = next(i for i, line in enumerate(data["lines"]) if line["amount"] == -10 * UNIT)
    data["lines"][charged]["amount"] = -9 * UNIT
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    page.get_by_label("Or open a statement file").set_input_files(str(tampered))
    page.get_by_role("button", name=f"Verify line {charged}", exact=True).click()
    expect(page.locator(f"#proof-{charged}")).to_have_text("does not match")
    expect(page.locator("#verify-result")).to_contain_text("does NOT match the root committed on chain for period 7")
    assert page.page_errors == []


def test_an_18_decimal_token_is_shown_and_verified_to_the_last_unit(browser, tmp_path):
    """Amounts of an 18-decimal token pass 2**53: the page must never round them through a float."""
    from brownie import TestStablecoin

    token = TestStablecoin.deploy("Test DAI", "tDAI", 18, {"from": accounts[0]})
    dep, billing, _ = deploy(token=token, operators=[accounts[1].address])
    dep.network = "portal-dai"
    folder = tmp_path / "statements"
    folder.mkdir()
    server = PortalServer(dep.save(tmp_path), folder, port=0).start()
    try:
        gina = accounts[9]
        token.mint(gina, 500 * 10**18, {"from": gina})
        page = open_page(browser, server.url, gina.address)
        connect(page)
        assert act(page, "Deposit", {"Amount to deposit": "123.456789012345678"}) == ""
        assert billing.balanceOf(gina) == 123_456_789_012_345_678_000
        expect(page.locator("#balance")).to_have_text("123.456789012345678 tDAI")
        assert act(page, "Subscribe", select={"Plan": dep.plans["basic"]}) == ""
        expect(page.locator("#balance")).to_have_text("113.456789012345678 tDAI")

        statements, _, _ = publish_statements(dep, billing, 3, folder, tmp_path)
        assert any(abs(line.amount) > 2**53 for line in statements[gina.address].lines)
        page.get_by_role("button", name="Refresh").click()
        expect(page.locator("#statement-summary")).to_contain_text("closing 113.456789012345678 tDAI")
        for i in range(len(statements[gina.address].lines)):
            page.get_by_role("button", name=f"Verify line {i}", exact=True).click()
            expect(page.locator(f"#proof-{i}")).to_have_text("verified")
        assert page.page_errors == []
    finally:
        server.stop()


def test_a_token_without_permit_deposits_with_an_approval(browser, tmp_path):
    from brownie import NoReturnToken

    token = NoReturnToken.deploy(6, {"from": accounts[0]})
    dep, billing, _ = deploy(token=token, operators=[accounts[1].address])
    dep.network = "portal-no-permit"
    server = PortalServer(dep.save(tmp_path), port=0).start()
    try:
        dave = accounts[6]
        token.mint(dave, 10 * UNIT, {"from": dave})
        page = open_page(browser, server.url, dave.address)
        connect(page)
        expect(page.locator("#deposit-hint")).to_contain_text("Two transactions")
        nonce = web3.eth.get_transaction_count(dave.address)
        assert act(page, "Deposit", {"Amount to deposit": "2.5"}) == ""
        expect(page.locator("#balance")).to_have_text("2.50 NRUSD")
        assert billing.balanceOf(dave) == 2_500_000
        assert web3.eth.get_transaction_count(dave.address) == nonce + 2
    finally:
        server.stop()


def test_the_page_fits_a_phone_and_every_control_has_a_label(browser, portal):
    erin = accounts[7]
    page = open_page(browser, portal["url"], erin.address, viewport={"width": 375, "height": 740})
    connect(page)
    for section in ("#account", "#actions", "#statements"):
        expect(page.locator(section)).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')]
            .filter((el) => !el.closest('[hidden]'))
            .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label')
                               || el.textContent.trim()))
            .map((el) => el.id || el.outerHTML)"""
    )
    assert unlabeled == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "portal-phone.png"))


def test_the_server_serves_only_the_page_its_config_and_a_customers_own_statements(portal):
    url = portal["url"]
    config = requests.get(url + "config.json", timeout=10).json()
    assert config["deployment"]["billing"] == portal["dep"].billing
    assert any(item.get("name") == "Billing_InsufficientBalance" for item in config["abi"])
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(url + "statements?customer=nobody", timeout=10).status_code == 400
    assert requests.get(url + "statements/../../deployments/development.json", timeout=10).status_code == 404
    assert requests.get(url + "statements/1-0xnotanaddress.json", timeout=10).status_code == 404
    assert requests.get(url + "app.js.map", timeout=10).status_code == 404


def _date(ts):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M UTC")


def _tokens_of(units):
    whole, frac = divmod(int(units), UNIT)
    frac_text = f"{frac:06d}".rstrip("0").ljust(2, "0")
    return f"{whole:,}.{frac_text} tUSD"
