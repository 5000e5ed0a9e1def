"""Validation: every raw row is either typed and kept, or quarantined with its line and the first reason
it fails. Vectorized (polars); only ISO-8601 timestamps take a per-row Python path.

Two passes, for speed: a screen of cheap checks that a well-formed row passes (one regex per text field,
integer parses, an exact meter key), then the full rule list - which names the first reason - only over
the rows the screen did not pass. The screen is stricter than the rules (a padded meter key, say, fails it
and is then accepted by the rules), so the result is the same as running every rule over every row."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from .reader import PARSE_ERROR
from .schema import (
    COLUMNS,
    INCLUDED_METERS,
    LINE,
    MAX_BYTES,
    MAX_FIELD,
    MAX_TIMESTAMP,
    RENTAL_PREFIX,
    REQUIRED,
)

REASON = "reason"
TEXT_FIELDS = ("session_id", "device_id", "content_id", "meter")
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
CONTROL = r"[\x00-\x1f\x7f]"
# a text field that needs no further look: a first character that is not blank, no control characters,
# no U+FFFD (invalid UTF-8)
CLEAN_TEXT = r"^[^\s\x00-\x1f\x7f\ufffd][^\x00-\x1f\x7f\ufffd]*$"


def _iso_seconds(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a naive timestamp in a platform log is UTC
    return int(moment.timestamp())


def _with_seconds(df: pl.DataFrame, column: str, alias: str) -> pl.DataFrame:
    """`alias` = integer seconds of `column`, or ISO 8601 (naive = UTC); null when neither. Only the rows
    that are not integers go through Python's ISO parser."""
    df = df.with_columns(pl.col(column).str.to_integer(strict=False).alias(alias))
    missing = df[alias].is_null().arg_true()
    if len(missing):
        texts = df[column].gather(missing)
        iso = missing.filter(texts.str.contains(r"^\d{4}-\d{2}-\d{2}[T ]").fill_null(False))
        parsed = [_iso_seconds(text) for text in df[column].gather(iso).to_list()]
        df = df.with_columns(df[alias].scatter(iso, pl.Series(parsed, dtype=pl.Int64)))
    return df


def billable_meters(meters: set[str], titles: set[str]) -> set[str]:
    return set(meters) | {RENTAL_PREFIX + t for t in titles}


def validate(raw: pl.DataFrame, meters: set[str], titles: set[str] = frozenset()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid, quarantined). `valid` has typed start/end/bytes (Int64) and a lower-case customer;
    `quarantined` has LINE and REASON. Known meter keys are `meters`, VOD titles `titles` ("rental:<key>")."""
    known = sorted(billable_meters(meters, titles) | INCLUDED_METERS)
    df = raw.with_columns(pl.col("bytes").fill_null("0").str.to_integer(strict=False).alias("_bytes"))
    df = _with_seconds(_with_seconds(df, "start", "_start"), "end", "_end")
    df = df.with_columns(_screen(known).alias("_ok"))
    suspect = (~df["_ok"]).arg_true()
    reasons = pl.Series(REASON, [], dtype=pl.String).extend_constant(None, df.height)
    if len(suspect):
        reasons = reasons.scatter(suspect, df[suspect].select(_reason(known))[REASON])
    df = df.with_columns(reasons)
    quarantined = df.filter(pl.col(REASON).is_not_null()).select(LINE, REASON)
    meter = pl.col("meter").fill_null("")
    valid = (
        df.lazy()
        .filter(pl.col(REASON).is_null())
        .select(
            pl.col("session_id"),
            pl.col("customer").str.to_lowercase(),
            pl.col("device_id"),
            pl.col("content_id"),
            pl.when(pl.col("_ok")).then(meter).otherwise(meter.str.strip_chars().str.to_lowercase()).alias("meter"),
            pl.col("_start").alias("start"),
            pl.col("_end").alias("end"),
            pl.col("_bytes").alias("bytes"),
            pl.col(LINE),
        )
    )
    return valid.collect(), quarantined


def _screen(known: list[str]) -> pl.Expr:
    """True for rows that certainly break no rule (False says only: look closer)."""
    text = [
        pl.col(c).str.contains(CLEAN_TEXT).fill_null(False) & (pl.col(c).str.len_bytes() <= MAX_FIELD)
        for c in ("session_id", "device_id", "content_id")
    ]
    start, end = pl.col("_start"), pl.col("_end")
    return pl.all_horizontal(
        pl.col(PARSE_ERROR).is_null(),
        *text,
        pl.col("customer").str.contains(ADDRESS).fill_null(False),
        (start > 0) & (start <= MAX_TIMESTAMP) & (end > 0) & (end <= MAX_TIMESTAMP) & (start != end),
        (pl.col("_bytes") >= 0) & (pl.col("_bytes") <= MAX_BYTES),
        pl.col("meter").is_null() | pl.col("meter").is_in(known),
    ).fill_null(False)


def _reason(known: list[str]) -> pl.Expr:
    """The first rule a row breaks, or null."""
    blank = pl.all_horizontal(pl.col(c).is_null() for c in COLUMNS)
    meter = pl.col("meter").fill_null("")
    reason = pl.when(pl.col(PARSE_ERROR).is_not_null()).then(pl.col(PARSE_ERROR))
    reason = reason.when(blank).then(pl.lit("empty line"))
    for column in REQUIRED:
        reason = reason.when(pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")).then(
            pl.lit(f"missing {column}")
        )
    for column in (*TEXT_FIELDS, "customer", "start", "end", "bytes"):
        reason = reason.when(pl.col(column).str.contains("\ufffd", literal=True)).then(
            pl.lit(f"invalid characters in {column}")
        )
    for column in TEXT_FIELDS:
        reason = reason.when(pl.col(column).str.contains(CONTROL)).then(pl.lit(f"control characters in {column}"))
        reason = reason.when(pl.col(column).str.len_chars() > MAX_FIELD).then(
            pl.lit(f"{column} longer than {MAX_FIELD} characters")
        )
    return (
        reason.when(~pl.col("customer").str.contains(ADDRESS))
        .then(pl.lit("bad customer address"))
        .when(pl.col("_start").is_null())
        .then(pl.lit("bad start timestamp"))
        .when(pl.col("_end").is_null())
        .then(pl.lit("bad end timestamp"))
        .when((pl.col("_start") <= 0) | (pl.col("_start") > MAX_TIMESTAMP))
        .then(pl.lit("start out of range"))
        .when((pl.col("_end") <= 0) | (pl.col("_end") > MAX_TIMESTAMP))
        .then(pl.lit("end out of range"))
        .when(pl.col("_bytes").is_null() | (pl.col("_bytes") < 0) | (pl.col("_bytes") > MAX_BYTES))
        .then(pl.lit("bad bytes"))
        .when(~meter.str.strip_chars().str.to_lowercase().is_in(known))
        .then(pl.lit("unknown meter"))
        .when(pl.col("_start") == pl.col("_end"))
        .then(pl.lit("zero-length session"))
        .otherwise(None)
        .alias(REASON)
    )
