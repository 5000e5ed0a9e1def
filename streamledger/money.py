"""Token amounts: exact conversion between whole-token decimal strings and integer token units."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


class AmountError(ValueError):
    """An amount is not a non-negative number with at most the token's decimals."""


def to_units(amount: str | int | Decimal, decimals: int) -> int:
    """'10.5' with 6 decimals -> 10_500_000. Refuses anything that does not convert exactly."""
    if isinstance(amount, float):
        raise AmountError(f"{amount!r}: write amounts as strings or integers, never floats")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise AmountError(f"{amount!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise AmountError(f"{amount!r} is not a non-negative amount")
    units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise AmountError(f"{amount!r} has more than {decimals} decimals")
    return int(units)


def fmt_units(units: int, decimals: int, symbol: str = "") -> str:
    """10_500_000 with 6 decimals -> '10.50' (at least two decimals, never rounded)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    frac_s = str(frac).rjust(decimals, "0").rstrip("0") if decimals else ""
    frac_s = frac_s.ljust(min(2, decimals), "0")
    text = f"{sign}{whole:,}" + (f".{frac_s}" if frac_s else "")
    return f"{text} {symbol}".rstrip()
