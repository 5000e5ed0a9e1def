"""Shared fixtures. Every test starts from the same chain state (fn_isolation); deployments are module-scoped.

Role accounts (the development accounts of the anvil that brownie launches):
  admin 0 (deployer: admin, pauser, operator), operator 1, keeper 2, alice 3, bob 4, carol 5, rando 6,
  the development catalogue's provider payouts: platform 7, newsnet 8, sportsco 9, and arbiter 10.
  The usage oracle is a 2-of-3 set of development keys (`oracle_keys`), not brownie accounts.

The development catalogue (catalogue/development.yaml) gives: plan 1 "basic" (10 tokens / 30 days, 3 days
grace, package 1, split basic = platform 30% / newsnet 70%), plan 2 "premium" (18 tokens, 7-day trial,
packages 1 and 2), plan 3 "sports" add-on (6.5 tokens, package 3, split sports = platform 20% / sportsco 80%);
meter 1 "premium_minutes" (0.01 token per minute), meter 2 "gb_delivered" (0.25 token per 1000 MB); PPV event 1
"title_fight" (15 tokens, package 101, starts 240 h after deployment, 4 h long); VOD title 1 "the_long_night"
(3.99 tokens, package 201, 48 h rental); dispute window 3 days; cap period 30 days.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from brownie import Contract, accounts, chain, web3
from brownie.exceptions import VirtualMachineError

from streamledger import artifacts
from streamledger.brownie_support import DEFAULT_CATALOGUE
from streamledger.catalogue import load_catalogue
from streamledger.chain import Chain, Sender
from streamledger.deployment import deploy_system
from streamledger.oracle import UsageBatchData, UsageLine, dev_oracle_key, sign_batch

DAY = 86_400


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    pass


# ----- roles -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def admin():
    return accounts[0]


@pytest.fixture(scope="session")
def operator():
    return accounts[1]


@pytest.fixture(scope="session")
def keeper():
    return accounts[2]


@pytest.fixture(scope="session")
def alice():
    return accounts[3]


@pytest.fixture(scope="session")
def bob():
    return accounts[4]


@pytest.fixture(scope="session")
def carol():
    return accounts[5]


@pytest.fixture(scope="session")
def rando():
    return accounts[6]


@pytest.fixture(scope="session")
def payouts():
    return {"platform": accounts[7], "newsnet": accounts[8], "sportsco": accounts[9]}


@pytest.fixture(scope="session")
def arbiter():
    return accounts[10]


@pytest.fixture(scope="session")
def oracle_keys():
    """The development oracle keys; the catalogue makes them a 2-of-3 signer set."""
    return [dev_oracle_key(i) for i in range(3)]


# ----- deployments -------------------------------------------------------------------------------------


def deploy(catalogue=None, token=None, operators=()):
    """Deploys through the product's own deployment code. `token` is a deployed brownie token contract, or
    None for a fresh TestStablecoin. Returns (deployment, billing, token) as brownie Contract objects;
    `billing` carries the merged ABI of the contract and its modules."""
    catalogue = catalogue or load_catalogue(DEFAULT_CATALOGUE)
    ch = Chain(web3, Sender(accounts[0].address))
    dep = deploy_system(
        ch,
        catalogue,
        "development",
        token=token.address if token is not None else None,
        dev_accounts=[a.address for a in accounts],
        operators=tuple(operators),
    )
    billing = Contract.from_abi("IptvBilling", dep.billing, artifacts.billing_abi())
    if token is None:
        token = Contract.from_abi("TestStablecoin", dep.token, artifacts.abi("TestStablecoin"))
    return dep, billing, token


@pytest.fixture(scope="module")
def system(operator):
    return deploy(operators=[operator.address])


# Money tests run against every token kind the product supports: 6 decimals (USDC-like, the default),
# 18 decimals (DAI-like) and a token whose transfer functions return nothing (USDT-like).
TOKEN_KINDS = ("usdc6", "dai18", "noreturn6")


@pytest.fixture(scope="module", params=TOKEN_KINDS)
def any_system(request, operator):
    from brownie import NoReturnToken, TestStablecoin

    kind = request.param
    if kind == "usdc6":
        return deploy(operators=[operator.address])
    if kind == "dai18":
        token = TestStablecoin.deploy("Test DAI", "tDAI", 18, {"from": accounts[0]})
    else:
        token = NoReturnToken.deploy(6, {"from": accounts[0]})
    return deploy(token=token, operators=[operator.address])


@pytest.fixture(scope="module")
def deployment(system):
    return system[0]


@pytest.fixture(scope="module")
def billing(system):
    return system[1]


@pytest.fixture(scope="module")
def token(system):
    return system[2]


@pytest.fixture(scope="module")
def unit(deployment):
    """One whole token, in token units."""
    return 10**deployment.token_decimals


@pytest.fixture(scope="module")
def plans(deployment):
    return deployment.plans


# ----- factories ---------------------------------------------------------------------------------------


def fund_with(billing, token, customer, amount):
    token.mint(customer, amount, {"from": customer})
    token.approve(billing, amount, {"from": customer})
    billing.deposit(amount, {"from": customer})


@pytest.fixture
def fund(billing, token):
    """fund(customer, amount): mints to the customer and deposits into their billing balance."""
    return lambda customer, amount: fund_with(billing, token, customer, amount)


@pytest.fixture
def subscribed(billing, fund, unit, plans):
    """subscribed(customer, plan="basic", deposit=100 tokens): funds and subscribes, maxPrice = price."""

    def _subscribed(customer, plan="basic", deposit=None):
        plan_id = plans[plan]
        price = billing.planOf(plan_id)[0]
        fund(customer, deposit if deposit is not None else 100 * unit)
        return billing.subscribe(plan_id, price, {"from": customer})

    return _subscribed


@pytest.fixture
def make_plan(billing, operator, unit):
    """make_plan(price=..., period_days=30, ...): adds a plan as the operator and returns its id."""

    def _make_plan(
        price=None,
        period_days=30,
        trial_days=0,
        grace_days=3,
        max_streams=2,
        split=1,
        add_on=False,
        packages=(1,),
        name="Test plan",
    ):
        params = (
            name,
            price if price is not None else 10 * unit,
            period_days * DAY,
            trial_days * DAY,
            grace_days * DAY,
            max_streams,
            split,
            add_on,
            list(packages),
        )
        tx = billing.addPlan(params, {"from": operator})
        return tx.events["PlanAdded"]["planId"]

    return _make_plan


@pytest.fixture
def registered(billing, fund):
    """registered(customer, deposit): deposits and registers; returns the customer id."""

    def _registered(customer, deposit=0):
        if deposit:
            fund(customer, deposit)
        billing.register(customer, {"from": customer})
        return billing.customerIdOf(customer)

    return _registered


_batch_ids = iter(range(1, 10**9))


@pytest.fixture
def usage_batch(billing, deployment):
    """usage_batch([(customer_id, quantity), ...], meter="premium_minutes", ...) -> UsageBatchData."""

    def _usage_batch(lines, meter="premium_minutes", batch_id=None, deadline=None, window=None, records=None):
        start, end = window or (now() - 3600, now())
        return UsageBatchData(
            batch_id=batch_id if batch_id is not None else next(_batch_ids),
            deadline=deadline if deadline is not None else now() + 3600,
            meter_id=deployment.meters[meter] if isinstance(meter, str) else meter,
            window_start=start,
            window_end=end,
            lines=[
                UsageLine(cid, qty, (records or {}).get(i, web3.keccak(text=f"records {cid} {i}")))
                for i, (cid, qty) in enumerate(lines)
            ],
        )

    return _usage_batch


@pytest.fixture
def settle(billing, oracle_keys, usage_batch, operator):
    """settle(lines, keys=2 oracle keys, sender=operator, **batch options): signs and submits a usage batch;
    returns (tx, batch). Anyone may submit a signed batch; the signatures are what count."""

    def _settle(lines, keys=None, sender=None, **options):
        batch = usage_batch(lines, **options)
        signatures = sign_batch(batch, web3.eth.chain_id, billing.address, keys or oracle_keys[:2])
        tx = billing.settleUsage(batch.header(), batch.packed_lines(), signatures, {"from": sender or operator})
        return tx, batch

    return _settle


# ----- helpers -----------------------------------------------------------------------------------------


def ids(*customer_ids: int) -> bytes:
    """Packs customer ids for renew(): 4 bytes, big-endian, each."""
    return b"".join(int(i).to_bytes(4, "big") for i in customer_ids)


def time_travel(seconds: int) -> None:
    chain.sleep(int(seconds))
    chain.mine()


def now() -> int:
    return chain[-1].timestamp


def _fmt(value) -> str:
    if hasattr(value, "address"):
        value = value.address
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return str(value)


@contextmanager
def reverts(error: str, *args):
    """Asserts the block reverts with custom error `error` (and, if given, exactly these arguments)."""
    with pytest.raises(VirtualMachineError) as exc:
        yield exc
    name, _, rest = exc.value.revert_msg.partition(": ")
    assert name == error, f"expected {error}, got {exc.value.revert_msg}"
    if args:
        assert rest == ", ".join(_fmt(a) for a in args), f"arguments: {exc.value.revert_msg}"
