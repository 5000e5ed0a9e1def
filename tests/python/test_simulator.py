"""The platform simulator: deterministic, realistic in shape, and its injected fraud is what the feeder finds."""

from collections import Counter

import polars as pl
import pytest

from streamledger.oracle import dev_oracle_key
from streamledger.simulator import HOURLY, make_population, simulate, write_days
from streamledger.usage.feeder import CustomerDirectory, Feeder, OracleSigner
from streamledger.usage.journal import Journal
from tests.python.test_feeder_rules import NOW

START = (NOW // 86_400 - 14) * 86_400  # a Monday or not, fourteen days before "now"


def sessions(n=60, days=7, seed=3, **kw):
    population = make_population(n, seed=1)
    table, truth = simulate(population, START, days, seed=seed, now=NOW, **kw)
    return population, table, truth


def test_the_same_seed_gives_the_same_logs():
    _, a, _ = sessions()
    _, b, _ = sessions()
    _, c, _ = sessions(seed=4)
    assert a.equals(b)
    assert not a.equals(c)


def test_viewing_peaks_in_the_evening():
    _, table, _ = sessions(n=300, fraud=0, malformed=0, skewed_devices=0)
    hours = Counter((int(s) % 86_400) // 3600 for s in table["start"].to_list())
    evening = sum(hours[h] for h in range(19, 23))
    night = sum(hours[h] for h in range(1, 5))
    assert evening > 8 * night
    assert HOURLY.argmax() in range(19, 23)


def test_weekends_see_more_viewing():
    _, table, _ = sessions(n=300, days=14, fraud=0, malformed=0, skewed_devices=0)
    weekday = ((pl.col("start").cast(pl.Int64) // 86_400) + 3) % 7
    per_day = table.with_columns(weekday.alias("wd")).group_by("wd").len()
    counts = dict(per_day.iter_rows())
    assert (counts[5] + counts[6]) / 2 > 1.3 * sum(counts[d] for d in range(5)) / 5


def test_customers_have_one_to_four_devices_and_a_device_plays_one_session_at_a_time():
    population, table, _ = sessions(fraud=0, malformed=0, skewed_devices=0)
    assert {c.devices for c in population.customers} <= {1, 2, 3, 4}
    ordered = table.with_columns(pl.col("start").cast(pl.Int64), pl.col("end").cast(pl.Int64)).sort(
        "device_id", "start"
    )
    gaps = ordered.with_columns(pl.col("start").shift(-1).over("device_id").alias("next")).drop_nulls("next")
    assert (gaps["end"] < gaps["next"]).all()


@pytest.fixture
def feeder(offline_deployment, tmp_path):
    population = make_population(80, seed=1)
    streams = {"basic": 2, "premium": 4}
    table = {c.address.lower(): (i + 1, streams[c.plan]) for i, c in enumerate(population.customers)}
    return Feeder(
        offline_deployment,
        Journal(tmp_path / "j.sqlite"),
        tmp_path / "out",
        OracleSigner(tuple(dev_oracle_key(i) for i in range(2)), 2),
        CustomerDirectory(table=table),
        offline_deployment.meter_units,
        clock=lambda: NOW,
    )


def test_injected_fraud_and_malformed_lines_are_what_the_feeder_reports(feeder, tmp_path):
    population = make_population(80, seed=1)
    table, truth = simulate(population, START, 3, seed=9, now=NOW, fraud=0.01, malformed=0.01)
    paths = write_days(table, tmp_path / "logs", START, 3, truth)
    flags, quarantined, first = Counter(), 0, None
    for path in paths[:-1]:
        report = feeder.process_file(path)
        first = first or report
        flags.update(report.flags)
        quarantined += report.quarantined
    resent = feeder.process_file(paths[-1])
    assert quarantined == truth.malformed
    assert flags["timestamp in the future"] > 0
    assert flags["concurrent streams over the plan limit"] >= truth.overlaps // 2  # some overlaps hit malformed rows
    assert flags["duplicate session id"] >= truth.duplicates // 2
    # the resent copy of the first day: nothing billed, every record replayed or (as before) quarantined
    assert resent.flags == {"replayed log file": first.accepted} and resent.quarantined == first.quarantined


def test_a_million_records_are_within_reach():
    population = make_population(2_000, seed=5)
    table, truth = simulate(population, START, 30, seed=5, now=NOW)
    assert table.height > 100_000  # 2,000 customers, a month: a sixth of the benchmark's million
    assert truth.records == table.height
