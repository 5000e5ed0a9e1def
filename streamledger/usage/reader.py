"""Reading session logs into a table of raw string columns, one row per physical line.

CSV goes through polars (Rust): all columns as strings, invalid UTF-8 replaced by U+FFFD (caught by
validation), short lines padded with nulls, extra fields ignored. A blank line becomes an all-null row, so a
row's line number is its index + 2 - unless a quoted field spans lines, in which case the file is read
again with Python's csv module, which knows each record's line exactly. JSONL is parsed line by line with
orjson; a line that is not a JSON object becomes a row carrying its parse error.
"""

from __future__ import annotations

import csv
import gzip
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import polars as pl

from .schema import COLUMNS, LINE

PARSE_ERROR = "_parse_error"


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
        counted = pool.submit(data.count, b"\n")
        try:
            df = pl.read_csv(
                io.BytesIO(data),
                infer_schema=False,
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
                quote_char='"',
            )
        except pl.exceptions.ComputeError:
            return _read_csv_python(data)
        newlines = counted.result() + (0 if data.endswith(b"\n") else 1)
    if newlines != df.height + 1:  # a quoted field spans lines: get exact line numbers the slow way
        return _read_csv_python(data)
    df = df.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    known = [c for c in df.columns if c in COLUMNS or c == LINE]
    return _finish(df.select(known))


def _read_csv_python(data: bytes) -> pl.DataFrame:
    text = data.decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return _empty()
    index = {name: i for i, name in enumerate(header) if name in COLUMNS}
    columns: dict[str, list] = {c: [] for c in COLUMNS}
    lines: list[int] = []
    start_line = 2
    for row in reader:
        lines.append(start_line)
        start_line = reader.line_num + 1
        for name in COLUMNS:
            i = index.get(name)
            columns[name].append(row[i] if i is not None and i < len(row) and row[i] != "" else None)
    df = pl.DataFrame({**columns, LINE: lines}, schema={c: pl.String for c in COLUMNS} | {LINE: pl.Int64})
    return _finish(df)


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
