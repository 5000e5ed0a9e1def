"""Reading session logs into a table of raw string columns, one row per physical line.

CSV goes through polars (Rust): all columns as strings, invalid UTF-8 replaced by U+FFFD (caught by
validation), empty fields (quoted or not) and short lines' missing fields null, extra fields ignored. A
blank line becomes an all-null row, so a row's line number is its index + 2 - unless a quoted field spans
lines, or a carriage return stands anywhere but before a line feed (polars drops one before a delimiter),
or polars refuses the file (a stray or unclosed quote): then the file is read again with Python's csv
module, which knows each record's line exactly. A line ends at a line feed only: a bare carriage return is
part of its field. JSONL is parsed line by line with orjson; a line that is not a JSON object becomes a row
carrying its parse error.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import polars as pl

from .schema import COLUMNS, LINE

PARSE_ERROR = "_parse_error"
UNTERMINATED = "unterminated quote"

# The csv module ends a line at a bare carriage return too; while it reads, each one stands in as a lone
# surrogate, which text decoded from UTF-8 never holds.
_BARE_CR = re.compile(r"\r(?!\n)")
_CR = "\ud800"


def read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data


def log_format(path: Path) -> str:
    name = path.name.removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    raise ValueError(f"{path}: unknown log format (expected .csv or .jsonl, optionally .gz)")


def read_log(path: Path, data: bytes | None = None) -> pl.DataFrame:
    """Rows of the log at `path` with the canonical columns (strings, null when absent), LINE, and
    PARSE_ERROR (null, or why the line could not be parsed at all)."""
    data = read_bytes(path) if data is None else data
    if log_format(path) == "jsonl":
        return _read_jsonl(data)
    return _read_csv(data)


def _empty() -> pl.DataFrame:
    schema = {c: pl.String for c in COLUMNS} | {LINE: pl.Int64, PARSE_ERROR: pl.String}
    return pl.DataFrame(schema=schema)


def _finish(df: pl.DataFrame) -> pl.DataFrame:
    for column in COLUMNS:
        if column not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    if PARSE_ERROR not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias(PARSE_ERROR))
    return df.select([*COLUMNS, LINE, PARSE_ERROR])


def _read_csv(data: bytes) -> pl.DataFrame:
    if not data or data.isspace():
        return _empty()
    with ThreadPoolExecutor(1) as pool:  # polars parses without the GIL: count the lines meanwhile
        counted = pool.submit(_polars_lines, data)
        try:
            df = pl.read_csv(
                io.BytesIO(data),
                infer_schema=False,
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
                quote_char='"',
                null_values="",  # a quoted empty field ("") too, as the csv-module path reads it
            )
        except pl.exceptions.ComputeError:
            return _read_csv_python(data)
        lines = counted.result()
    if lines != df.height + 1:  # a quoted field spans lines (or a bare \r): exact line numbers the slow way
        return _read_csv_python(data)
    df = df.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    known = [c for c in df.columns if c in COLUMNS or c == LINE]
    return _finish(df.select(known))


def _polars_lines(data: bytes) -> int | None:
    """The lines of `data`, or None when polars' reading would not do: a carriage return not followed by a
    line feed is part of its field, and polars drops one that stands before a delimiter."""
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _read_csv_python(data: bytes) -> pl.DataFrame:
    text = data.decode("utf-8", errors="replace")
    bare_cr = "\r" in text and _BARE_CR.search(text) is not None
    if bare_cr:
        text = _BARE_CR.sub(_CR, text)
    if csv.field_size_limit() < len(text):  # polars has no limit on a field's size (the csv module's is
        csv.field_size_limit(len(text))  # 131,072 characters by default, and process-wide)
    records = _csv_records(text)
    header = next(records, None)
    if header is None:
        return _empty()
    index = {name: i for i, name in enumerate(header[1]) if name in COLUMNS}
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    lines: list[int] = []
    errors: list[str | None] = []
    for line, row, error in records:
        if error:
            row = []
        elif bare_cr:
            row = [field.replace(_CR, "\r") for field in row]
        lines.append(line)
        errors.append(error)
        for name in COLUMNS:
            i = index.get(name)
            columns[name].append(row[i] if i is not None and i < len(row) and row[i] != "" else None)
    schema = {c: pl.String for c in COLUMNS} | {LINE: pl.Int64, PARSE_ERROR: pl.String}
    return pl.DataFrame({**columns, LINE: lines, PARSE_ERROR: errors}, schema=schema)


def _csv_records(text: str) -> Iterator[tuple[int, list[str], str | None]]:
    """(first line, fields, error) of each record of `text`, the header first.

    A quoted field may span lines; a quote closes it only when a delimiter or the line's end follows (the
    csv module's strict mode). A quote that opens a field and is never closed that way - the file ends
    first, or the next quote is followed by text, as a later field's opening quote is - must not take the
    lines after it into its record: that record is its first line, an unterminated quote, and reading goes
    on at the next line. Read from there, any record spanning lines would run into the same broken quote
    (the first reading was inside a quoted field at each of those line ends), so each line up to the one
    the quote broke on is read on its own, and reading goes on as usual from that line: every line belongs
    to one record, in one pass over the file. A line whose quotes break within it is read on its own,
    leniently (`"ab"c,` is `abc`)."""
    lines = io.StringIO(text, newline="").readlines()
    at = 0  # the next record's first line, 0-based
    while at < len(lines):
        start = at
        reader = csv.reader(map(lines.__getitem__, range(start, len(lines))), strict=True)
        try:
            for row in reader:
                yield at + 1, row, None
                at = start + reader.line_num
            return
        except csv.Error:  # the quote broke on the last line read, or the file ended inside it
            broke = start + reader.line_num - 1
            for i in range(at, max(broke, at + 1)):
                yield i + 1, *_alone(lines[i])
            at = max(broke, at + 1)


def _alone(line: str) -> tuple[list[str], str | None]:
    """A line read on its own, leniently. A quote still open at its end makes the reader ask for a second
    line (the empty one given): the line is an unterminated quote."""
    reader = csv.reader((line, ""))
    row = next(reader)
    return (row, None) if reader.line_num == 1 else (row, UNTERMINATED)


def _read_jsonl(data: bytes) -> pl.DataFrame:
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    lines: list[int] = []
    errors: list[str | None] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            if number == data.count(b"\n") + 1:
                continue  # the end of the file, not a blank line
            record, error = {}, "empty line"
        else:
            try:
                record = orjson.loads(raw)
                error = None if isinstance(record, dict) else "not a JSON object"
            except orjson.JSONDecodeError as exc:
                record, error = {}, f"invalid JSON: {str(exc).split(':')[0]}"
            if error:
                record = {}
        lines.append(number)
        errors.append(error)
        for name in COLUMNS:
            value = record.get(name)
            columns[name].append(None if value is None else _text(value))
    schema = {c: pl.String for c in COLUMNS} | {LINE: pl.Int64, PARSE_ERROR: pl.String}
    return pl.DataFrame({**columns, LINE: lines, PARSE_ERROR: errors}, schema=schema)


def _text(value: object) -> str:
    if isinstance(value, bool):  # true/false are not numbers here
        return "\ufffdbool"
    if isinstance(value, (int, float, str)):
        return str(value)
    return "\ufffd" + type(value).__name__  # nested structures are not field values
