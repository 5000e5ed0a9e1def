"""The main job, small: every step runs, the books reconcile and a statement verifies against the chain."""

from brownie import accounts, web3

from streamledger.brownie_support import DEFAULT_CATALOGUE
from streamledger.chain import Chain, Sender
from streamledger.demo import run


def test_the_demo_reconciles_with_zero_discrepancies(tmp_path):
    result = run(
        Chain(web3, Sender(accounts[0].address)),
        DEFAULT_CATALOGUE,
        "development",
        [a.address for a in accounts],
        out=tmp_path / "demo",
        customers=12,
    )
    assert result.discrepancies == 0
    assert result.statement_ok
    assert result.renewed > 0 and result.records > 0
    assert result.fraud["replayed log file"] > 0 and result.fraud["duplicate session id"] > 0
    assert (tmp_path / "demo" / "reconcile" / "discrepancies.csv").read_text().count("\n") == 1  # header only
    assert any(p.suffix == ".html" for p in (tmp_path / "demo" / "statements").iterdir())
