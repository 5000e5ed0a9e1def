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
    """`valid` plus FLAG (null when clean), customer_id and streams. `directory` maps customer (lower-case
    address) to customer_id (0 = unknown) and streams (0 = no entitled plan: `default_streams` apply)."""
    df = (
        valid.with_row_index("_row")
        .join(directory, on="customer", how="left")
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
    clean = df.filter(pl.col(FLAG).is_null())
    over_day = _over_a_day(clean)
    concurrent = _over_stream_limit(clean.filter(~pl.col("_row").is_in(over_day.implode())), default_streams)
    return df.with_columns(
        pl.when(pl.col(FLAG).is_not_null())
        .then(pl.col(FLAG))
        .when(pl.col("_row").is_in(over_day.implode()))
        .then(pl.lit(OVER_DAY))
        .when(pl.col("_row").is_in(concurrent.implode()))
        .then(pl.lit(CONCURRENT))
        .otherwise(None)
        .alias(FLAG)
    ).drop("_row")


def _over_a_day(clean: pl.DataFrame) -> pl.Series:
    """Rows of device-days (by session start, UTC) whose sessions add up to more than 24 hours."""
    keyed = clean.with_columns((pl.col("start") // DAY).alias("_day"))
    bad = (
        keyed.group_by("customer", "device_id", "_day")
        .agg((pl.col("end") - pl.col("start")).sum().alias("_seconds"))
        .filter(pl.col("_seconds") > DAY)
    )
    return keyed.join(bad, on=["customer", "device_id", "_day"], how="semi")["_row"]


def _over_stream_limit(clean: pl.DataFrame, default_streams: int) -> pl.Series:
    """Rows whose start takes the customer's concurrent streams above their limit. A sweep over start (+1)
    and end (-1) events per customer; at equal times ends come first (back-to-back sessions do not overlap)."""
    if clean.is_empty():
        return pl.Series("_row", [], dtype=pl.UInt32)
    limit = pl.when(pl.col("streams") > 0).then(pl.col("streams")).otherwise(default_streams)
    starts = clean.select("customer", pl.col("start").alias("_t"), pl.lit(1).alias("_d"), "_row", limit.alias("_limit"))
    ends = clean.select("customer", pl.col("end").alias("_t"), pl.lit(-1).alias("_d"), "_row", limit.alias("_limit"))
    events = pl.concat([starts, ends]).sort("customer", "_t", "_d")
    events = events.with_columns(pl.col("_d").cum_sum().over("customer").alias("_live"))
    return events.filter((pl.col("_d") == 1) & (pl.col("_live") > pl.col("_limit")))["_row"]
