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


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def usage_lines(flagged: pl.DataFrame, meter_units: dict[str, str], window: int) -> pl.DataFrame:
    """Lines of the clean records of metered content: meter, window_start, customer_id, quantity,
    records_hash (32 bytes), records (count). `meter_units` maps meter key to its unit."""
    metered = flagged.filter(pl.col(FLAG).is_null() & pl.col("meter").is_in(list(meter_units)))
    if metered.is_empty():
        return pl.DataFrame(
            schema={
                "meter": pl.String,
                "window_start": pl.Int64,
                "customer_id": pl.Int64,
                "quantity": pl.Int64,
                "records_hash": pl.Binary,
                "records": pl.UInt32,
            }
        )
    units = pl.DataFrame({"meter": list(meter_units), "_unit": list(meter_units.values())})
    grouped = (
        metered.with_columns(((pl.col("start") // window) * window).alias("window_start"), _canonical().alias("_text"))
        .group_by("meter", "window_start", "customer_id")
        .agg(
            (pl.col("end") - pl.col("start")).sum().alias("_seconds"),
            pl.col("bytes").sum().alias("_bytes"),
            pl.col("_text").sort().str.join("\n").alias("_records"),
            pl.len().alias("records"),
        )
        .join(units, on="meter")
    )
    divisor = pl.col("_unit").replace_strict(UNIT_DIVISORS, return_dtype=pl.Int64)
    amount = pl.when(pl.col("_unit").is_in(list(TIME_UNITS))).then(pl.col("_seconds")).otherwise(pl.col("_bytes"))
    lines = grouped.with_columns(((amount + divisor - 1) // divisor).alias("quantity")).filter(pl.col("quantity") > 0)
    lines = lines.with_columns(
        pl.col("_records").map_elements(_sha256, return_dtype=pl.Binary).alias("records_hash"),
        pl.col("quantity").clip(upper_bound=MAX_U32),
    )
    return lines.select("meter", "window_start", "customer_id", "quantity", "records_hash", "records").sort(
        "meter", "window_start", "customer_id"
    )


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
