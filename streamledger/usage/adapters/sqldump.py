"""Rows of one table from a MySQL dump (mysqldump, phpMyAdmin), read as a stream.

Recognises `INSERT [IGNORE] INTO `table` [(`col`, …)] VALUES (…),(…);` and `REPLACE INTO …`, with any number
of rows per statement, on one line (mysqldump's extended insert) or one row per line (phpMyAdmin), a string
running over several lines included. Values are quoted strings with MySQL's escapes (\\' \\" \\\\ \\n \\r \\t \\0
\\Z \\b, and '' for a quote), NULL, or bare numbers. Without a column list the columns are those of the
table's CREATE TABLE earlier in the dump, else `default_columns`. Everything else in the dump (other tables,
comments, SET, LOCK) is passed over.

Iterating yields (line where the row starts, its 1-based index in the statement, values or an error). A row
that cannot be read is reported with a reason and reading resumes at the next row; a dump cut short
reports its last, incomplete row as truncated.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import IO

STATEMENT = re.compile(
    r"\s*(?:INSERT|REPLACE)\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY)\s+)?(?:IGNORE\s+)?INTO\s+"
    r"(?:`[^`]+`\.|\w+\.)?`?(?P<table>[^`\s(]+)`?\s*(?:\((?P<columns>[^)]*)\)\s*)?VALUES\s*",
    re.IGNORECASE,
)
CREATE = re.compile(r"\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:`[^`]+`\.)?`?(?P<table>[^`\s(]+)`?\s*\(", re.I)
COLUMN_DEFINITION = re.compile(r"\s*`(?P<name>[^`]+)`\s+\w")
BLANK = re.compile(r"\s*")
# A row: a parenthesised list of quoted strings and bare tokens. The loops are possessive, so a row that
# does not match fails at once instead of backtracking through doubled quotes; PARTIAL is its prefix, to
# tell a row that goes on in the next line from one that is malformed.
ROW = re.compile(r"\(((?:'(?:[^'\\]++|\\.|'')*+'|[^'()]++)*+)\)\s*([,;]?)", re.DOTALL)
PARTIAL = re.compile(r"\((?:'(?:[^'\\]++|\\.|'')*+'|[^'()]++)*+", re.DOTALL)
BETWEEN = re.compile(r"[(;]")  # between rows: the next row, or the statement's end
RESUME = re.compile(r"\)\s*(?:,\s*(?=\()|;)")  # the end of a row followed by the next row, or of the statement
# A row's values: split around its quoted strings (STRING), the rest with a placeholder per string must be a
# comma-separated list (SHAPE).
STRING = re.compile(r"'((?:[^'\\]++|\\.|'')*+)'", re.DOTALL)
PLACEHOLDER = "\x00"
SHAPE = re.compile(r"\s*(?:\x00|[^,'\s\x00]+)\s*(?:,\s*(?:\x00|[^,'\s\x00]+)\s*)*+")
ESCAPE = re.compile(r"\\(.)|''", re.DOTALL)
ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
MAX_ROW_CHARS = 1 << 20  # a row still open after this much text is malformed, not merely long


def unescape(text: str) -> str:
    if "\\" not in text and "''" not in text:
        return text

    def one(match: re.Match) -> str:
        char = match.group(1)
        if char is None:
            return "'"
        if char in "%_":  # MySQL keeps these backslashes outside LIKE patterns
            return "\\" + char
        return ESCAPES.get(char, char)

    return ESCAPE.sub(one, text)


def split_values(inner: str) -> list[str | None] | None:
    """The values between a row's parentheses (NULL as None), or None when they are not a list of values."""
    if not inner.strip():
        return []
    parts = STRING.split(inner)  # outside, string, outside, string, …, outside
    skeleton = PLACEHOLDER.join(parts[0::2])
    if SHAPE.fullmatch(skeleton) is None:
        return None
    strings = iter(parts[1::2])
    values: list[str | None] = []
    for token in skeleton.split(","):
        token = token.strip()
        if token == PLACEHOLDER:
            values.append(unescape(next(strings)))
        else:
            values.append(None if token.upper() == "NULL" else token)
    return values


class DumpRows:
    """Rows of `table` in the dump read from `fp`: iterate for (line, row index, {column: value} | error)."""

    def __init__(self, fp: IO[str], table: str, default_columns: tuple[str, ...]):
        self.fp = fp
        self.table = table
        self.columns: list[str] = list(default_columns)

    def __iter__(self) -> Iterator[tuple[int, int, dict | str]]:
        lines = enumerate(self.fp, start=1)
        for number, line in lines:
            create = CREATE.match(line)
            if create and create.group("table") == self.table:
                self._read_create(lines)
                continue
            statement = STATEMENT.match(line)
            if statement is None or statement.group("table") != self.table:
                continue
            columns = self.columns
            if statement.group("columns") is not None:
                columns = [c.strip().strip("`").strip() for c in statement.group("columns").split(",")]
            yield from _Statement(line, statement.end(), number, lines, columns)

    def _read_create(self, lines) -> None:
        columns = []
        for _, line in lines:
            definition = COLUMN_DEFINITION.match(line)
            if definition:
                columns.append(definition.group("name"))
            elif line.lstrip().startswith(")"):
                break
        if columns:
            self.columns = columns


class _Statement:
    """The rows of one INSERT, from text[at:] (text being line `number`) on, reading further lines as needed."""

    def __init__(self, text: str, at: int, number: int, lines, columns: list[str]):
        self.text, self.at, self.lines, self.columns = text, at, lines, columns
        self.offsets, self.numbers = [0], [number]  # where each line held in `text` starts, and its number

    def line_at(self, position: int) -> int:
        return self.numbers[bisect.bisect_right(self.offsets, position) - 1]

    def read_more(self) -> bool:
        """Appends the next line to the unread text; False at the end of the dump."""
        more = next(self.lines, None)
        if more is None:
            return False
        number, line = more
        keep = bisect.bisect_right(self.offsets, self.at) - 1
        self.offsets = [0] + [o - self.at for o in self.offsets[keep + 1 :]]
        self.numbers = self.numbers[keep:]
        self.text = self.text[self.at :]
        self.at = 0
        self.offsets.append(len(self.text))
        self.numbers.append(number)
        self.text += line
        return True

    def resync(self, pattern: re.Pattern = RESUME) -> bool:
        """After text that cannot be read: on to the next row (True), or past the statement's end (False).
        Whatever lies between belongs to the error already reported. RESUME: from inside a row; BETWEEN:
        from between rows."""
        start = self.at
        while True:
            found = pattern.search(self.text, self.at)
            if found is not None:
                ended = found.group(0).endswith(";")
                self.at = found.end() if ended or pattern is RESUME else found.start()
                return not ended
            if len(self.text) - start > MAX_ROW_CHARS or not self.read_more():
                return False
            start = 0

    def __iter__(self) -> Iterator[tuple[int, int, dict | str]]:
        index, expect_row = 0, True
        while True:
            self.at = BLANK.match(self.text, self.at).end()
            if self.at == len(self.text):
                if not self.read_more():
                    if expect_row:
                        yield self.line_at(self.at), index + 1, "truncated statement at the end of the dump"
                    return  # a last statement without its semicolon: every row in it was read
                continue
            char = self.text[self.at]
            if not expect_row:
                if char == ";":
                    return
                if char == ",":
                    self.at += 1
                    expect_row = True
                    continue
                yield self.line_at(self.at), index, "malformed INSERT statement (expected , or ; after the row)"
                if not self.resync(BETWEEN):
                    return
                expect_row = True
                continue
            if char != "(":
                yield self.line_at(self.at), index + 1, "malformed INSERT statement (expected a row)"
                self.at += 1
                if not self.resync(BETWEEN):
                    return
                continue
            match = ROW.match(self.text, self.at)
            if match is None:
                partial = PARTIAL.match(self.text, self.at).end()
                open_ended = partial == len(self.text) or self.text[partial] == "'"
                if open_ended and len(self.text) - self.at <= MAX_ROW_CHARS:
                    if self.read_more():
                        continue
                    yield self.line_at(self.at), index + 1, "truncated row at the end of the dump"
                    return
                index += 1
                yield self.line_at(self.at), index, "unreadable row"
                self.at = partial
                if not self.resync():
                    return
                continue
            index += 1
            line = self.line_at(self.at) if len(self.numbers) > 1 else self.numbers[0]
            values = split_values(match.group(1))
            if values is None:
                yield line, index, "unreadable values"
            elif len(values) != len(self.columns):
                yield line, index, f"{len(values)} values for {len(self.columns)} columns"
            else:
                yield line, index, dict(zip(self.columns, values, strict=True))
            self.at = match.end()
            separator = match.group(2)
            if separator == ";":
                return
            expect_row = separator == ","  # else the separator is in the next line
