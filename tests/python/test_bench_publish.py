"""`make bench` rewrites only the marked sections of the README and docs/scaling.md from the results."""

import json

import pytest

from streamledger.bench import publish, scaling


def test_only_the_marked_section_is_replaced_and_rewriting_is_stable(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- bench:figures -->\nold table\n<!-- /bench:figures -->\nafter\n")
    publish._replace(doc, "figures", "new table")
    once = doc.read_text()
    assert once == "before\n<!-- bench:figures -->\nnew table\n<!-- /bench:figures -->\nafter\n"
    publish._replace(doc, "figures", "new table")
    assert doc.read_text() == once


def test_a_document_without_markers_is_an_error_not_a_silent_skip(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="markers"):
        publish._replace(doc, "figures", "table")


def test_scaling_arithmetic_follows_the_measured_results(tmp_path, monkeypatch):
    gas = {
        "results": {
            "renewal per subscriber, batch 500": 5_000,
            "usage per line, batch 100": 6_000,
            "statement-root commit": 80_000,
            "provider withdraw": 60_000,
            "returning deposit": 50_000,
        }
    }
    feeder = {
        "simulated": {"customers": 10, "days": 1},
        "feeder": {"lines": 20, "records": 100, "seconds": 1.0, "peak_rss_mb": 100.0},
    }
    recon = {
        "customers": 100,
        "reconcile": {"seconds": 2.0, "peak_rss_mb": 50.0, "events": 10, "charges": 20},
    }
    for name, data in (("gas", gas), ("feeder", feeder), ("reconcile", recon)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    monkeypatch.setattr(scaling, "RESULTS", tmp_path)
    text = scaling.tables(scaling.Assumptions(subscribers=1_000, gwei=1.0, eth_usd=1_000.0))
    # 1,000 renewals x 5,000 gas; 2 lines a customer a day x 30 days x 1,000 customers x 6,000 gas
    assert "| renewals (batch 500) | 1,000 | 5,000 | 0.01 G |" in text
    assert "| usage lines (per line at batch 100; 400 is cheaper) | 60,000 | 6,000 | 0.36 G |" in text
    operator = 1_000 * 5_000 + 60_000 * 6_000 + 80_000
    assert f"Operator gas per subscriber and month: {operator // 1_000:,}" in text
