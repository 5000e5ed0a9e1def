"""Fraud checks: records that are well formed but must not be billed. Each gets a FLAG (the first rule it
breaks, in the order below); flagged records are reported, never charged.

1. replayed log file          the same file content was processed before
2. end before start
3. timestamp in the future    beyond the allowed clock skew (a clock-skewed device)
4. duplicate session id       within this run (first occurrence kept) or seen in an earlier run
5. unknown customer           the address has no customer id on-chain
6. over 24 h per device-day   a device cannot watch more than a day's worth in a day
7. concurrent streams         the stream that takes a customer over their plan's limit
Rules 6 and 7 look only at records that passed 1-5, so duplicates do not inflate them.
"""

from __future__ import annotations

import polars as pl

FLAG = "flag"
DAY = 86_400

REPLAYED = "replayed log file"
END_BEFORE_START = "end before start"
FUTURE = "timestamp in the future"
DUPLICATE = "duplicate session id"
DUPLICATE_EARLIER = "duplicate session id (earlier run)"
UNKNOWN_CUSTOMER = "unknown customer"
OVER_DAY = "over 24 h per device-day"
CONCURRENT = "concurrent streams over the plan limit"


def flag_fraud(
    valid: pl.DataFrame,
    *,
    now: int,
    directory: pl.DataFrame,
    seen_sessions: pl.Series | None = None,
    replayed: bool = False,
    skew: int = 300,
    default_streams: int = 1,
) -> pl.DataFrame:
    """`valid` plus FLAG (null when clean), customer_id and streams, in `valid`'s row order. `directory` maps
    customer (lower-case address) to customer_id (0 = unknown) and streams (0 = no entitled plan:
    `default_streams` apply)."""
    df = (
        valid.with_row_index("_row")
        .join(directory, on="customer", how="left", maintain_order="left")
        .with_columns(pl.col("customer_id").fill_null(0), pl.col("streams").fill_null(0))
    )
    earlier = pl.lit(False)
    if seen_sessions is not None and len(seen_sessions):
        earlier = pl.col("session_id").is_in(seen_sessions.implode())
    flag = (
        pl.when(pl.lit(replayed))
        .then(pl.lit(REPLAYED))
        .when(pl.col("end") < pl.col("start"))
        .then(pl.lit(END_BEFORE_START))
        .when((pl.col("start") > now + skew) | (pl.col("end") > now + skew))
        .then(pl.lit(FUTURE))
        .when(~pl.col("session_id").is_first_distinct())
        .then(pl.lit(DUPLICATE))
        .when(earlier)
        .then(pl.lit(DUPLICATE_EARLIER))
        .when(pl.col("customer_id") == 0)
        .then(pl.lit(UNKNOWN_CUSTOMER))
        .otherwise(None)
    )
    df = df.with_columns(flag.alias(FLAG))
    rule_columns = ("_row", "customer_id", "device_id", "start", "end", "streams")
    clean = df.lazy().filter(pl.col(FLAG).is_null()).select(rule_columns).collect()
    over_day = _over_a_day(clean)
    still_clean = clean.filter(~_mask(df.height, over_day).gather(clean["_row"]))
    concurrent = _over_stream_limit(still_clean, default_streams)
    # rules 6 and 7 only ever flag clean rows, and never the same row
    flags = df[FLAG].scatter(over_day, OVER_DAY).scatter(concurrent, CONCURRENT)
    return df.with_columns(flags).drop("_row")


def _mask(height: int, rows: pl.Series) -> pl.Series:
    """A boolean column, True at `rows`."""
    return pl.Series([], dtype=pl.Boolean).extend_constant(False, height).scatter(rows, True)


def _over_a_day(clean: pl.DataFrame) -> pl.Series:
    """Rows of device-days (by session start, UTC) whose sessions add up to more than 24 hours."""
    seconds = pl.col("end") - pl.col("start")
    day = pl.col("customer_id") * 2**24 + pl.col("start") // DAY  # ids < 2**32, days < 2**24 (validation)
    # a device-day can only go over if its customer-day does: the string key is grouped for those rows only
    busy = clean.filter(seconds.sum().over(day) > DAY)
    return busy.filter(seconds.sum().over(day, "device_id") > DAY)["_row"]


def _over_stream_limit(clean: pl.DataFrame, default_streams: int) -> pl.Series:
    """Rows whose start takes the customer's concurrent streams above their limit.

    Starts and ends are each sorted by one integer key: customer id (or its rank) above 41 bits of time
    offset and a last bit that puts an end before a start at the same second (back-to-back sessions do not
    overlap); equal starts keep line order. The streams live at a start are the starts up to it minus the
    ends before it: every earlier customer's starts and ends cancel out, leaving this customer's."""
    if clean.is_empty():
        return pl.Series("_row", [], dtype=pl.UInt32)
    t0 = min(clean["start"].min(), clean["end"].min())  # timestamps are < 2**40 (validation): offsets too
    customer = pl.col("customer_id")
    if clean["customer_id"].max() >= 2**22:
        customer = customer.rank("dense").cast(pl.Int64)
    high = customer * 2**41
    limit = pl.when(pl.col("streams") > 0).then(pl.col("streams")).otherwise(default_streams)
    starts = clean.select((high + (pl.col("start") - t0) * 2 + 1).alias("_key"), "_row", limit.alias("_limit"))
    starts = starts.sort("_key", maintain_order=True)
    ends = clean.select((high + (pl.col("end") - t0) * 2).alias("_key")).sort("_key")["_key"]
    live = pl.int_range(1, starts.height + 1, eager=True) - ends.search_sorted(starts["_key"]).cast(pl.Int64)
    return starts.filter(live > starts["_limit"])["_row"]
