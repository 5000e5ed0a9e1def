"""The canonical session record: what the feeder reads and what every platform adapter produces."""

from __future__ import annotations

REQUIRED = ("session_id", "customer", "device_id", "content_id", "start", "end")
# An empty or absent meter means content included in the plan (never billed); absent bytes mean 0.
OPTIONAL = ("meter", "bytes")
COLUMNS = REQUIRED + OPTIONAL
LINE = "line"  # 1-based physical line (CSV and JSONL)

# `meter` values that bill nothing: the content is included in the customer's plan. Such records still count
# for the fraud checks (concurrent streams, viewing time per device).
INCLUDED_METERS = frozenset({"", "none", "included"})
RENTAL_PREFIX = "rental:"  # "rental:<title key>": a play of a VOD title (its first play starts the rental)

MAX_FIELD = 256
MAX_TIMESTAMP = 2**40 - 1
MAX_BYTES = 10**15  # one petabyte per session: anything above is a corrupt counter
MAX_U32 = 2**32 - 1


def canonical(
    session_id: str, customer: str, device: str, content: str, meter: str, start: int, end: int, nbytes: int
) -> str:
    """The text a record contributes to its line's records hash (docs/usage-records.md)."""
    return f"{session_id}|{customer}|{device}|{content}|{meter}|{start}|{end}|{nbytes}"
