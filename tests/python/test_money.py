"""Exact token amounts: decimal strings to integer units and back, never through floats."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamledger.money import AmountError, fmt_units, to_units


def test_whole_and_fractional_amounts_convert_exactly():
    assert to_units("10", 6) == 10_000_000
    assert to_units("6.5", 6) == 6_500_000
    assert to_units("0.000001", 6) == 1
    assert to_units("10", 18) == 10 * 10**18


@pytest.mark.parametrize("bad", ["1.0000001", "-1", "abc", "NaN", "Infinity"])
def test_amounts_that_do_not_convert_exactly_are_refused(bad):
    with pytest.raises(AmountError):
        to_units(bad, 6)


def test_floats_are_refused_even_when_they_look_exact():
    with pytest.raises(AmountError, match="never floats"):
        to_units(0.5, 6)


def test_formatting_keeps_every_unit():
    assert fmt_units(10_500_000, 6, "tUSD") == "10.50 tUSD"
    assert fmt_units(1, 6) == "0.000001"
    assert fmt_units(1_234_567_890_000, 6) == "1,234,567.89"
    assert fmt_units(-5_000_000, 6) == "-5.00"


@given(st.integers(min_value=0, max_value=10**30), st.sampled_from([0, 2, 6, 18]))
def test_units_survive_a_round_trip_through_text(units, decimals):
    text = fmt_units(units, decimals).replace(",", "")
    assert to_units(text, decimals) == units
