"""Aggregation: billable records -> usage lines, one per (meter, window, customer), and VOD first plays ->
rental reports.

A line's quantity is ceil(total seconds / 60) for minute meters and ceil(total bytes / 10^6) for MB meters:
the charge rounds up. Its records hash is sha256 over the canonical texts of the records behind it, sorted
and joined by newlines (docs/usage-records.md), so anyone holding the records can recompute it.
"""

from __future__ import annotations

import hashlib

import polars as pl

from .fraud import FLAG
from .schema import MAX_U32, RENTAL_PREFIX

UNIT_DIVISORS = {"minute": 60, "second": 1, "hour": 3_600, "MB": 10**6, "GB": 10**9, "byte": 1}
TIME_UNITS = {"minute", "second", "hour"}


def _canonical() -> pl.Expr:
    return pl.concat_str(
        [
            pl.col("session_id"),
            pl.col("customer"),
            pl.col("device_id"),
            pl.col("content_id"),
            pl.col("meter"),
            pl.col("start").cast(pl.String),
            pl.col("end").cast(pl.String),
            pl.col("bytes").cast(pl.String),
        ],
        separator="|",
    )


def usage_lines(flagged: pl.DataFrame, meter_units: dict[str, str], window: int) -> pl.DataFrame:
    """Lines of the clean records of metered content: meter, window_start, customer_id, quantity,
    records_hash (32 bytes), records (count). `meter_units` maps meter key to its unit."""
    schema = {
        "meter": pl.String,
        "window_start": pl.Int64,
        "customer_id": pl.Int64,
        "quantity": pl.Int64,
        "records_hash": pl.Binary,
        "records": pl.UInt32,
    }
    keys = ["meter", "window_start", "customer_id"]
    metered = flagged.filter(pl.col(FLAG).is_null() & pl.col("meter").is_in(list(meter_units)))
    if metered.is_empty():
        return pl.DataFrame(schema=schema)
    metered = metered.with_columns(((pl.col("start") // window) * window).alias("window_start"))
    units = pl.DataFrame({"meter": list(meter_units), "_unit": list(meter_units.values())})
    grouped = (
        metered.group_by(keys)
        .agg(
            (pl.col("end") - pl.col("start")).sum().alias("_seconds"),
            pl.col("bytes").sum().alias("_bytes"),
            pl.len().alias("records"),
        )
        .sort(keys)
        .join(units, on="meter", maintain_order="left")
    )
    divisor = pl.col("_unit").replace_strict(UNIT_DIVISORS, return_dtype=pl.Int64)
    amount = pl.when(pl.col("_unit").is_in(list(TIME_UNITS))).then(pl.col("_seconds")).otherwise(pl.col("_bytes"))
    grouped = grouped.with_columns(((amount + divisor - 1) // divisor).clip(upper_bound=MAX_U32).alias("quantity"))
    # Records hashes: the canonical texts sorted within each line, hashed in one pass over the sorted table.
    texts = metered.select(*keys, _canonical().alias("_text")).sort([*keys, "_text"])["_text"].to_list()
    hashes, at = [], 0
    for count in grouped["records"].to_list():
        hashes.append(hashlib.sha256("\n".join(texts[at : at + count]).encode()).digest())
        at += count
    lines = grouped.with_columns(pl.Series("records_hash", hashes, dtype=pl.Binary))
    return lines.filter(pl.col("quantity") > 0).select(list(schema))


def rental_reports(flagged: pl.DataFrame, titles: set[str]) -> pl.DataFrame:
    """First play per (customer, title) among clean records of `rental:<title>`: title, customer_id,
    first_play_at."""
    rentals = flagged.filter(pl.col(FLAG).is_null() & pl.col("meter").str.starts_with(RENTAL_PREFIX)).with_columns(
        pl.col("meter").str.strip_prefix(RENTAL_PREFIX).alias("title")
    )
    rentals = rentals.filter(pl.col("title").is_in(list(titles)))
    return (
        rentals.group_by("title", "customer_id")
        .agg(pl.col("start").min().alias("first_play_at"))
        .sort("first_play_at", "customer_id")
    )
