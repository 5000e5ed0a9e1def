"""Platform adapters (streamledger.usage.adapters): real export shapes in, canonical session records out, and
through the real Feeder to usage lines (no chain)."""

import csv
import gzip
import io
import json

import pytest

from streamledger.cli import main as cli
from streamledger.oracle import dev_oracle_key
from streamledger.usage.adapters import (
    AdapterConfig,
    AdapterConfigError,
    FlussonicAdapter,
    MeterPolicy,
    NginxAdapter,
    Streams,
    Subscribers,
    XtreamAdapter,
    build_adapter,
)
from streamledger.usage.adapters.base import CANONICAL, Record, epoch, run
from streamledger.usage.adapters.sqldump import DumpRows, split_values, unescape
from streamledger.usage.feeder import CustomerDirectory, Feeder, OracleSigner
from streamledger.usage.journal import Journal

NOW = 1_800_000_000
T = NOW - 86_400 - (NOW % 86_400) + 3_600  # 01:00 UTC the day before "now"
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
KEY = bytes(range(32))
IP, TOKEN, AGENT, COUNTRY = "203.0.113.77", "tk-5a9c1e7f33", "Kodi/20.2 (Linux; Android 11)", "DE"
PERSONAL = (IP, TOKEN, AGENT, "Android")


def config(streams=None, meters=None, subscribers=None):
    table = subscribers or {"1001": ALICE, "1002": BOB, TOKEN: ALICE, "tk-bob": BOB}
    return AdapterConfig(
        subscribers=Subscribers(table),
        meters=meters or MeterPolicy(**MeterPolicy.DEFAULT),
        key=KEY,
        streams=Streams(streams or {}) if streams is not None else None,
    )


def adapt(adapter, tmp_path, text, name="input.log"):
    """Runs `adapter` over `text`: (canonical rows, exception rows, report)."""
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    out, exceptions = tmp_path / "canonical.csv", tmp_path / "exceptions.csv"
    report = run(adapter, [path], out, exceptions)
    with out.open(newline="") as fp:
        rows = list(csv.DictReader(fp))
    with exceptions.open(newline="") as fp:
        entries = list(csv.DictReader(fp))
    return rows, entries, report


def jsonl(*events):
    return "".join(json.dumps(e) + "\n" for e in events)


# ----- Flussonic ----------------------------------------------------------------------------------------------


def play_closed(sid="s1", start=T, seconds=600, unit=1, **fields):
    """A play_closed event as Flussonic's event sink writes it (timestamps in `unit` per second)."""
    event = {
        "event": "play_closed",
        "id": sid,
        "type": "play",
        "media": "sport-hd",
        "proto": "hls",
        "ip": IP,
        "token": TOKEN,
        "user_id": "1001",
        "country": COUNTRY,
        "bytes": 812_734_120,
        "opened_at": (start - 2) * unit,
        "started_at": start * unit,
        "closed_at": (start + seconds) * unit,
        "duration": seconds * 1000,
        "dvr": False,
        "user_agent": AGENT,
        "server": "edge1",
        "source_id": "7a0f",
    }
    event.update(fields)
    return event


def test_flussonic_play_closed_becomes_a_canonical_record(tmp_path):
    rows, entries, report = adapt(FlussonicAdapter(config()), tmp_path, jsonl(play_closed()))
    assert entries == [] and report.records == 1
    (row,) = rows
    assert list(row) == list(CANONICAL)
    assert row["session_id"] == "flussonic-s1"
    assert row["customer"] == ALICE
    assert row["content_id"] == "sport-hd"
    assert row["meter"] == "premium_minutes"
    assert (int(row["start"]), int(row["end"]), int(row["bytes"])) == (T, T + 600, 812_734_120)
    assert row["device_id"].startswith("dev-")


@pytest.mark.parametrize(("unit", "name"), [(1, "seconds"), (1_000, "milliseconds"), (1_000_000, "microseconds")])
def test_flussonic_timestamp_unit_is_detected_per_record(tmp_path, unit, name):
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(play_closed(unit=unit)))
    assert entries == []
    assert (int(rows[0]["start"]), int(rows[0]["end"])) == (T, T + 600), name


def test_flussonic_seconds_and_milliseconds_in_one_log(tmp_path):
    events = [
        play_closed("s1", T, 600),
        play_closed("s2", T + 700, 300, unit=1000),
        play_closed("s3", T + 1200, 60, closed_at=(T + 1260) * 1000 + 999),  # ms, fraction of a second
    ]
    events[2]["started_at"] *= 1000
    events[2]["opened_at"] *= 1000
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(*events))
    assert entries == []
    assert [(int(r["start"]), int(r["end"])) for r in rows] == [(T, T + 600), (T + 700, T + 1000), (T + 1200, T + 1260)]


def test_flussonic_mixed_units_within_a_record_are_quarantined(tmp_path):
    event = play_closed(closed_at=(T + 600) * 1000)  # started_at in seconds, closed_at in milliseconds
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(event))
    assert rows == [] and [e["reason"] for e in entries] == ["timestamps in mixed units"]


@pytest.mark.parametrize("missing", [{"started_at": None}, {"started_at": 0}, "absent"])
def test_flussonic_missing_started_at_uses_opened_at(tmp_path, missing):
    event = play_closed(unit=1000)
    if missing == "absent":
        del event["started_at"]
    else:
        event.update(missing)
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(event))
    assert entries == [] and int(rows[0]["start"]) == T - 2  # opened_at


def test_flussonic_without_any_start_is_quarantined(tmp_path):
    event = play_closed(started_at=None, opened_at=None)
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(event))
    assert rows == [] and entries[0]["reason"] == "missing started_at and opened_at"


def test_flussonic_open_sessions_are_held_back_and_reported(tmp_path):
    events = [
        {"event": "play_opened", "id": "s9", "media": "sport-hd", "opened_at": T},
        {"event": "play_started", "id": "s9", "media": "sport-hd", "started_at": T + 1},
        {"event": "play_started", "id": "s1", "media": "sport-hd", "started_at": T},
        play_closed("s1"),  # opened and closed within the log: billed
        play_closed("s2", closed_at=None),  # closed event without closed_at: still open
        {"event": "play_updated", "id": "s9", "media": "sport-hd", "bytes": 1_000},
    ]
    rows, entries, report = adapt(FlussonicAdapter(config()), tmp_path, jsonl(*events))
    assert [r["session_id"] for r in rows] == ["flussonic-s1"]
    held = [(e["line"], e["status"], e["reason"], e["ref"]) for e in entries]
    assert held == [
        ("5", "held", "session still open (no closed_at)", "s2"),
        ("6", "held", "session still open at the end of the log (no play_closed)", "s9"),
    ]
    assert report.held == 2 and report.records == 1
    assert report.skipped == {"event play_opened": 1, "event play_started": 2, "event play_updated": 1}
    report.check()  # 6 events = 1 billed + 1 held + 4 skipped


def test_flussonic_other_event_types_are_skipped_and_counted(tmp_path):
    events = [
        {"event": "stream_started", "media": "sport-hd"},
        {"event": "source_lost", "media": "sport-hd"},
        {"event": "play_authorized", "media": "sport-hd", "id": "s7"},
        play_closed("s7"),
    ]
    rows, entries, report = adapt(FlussonicAdapter(config()), tmp_path, jsonl(*events))
    assert len(rows) == 1 and entries == []
    assert sum(report.skipped.values()) == 3 and report.read == 4


def test_flussonic_truncated_last_line_is_quarantined_with_its_line(tmp_path):
    text = jsonl(play_closed("s1"), play_closed("s2", T + 700)) + json.dumps(play_closed("s3", T + 1400))[:57]
    rows, entries, report = adapt(FlussonicAdapter(config()), tmp_path, text)
    assert [r["session_id"] for r in rows] == ["flussonic-s1", "flussonic-s2"]
    assert [(e["line"], e["reason"]) for e in entries] == [("3", "invalid JSON: truncated last line")]
    assert report.read == 3


def test_flussonic_unknown_subscriber_is_quarantined(tmp_path):
    events = [play_closed("s1"), play_closed("s2", user_id="4040", token="tk-nobody")]
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(*events))
    assert len(rows) == 1
    assert [(e["line"], e["status"], e["reason"], e["ref"]) for e in entries] == [
        ("2", "quarantined", "unknown subscriber", "s2")
    ]


def test_exceptions_file_quotes_what_a_spreadsheet_would_run_but_the_canonical_file_is_exact(tmp_path):
    events = [play_closed("=cmd|' /C calc'!A0", closed_at=None), play_closed("+1+1", T + 700)]
    rows, entries, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(*events))
    assert entries[0]["ref"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["session_id"] == "flussonic-+1+1"


def test_flussonic_subscriber_by_token_when_user_id_is_absent(tmp_path):
    event = play_closed(user_id=None, token="tk-bob")
    rows, _, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(event))
    assert rows[0]["customer"] == BOB


def test_flussonic_dvr_is_catchup_and_the_policy_picks_the_meter(tmp_path):
    policy = MeterPolicy(
        meters={"premium_minutes": "minute", "gb_delivered": "MB"},
        kinds={"live": "included", "catchup": "premium_minutes", "vod": "rental"},
        content={"cdn-hd": "gb_delivered", "news": {"catchup": "included"}},
    )
    events = [
        play_closed("live"),
        play_closed("dvr", dvr=True),
        play_closed("cdn", media="cdn-hd"),
        play_closed("news-dvr", media="news", dvr=True),
        play_closed("named", media=None, name="sport-hd", dvr="true"),
    ]
    rows, _, _ = adapt(FlussonicAdapter(config(meters=policy)), tmp_path, jsonl(*events))
    meters = {r["session_id"].removeprefix("flussonic-"): r["meter"] for r in rows}
    assert meters == {
        "live": "included",
        "dvr": "premium_minutes",
        "cdn": "gb_delivered",
        "news-dvr": "included",
        "named": "premium_minutes",
    }


def test_flussonic_vod_through_the_streams_mapping_is_a_rental(tmp_path):
    streams = {"vod/the_long_night.mp4": Streams.entry("movie", "the_long_night")}
    event = play_closed(media="vod/the_long_night.mp4")
    rows, _, _ = adapt(FlussonicAdapter(config(streams=streams)), tmp_path, jsonl(event))
    assert (rows[0]["content_id"], rows[0]["meter"]) == ("the_long_night", "rental:the_long_night")


def test_flussonic_missing_bytes_quarantines_only_a_byte_meter(tmp_path):
    policy = MeterPolicy(**{**MeterPolicy.DEFAULT, "content": {"cdn-hd": "gb_delivered"}})
    events = [play_closed("a", bytes=None), play_closed("b", media="cdn-hd", bytes=None), play_closed("c", bytes=-1)]
    rows, entries, _ = adapt(FlussonicAdapter(config(meters=policy)), tmp_path, jsonl(*events))
    assert [(r["session_id"], r["bytes"]) for r in rows] == [("flussonic-a", "0")]
    assert [e["reason"] for e in entries] == ["missing bytes", "bad bytes"]


def test_flussonic_unknown_fields_are_ignored_and_broken_lines_quarantined(tmp_path):
    text = (
        jsonl(play_closed("s1", extra={"nested": [1, 2]}, new_field="x"))
        + "\n"  # a blank line is not an event
        + "not json at all\n"
        + "[1, 2]\n"
        + json.dumps({"id": "x"})
        + "\n"
        + json.dumps(play_closed("s5", id=None))
        + "\n"
    )
    rows, entries, report = adapt(FlussonicAdapter(config()), tmp_path, text)
    assert len(rows) == 1
    assert [(e["line"], e["row"], e["reason"]) for e in entries] == [
        ("3", "", "invalid JSON"),
        ("4", "1", "not a JSON object"),
        ("4", "2", "not a JSON object"),
        ("5", "", "missing event"),
        ("6", "", "missing id"),
    ]
    report.check()


def test_flussonic_http_sink_batches_and_prefixed_lines(tmp_path):
    batch = json.dumps([play_closed("b1"), {"event": "play_updated", "id": "b2"}, play_closed("b2", T + 900)])
    prefixed = "2025-11-24 10:00:00.123 [info] " + json.dumps(play_closed("p1", T + 2000))
    rows, entries, report = adapt(FlussonicAdapter(config()), tmp_path, batch + "\n" + prefixed + "\n")
    assert [r["session_id"] for r in rows] == ["flussonic-b1", "flussonic-b2", "flussonic-p1"]
    assert entries == [] and report.read == 4


def test_no_personal_identifier_reaches_the_canonical_records(tmp_path):
    events = [
        play_closed("s1"),
        play_closed(TOKEN, T + 700),  # a set-up that uses the token as the session id
        play_closed("s3", T + 1400, ip="198.51.100.9"),
    ]
    rows, _, _ = adapt(FlussonicAdapter(config()), tmp_path, jsonl(*events))
    text = (tmp_path / "canonical.csv").read_text()
    for value in (*PERSONAL, "198.51.100.9", COUNTRY + ","):
        assert value not in text
    assert rows[1]["session_id"].startswith("flussonic-h")
    # one device per (subscriber, address, user agent): stable under the same key, different under another
    assert rows[0]["device_id"] == rows[1]["device_id"] != rows[2]["device_id"]
    other = FlussonicAdapter(AdapterConfig(Subscribers({"1001": ALICE}), MeterPolicy(**MeterPolicy.DEFAULT), b"x" * 32))
    again, _, _ = adapt(other, tmp_path, jsonl(*events))
    assert again[0]["device_id"] != rows[0]["device_id"]


# ----- Xtream UI ------------------------------------------------------------------------------------------------

XTREAM_STREAMS = {
    "1201": ("live", "sport-hd"),
    "1202": ("created_live", "news"),
    "5012": ("movie", "the_long_night"),
    "7001": ("series", "detective-s01e01"),
}


def xtream_config(**kwargs):
    streams = {k: Streams.entry(*v) for k, v in XTREAM_STREAMS.items()}
    return config(streams=streams, **kwargs)


XTREAM_HEADER = (
    "activity_id,user_id,stream_id,server_id,user_agent,user_ip,container,date_start,date_end,"
    "geoip_country_code,isp,external_device,divergence"
)


def test_xtream_csv_export(tmp_path):
    text = (
        XTREAM_HEADER
        + "\n"
        + f'98001,1001,1201,1,"{AGENT}",{IP},ts,{T},{T + 1800},DE,"Deutsche Telekom AG",,0\n'
        + f'98002,1002,5012,1,"VLC/3.0.20 LibVLC/3.0.20",198.51.100.4,mp4,{T},{T + 5400},FR,"Orange, S.A.",,0\n'
        + f"98003,1001,1202,2,okhttp/4.9,{IP},m3u8,{T + 2000},NULL,DE,x,,0\n"
        + f"98004,3003,1201,1,okhttp/4.9,{IP},ts,{T},{T + 60},DE,x,,0\n"
        + f"98005,1001,9999,1,okhttp/4.9,{IP},ts,{T},{T + 60},DE,x,,0\n"
        + f"98006,1001,1201,1,okhttp/4.9,{IP},ts,{T + 3000},{T + 3600}"[:-8]  # a cut last line
    )
    rows, entries, report = adapt(XtreamAdapter(xtream_config()), tmp_path, text, "user_activity.csv")
    assert [(r["session_id"], r["customer"], r["content_id"], r["meter"]) for r in rows] == [
        ("xtream-98001", ALICE, "sport-hd", "premium_minutes"),
        ("xtream-98002", BOB, "the_long_night", "rental:the_long_night"),
    ]
    assert (int(rows[0]["start"]), int(rows[0]["end"]), rows[0]["bytes"]) == (T, T + 1800, "0")
    assert [(e["line"], e["status"], e["reason"], e["ref"]) for e in entries] == [
        ("4", "held", "connection still open (no date_end)", "98003"),
        ("5", "quarantined", "unknown subscriber", "98004"),
        ("6", "quarantined", "unknown stream", "98005"),
        ("7", "quarantined", "truncated row (9 of 13 fields)", ""),
    ]
    report.check()
    assert IP not in (tmp_path / "canonical.csv").read_text()


XTREAM_ROWS = [  # one extended INSERT, as mysqldump writes it: quotes escaped \' or '', commas and parens in strings
    f"(98001,1001,1201,1,'Mozilla/5.0 (X11; Linux) \\'quoted\\', \\\"double\\\"','{IP}','ts',{T},{T + 1800},'DE',"
    "'O\\'Reilly, Inc.','',0)",
    f"(98002,1002,5012,1,'it''s a player, (v2); ok','198.51.100.4','mp4',{T},{T + 5400},'FR','Orange, S.A.','',NULL)",
    f"(98003,1001,1202,2,NULL,'{IP}','m3u8',{T + 2000},NULL,'DE','x','',0)",
    f"(98004,1001,7001,1,'back\\\\slash\\nnew line','{IP}','mp4',{T + 7200},{T + 9000},'DE','x','',0)",
]

XTREAM_DUMP = f"""-- MySQL dump 10.13  Distrib 5.7.44, for Linux (x86_64)
/*!40101 SET NAMES utf8 */;
DROP TABLE IF EXISTS `user_activity`;
CREATE TABLE `user_activity` (
  `activity_id` int(11) NOT NULL AUTO_INCREMENT,
  `user_id` int(11) NOT NULL,
  `stream_id` int(11) NOT NULL,
  `server_id` int(11) NOT NULL,
  `user_agent` varchar(255) DEFAULT NULL,
  `user_ip` varchar(39) NOT NULL,
  `container` varchar(50) NOT NULL,
  `date_start` int(11) NOT NULL,
  `date_end` int(11) DEFAULT NULL,
  `geoip_country_code` varchar(22) NOT NULL,
  `isp` varchar(255) NOT NULL,
  `external_device` varchar(255) NOT NULL,
  `divergence` int(11) DEFAULT NULL,
  PRIMARY KEY (`activity_id`)
) ENGINE=InnoDB AUTO_INCREMENT=98010 DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
LOCK TABLES `user_activity` WRITE;
INSERT INTO `streams` VALUES (1201,'Sport HD','http://src/1'),(5012,'The Long Night','http://src/2');
INSERT INTO `user_activity` VALUES {",".join(XTREAM_ROWS)};
UNLOCK TABLES;
"""


def test_xtream_mysql_dump_with_escapes_commas_nulls_and_many_rows(tmp_path):
    rows, entries, report = adapt(XtreamAdapter(xtream_config()), tmp_path, XTREAM_DUMP, "xtream.sql")
    assert [(r["session_id"], r["content_id"], r["meter"], r["end"]) for r in rows] == [
        ("xtream-98001", "sport-hd", "premium_minutes", str(T + 1800)),
        ("xtream-98002", "the_long_night", "rental:the_long_night", str(T + 5400)),
        ("xtream-98004", "detective-s01e01", "rental:detective-s01e01", str(T + 9000)),
    ]
    assert [(e["line"], e["row"], e["status"], e["ref"]) for e in entries] == [("22", "3", "held", "98003")]
    assert report.read == 4  # the `streams` table's rows are not read


def test_xtream_dump_with_a_column_list_one_row_per_line_and_a_cut_end(tmp_path):
    dump = (
        "INSERT INTO `user_activity` (`activity_id`, `user_id`, `stream_id`, `user_agent`, `user_ip`, "
        "`date_start`, `date_end`) VALUES\n"
        f"(1, 1001, 1201, 'a, b), (c', '{IP}', {T}, {T + 60}),\n"
        f"(2, 1002, 1201, 'line one\nline two; still the same string', '{IP}', {T}, {T + 120}),\n"
        f"(3, 1001, 1201, 'x', '{IP}', {T + 200}, {T + 260});\n"
        f"INSERT INTO `user_activity` (`activity_id`, `user_id`, `stream_id`, `date_start`, `date_end`) VALUES "
        f"(4, 1001, 1201, {T + 300}, {T + 360}),(5, 1001, 1201, {T + 400}, {T + 460});"[:-6]  # cut short
    )
    rows, entries, report = adapt(XtreamAdapter(xtream_config()), tmp_path, dump, "dump.sql")
    assert [r["session_id"] for r in rows] == ["xtream-1", "xtream-2", "xtream-3", "xtream-4"]
    assert [(e["line"], e["row"], e["reason"]) for e in entries] == [("6", "2", "truncated row at the end of the dump")]
    report.check()


def test_sql_values_and_escapes():
    assert unescape(r"O\'Brien \"x\" \\ \n\t\0\Z \% \_ it''s") == "O'Brien \"x\" \\ \n\t\0\x1a \\% \\_ it's"
    assert split_values("1, 'a,b', NULL, -2.5, '', 'x''y'") == ["1", "a,b", None, "-2.5", "", "x'y"]
    assert split_values("1, 'unterminated") is None
    assert split_values("1,,2") is None


def test_sql_dump_recovers_after_unreadable_rows():
    dump = (
        "INSERT INTO `user_activity` (`activity_id`, `user_id`) VALUES\n"
        "(1, 'a')\n,(2, now()),\n(3, 'c'),\n(4, 'd') (5, 'e'),\n(6, 'f', 'extra'),\nx,\n(7, 'g');\n"
    )
    got = [
        (line, index, row if isinstance(row, str) else row["activity_id"])
        for line, index, row in DumpRows(io.StringIO(dump), "user_activity", ())
    ]
    assert got == [
        (2, 1, "1"),  # its comma opens the next line
        (3, 2, "unreadable row"),
        (4, 3, "3"),
        (5, 4, "4"),
        (5, 4, "malformed INSERT statement (expected , or ; after the row)"),
        (5, 5, "5"),
        (6, 6, "3 values for 2 columns"),
        (7, 7, "malformed INSERT statement (expected a row)"),
        (8, 7, "7"),
    ]


def test_xtream_needs_a_streams_mapping():
    with pytest.raises(AdapterConfigError, match="streams mapping"):
        XtreamAdapter(config())


def test_xtream_byte_meter_is_quarantined_as_the_table_has_no_bytes(tmp_path):
    policy = MeterPolicy(**{**MeterPolicy.DEFAULT, "content": {"sport-hd": "gb_delivered"}})
    text = XTREAM_HEADER + "\n" + f"1,1001,1201,1,ua,{IP},ts,{T},{T + 60},DE,x,,0\n"
    rows, entries, _ = adapt(XtreamAdapter(xtream_config(meters=policy)), tmp_path, text, "a.csv")
    assert rows == [] and entries[0]["reason"] == "missing bytes (user_activity has no byte counts)"


# ----- nginx ----------------------------------------------------------------------------------------------------


def time_local(seconds):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def combined(at, token, stream="sport-hd", size=1_500_000, status=200, path=None, ip=IP, agent=AGENT):
    path = path or f"/live/{stream}/seg-{at}.ts?token={token}"
    return f'{ip} - - [{time_local(at)}] "GET {path} HTTP/1.1" {status} {size} "-" "{agent}"\n'


def test_nginx_groups_interleaved_requests_into_sessions_split_by_an_idle_gap(tmp_path):
    lines = []
    for k in range(10):  # Alice every 6 s for a minute, Bob interleaved on another stream
        lines.append(combined(T + 6 * k, TOKEN))
        lines.append(combined(T + 6 * k + 3, "tk-bob", "news", 700_000, ip="198.51.100.4", agent="VLC/3"))
    lines.append(combined(T + 54 + 30, TOKEN))  # 30 s after Alice's last request: a new session (gap 18 s)
    lines.append(combined(T + 90, TOKEN))
    rows, entries, report = adapt(NginxAdapter(config()), tmp_path, "".join(lines), "access.log")
    sessions = sorted((r["customer"], r["content_id"], int(r["start"]), int(r["end"]), int(r["bytes"])) for r in rows)
    assert sessions == [
        (ALICE, "sport-hd", T, T + 54, 10 * 1_500_000),
        (ALICE, "sport-hd", T + 84, T + 90, 2 * 1_500_000),
        (BOB, "news", T + 3, T + 57, 10 * 700_000),
    ]
    assert {r["meter"] for r in rows} == {"gb_delivered"} and entries == []
    assert len({r["session_id"] for r in rows}) == 3
    assert report.read == 22 and report.billed_from == 22
    assert not any(p in (tmp_path / "canonical.csv").read_text() for p in PERSONAL)


def test_nginx_idle_gap_is_configurable(tmp_path):
    text = combined(T, TOKEN) + combined(T + 6, TOKEN) + combined(T + 36, TOKEN)
    rows, _, _ = adapt(NginxAdapter(config(), idle_gap=60), tmp_path, text, "access.log")
    assert [(int(r["start"]), int(r["end"]), int(r["bytes"])) for r in rows] == [(T, T + 36, 4_500_000)]
    rows, _, _ = adapt(NginxAdapter(config(), segment_seconds=1.5), tmp_path, text, "access.log")
    assert len(rows) == 3  # a 6 s gap is more than 3 segments of 1.5 s


def test_nginx_stream_pattern_is_configurable(tmp_path):
    text = combined(T, TOKEN, path=f"/hls/sport-hd-12.ts?token={TOKEN}") + combined(T + 6, TOKEN, path="/hls/x.key")
    adapter = NginxAdapter(config(), stream_pattern=r"/hls/(?P<stream>[a-z0-9-]+?)-\d+\.ts$")
    rows, _, report = adapt(adapter, tmp_path, text, "access.log")
    assert [r["content_id"] for r in rows] == ["sport-hd"] and report.skipped == {"not a segment request": 1}
    with pytest.raises(AdapterConfigError, match="stream"):
        NginxAdapter(config(), stream_pattern=r"/hls/(.+)\.ts$")


def test_nginx_custom_format_with_a_token_field_and_msec(tmp_path):
    def custom(at, token, size):
        request = f'"GET /hls/sport-hd/index-{int(at)}.m4s HTTP/2.0" 206 {size} "https://portal.example/" "{AGENT}"'
        return f'{IP} - - [{time_local(int(at))}] {request} token="{token}" msec={at:.3f}\n'

    text = custom(T + 0.250, TOKEN, 100) + custom(T + 6.9, TOKEN, 200) + custom(T + 12.5, TOKEN, 300)
    rows, entries, _ = adapt(NginxAdapter(config()), tmp_path, text, "access.log")
    assert entries == [] and [(int(r["start"]), int(r["end"]), r["bytes"]) for r in rows] == [(T, T + 12, "600")]


def test_nginx_skips_what_is_not_delivered_segment_data_and_quarantines_the_rest(tmp_path):
    text = (
        combined(T, TOKEN)
        + combined(T + 1, TOKEN, path=f"/live/sport-hd/index.m3u8?token={TOKEN}")  # playlist: skipped
        + combined(T + 2, TOKEN, status=403)
        + combined(T + 3, TOKEN, status=404, size=0)
        + combined(T + 4, "", path="/live/sport-hd/seg-1.ts")  # no token
        + combined(T + 5, "tk-stranger")  # unknown subscriber: its session is quarantined
        + combined(T + 11, "tk-stranger")
        + "garbage line\n"
        + combined(T + 6, TOKEN)
        + combined(T + 12, TOKEN)[:40]  # cut, no newline
    )
    rows, entries, report = adapt(NginxAdapter(config()), tmp_path, text, "access.log")
    assert [(int(r["start"]), int(r["end"]), r["bytes"]) for r in rows] == [(T, T + 6, "3000000")]
    assert sorted((e["line"], e["reason"], e["ref"]) for e in entries) == [
        ("10", "truncated last line (no newline at the end of the file)", ""),
        ("5", "missing token", ""),
        ("6", "unknown subscriber", "2 requests"),
        ("8", "unreadable line (not the combined format)", ""),
    ]
    assert report.skipped == {"not a segment request": 1, "HTTP 403": 1, "HTTP 404": 1}
    assert report.quarantined == 5 and report.read == 10
    report.check()


def test_nginx_out_of_order_lines_and_many_concurrent_sessions_conserve_bytes(tmp_path):
    lines, total = [], 0
    tokens = [f"tk-{n}" for n in range(400)]
    subscribers = {t: "0x" + f"{n + 1:040x}" for n, t in enumerate(tokens)}
    for second in range(0, 1200, 6):
        for n, token in enumerate(tokens):
            if (n + second // 6) % 7 == 0:
                continue  # a skipped slot: 12 s without a request, within the 18 s gap
            if n % 2 and 600 <= second < 660:
                continue  # odd tokens pause for a minute: their sessions split in two
            lines.append(combined(T + second + (n % 3), token, f"ch-{n % 5}", 1_000 + n))
            total += 1_000 + n
    # nginx logs a request when it completes: swap neighbours so lines are slightly out of order
    for i in range(0, len(lines) - 1, 2):
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    adapter = NginxAdapter(config(subscribers=subscribers))
    rows, entries, report = adapt(adapter, tmp_path, "".join(lines), "access.log")
    assert entries == [] and report.billed_from == len(lines)
    assert sum(int(r["bytes"]) for r in rows) == total
    assert len(rows) == 400 + 200
    assert len({r["session_id"] for r in rows}) == len(rows)


def test_nginx_sessions_continue_across_rotated_files(tmp_path):
    first, second = tmp_path / "access.log.1.gz", tmp_path / "access.log"
    first.write_bytes(gzip.compress((combined(T, TOKEN) + combined(T + 6, TOKEN)).encode()))
    second.write_text(combined(T + 12, TOKEN) + combined(T + 18, TOKEN))
    report = run(NginxAdapter(config()), [first, second], tmp_path / "out.csv.gz", tmp_path / "x.csv")
    with gzip.open(tmp_path / "out.csv.gz", "rt") as fp:
        rows = list(csv.DictReader(fp))
    assert [(int(r["start"]), int(r["end"])) for r in rows] == [(T, T + 18)] and report.read == 4


# ----- operator files ------------------------------------------------------------------------------------------


def test_subscriber_mapping_files(tmp_path):
    (tmp_path / "subs.csv").write_text(f"subscriber,customer,note\n1001,{ALICE.upper().replace('0X', '0x')},a\n")
    assert Subscribers.load(tmp_path / "subs.csv").lookup("9", "1001") == ("1001", ALICE)
    (tmp_path / "subs.json").write_text(json.dumps({"1001": ALICE, TOKEN: BOB}))
    assert Subscribers.load(tmp_path / "subs.json").lookup(None, TOKEN) == (TOKEN, BOB)
    (tmp_path / "bad.csv").write_text("subscriber,customer\n1001,0x1234\n")
    with pytest.raises(AdapterConfigError, match=r"bad.csv:2: '0x1234' is not a customer address"):
        Subscribers.load(tmp_path / "bad.csv")
    (tmp_path / "twice.csv").write_text(f"subscriber,customer\n1001,{ALICE}\n1001,{BOB}\n")
    with pytest.raises(AdapterConfigError, match="two different addresses"):
        Subscribers.load(tmp_path / "twice.csv")


def test_streams_and_meter_policy_files(tmp_path):
    (tmp_path / "streams.csv").write_text("stream_id,type,content_id\n1201,live,sport-hd\n5012,movie,the_long_night\n")
    streams = Streams.load(tmp_path / "streams.csv")
    assert (streams.get(5012).kind, streams.get("1201").content_id) == ("vod", "sport-hd")
    (tmp_path / "bad.csv").write_text("stream,type\n1,podcast\n")
    with pytest.raises(AdapterConfigError, match="unknown stream type"):
        Streams.load(tmp_path / "bad.csv")
    (tmp_path / "meters.yaml").write_text(
        "meters: {hd_minutes: minute}\nkinds: {live: included}\ncontent: {sport-hd: hd_minutes}\n"
    )
    policy = MeterPolicy.load(tmp_path / "meters.yaml")
    assert policy.meter("live", "news") == "included" and policy.meter("live", "sport-hd") == "hd_minutes"
    assert policy.meter("vod", "the_long_night") == "rental:the_long_night"  # defaults kept
    (tmp_path / "typo.yaml").write_text("kinds: {live: premium_minute}\n")
    with pytest.raises(AdapterConfigError, match="'premium_minute' is not a declared meter"):
        MeterPolicy.load(tmp_path / "typo.yaml")


def test_epoch_units():
    assert epoch(1_764_000_000) == (1_764_000_000, "s")
    assert epoch(1_764_000_000_123) == (1_764_000_000, "ms")
    assert epoch("1764000000123456") == (1_764_000_000, "us")
    assert epoch(1_764_000_000.9) == (1_764_000_000, "s")
    assert [epoch(v) for v in (0, -5, True, "soon", None, float("nan"), 10**18)] == [None] * 7


# ----- end to end: adapter output through the real feeder --------------------------------------------------------


@pytest.fixture
def feeder(offline_deployment, tmp_path):
    return Feeder(
        offline_deployment,
        Journal(tmp_path / "journal.sqlite"),
        tmp_path / "feeder",
        OracleSigner(tuple(dev_oracle_key(i) for i in range(2)), 2),
        CustomerDirectory(table={ALICE: (1, 2), BOB: (2, 1)}),
        offline_deployment.meter_units,
        clock=lambda: NOW,
    )


def usage(feeder):
    """{(meter, customer id): quantity} of the journal's usage batches."""
    found = {}
    for row in feeder.journal.batches("pending"):
        if row.kind == "usage":
            for cid, quantity, _, _ in feeder.journal.lines(row.batch_id):
                found[(row.meter_key, cid)] = quantity
    return found


def test_end_to_end_flussonic_export_through_the_cli_and_the_feeder(feeder, tmp_path):
    ops = tmp_path / "operator"
    ops.mkdir()
    (ops / "subscribers.csv").write_text(f"subscriber,customer\n1001,{ALICE}\n1002,{BOB}\n")
    (ops / "streams.json").write_text(
        json.dumps({"vod/the_long_night.mp4": {"type": "movie", "content_id": "the_long_night"}})
    )
    (ops / "meters.yaml").write_text("content:\n  cdn-hd: gb_delivered\n")
    events = [
        play_closed("a-live", T, 600),  # Alice, 10 min premium (seconds)
        {"event": "play_started", "id": "a-dvr", "media": "news", "started_at": (T + 900) * 1000},
        play_closed("a-dvr", T + 900, 301, unit=1000, media="news", dvr=True, started_at=None),  # 5 min 3 s, ms
        play_closed("b-vod", T, 5400, user_id="1002", media="vod/the_long_night.mp4"),  # Bob rents the film
        play_closed("b-cdn", T + 6000, 1200, user_id="1002", media="cdn-hd", bytes=2_500_000_001),  # 2501 MB
        play_closed("b-open", T + 8000, user_id="1002", closed_at=None),  # held
        play_closed("x-1", T, user_id="5555", token="tk-unknown"),  # unknown subscriber
    ]
    log = tmp_path / "events.log"
    log.write_text(jsonl(*events) + '{"event": "play_closed", "id": "cut", "media": "sp')
    out, exceptions = tmp_path / "day.csv", tmp_path / "day.exceptions.csv"
    argv = ["adapt", "flussonic", str(log), "--subscribers", str(ops / "subscribers.csv")]
    argv += ["--streams", str(ops / "streams.json"), "--meters", str(ops / "meters.yaml")]
    assert cli([*argv, "--out", str(out), "--quarantine", str(exceptions)]) == 0
    assert (ops / "adapter.key").exists()

    report = feeder.process_file(out)
    assert (report.records, report.quarantined, report.flagged) == (4, 0, 0)
    assert (report.billed, report.rentals) == (4, 1)
    # Alice: ceil((600 + 303) / 60) = 16 premium minutes (a-dvr runs from its opened_at, 2 s before 900)
    assert usage(feeder) == {("premium_minutes", 1): 16, ("gb_delivered", 2): 2501}
    with exceptions.open(newline="") as fp:
        reasons = sorted((e["status"], e["reason"]) for e in csv.DictReader(fp))
    assert reasons == [
        ("held", "session still open (no closed_at)"),
        ("quarantined", "invalid JSON: truncated last line"),
        ("quarantined", "unknown subscriber"),
    ]
    # the same export adapted again gives the same file: the feeder sees it as a replay and bills nothing
    again = tmp_path / "again.csv"
    assert cli([*argv, "--out", str(again), "--quarantine", str(exceptions)]) == 0
    assert again.read_bytes() == out.read_bytes()
    assert feeder.process_file(again).replayed


def test_end_to_end_xtream_and_nginx_through_the_feeder(feeder, tmp_path):
    streams = tmp_path / "streams.csv"
    streams.write_text("stream,type,content_id\n" + "".join(f"{k},{t},{c}\n" for k, (t, c) in XTREAM_STREAMS.items()))
    subscribers = tmp_path / "subs.json"
    subscribers.write_text(json.dumps({"1001": ALICE, "1002": BOB, TOKEN: ALICE}))
    dump = tmp_path / "xtream.sql"
    dump.write_text(XTREAM_DUMP)
    xt = build_adapter("xtream", subscribers, streams=streams, key_file=tmp_path / "k")
    run(xt, [dump], tmp_path / "xtream.csv", tmp_path / "xtream.exceptions.csv")
    report = feeder.process_file(tmp_path / "xtream.csv")
    # 98001: Alice 30 min live; 98002 Bob rents the_long_night; 98004: a series episode that is no VOD title
    # of the deployment: the feeder quarantines its rental meter as unknown
    assert (report.records, report.billed, report.quarantined, report.rentals) == (3, 2, 1, 1)
    assert usage(feeder) == {("premium_minutes", 1): 30}

    access = tmp_path / "access.log"
    access.write_text("".join(combined(T + 7200 + 6 * k, TOKEN, size=2_000_000) for k in range(300)))
    ng = build_adapter("nginx", subscribers, key_file=tmp_path / "k")
    run(ng, [access], tmp_path / "nginx.csv", tmp_path / "nginx.exceptions.csv")
    report = feeder.process_file(tmp_path / "nginx.csv")
    assert (report.records, report.billed) == (1, 1)
    assert usage(feeder)[("gb_delivered", 1)] == 600  # 300 segments of 2 MB


def test_cli_registers_adapt_beside_the_other_commands():
    from streamledger.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["adapt", "nginx", "a.log", "--subscribers", "s.csv", "--out", "o", "--quarantine", "q"])
    assert args.func.__name__ == "cmd_adapt" and args.idle_gap is None and args.segment_seconds == 6.0
    assert parser.parse_args(["feed", "run", "x.csv", "--deployment", "d.json"]).func.__name__ == "cmd_feed_run"


def test_record_row_matches_the_canonical_columns():
    record = Record("s", ALICE, "d", "c", "premium_minutes", 1, 2, 3)
    assert dict(zip(CANONICAL, record.row(), strict=True))["meter"] == "premium_minutes"


# ----- Flussonic over HTTP: the event sink -----------------------------------------------------------------------


@pytest.fixture
def sink(tmp_path):
    import threading

    from streamledger.usage.adapters.sink import make_server

    server = make_server(tmp_path / "events", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/events"
    server.shutdown()
    server.server_close()


def test_events_posted_by_flussonic_are_adapted_like_a_log_file(sink, tmp_path):
    import requests

    server, url = sink
    batch = [play_closed("s1"), {"type": "play_opened", "id": "s2"}, play_closed("s3", user_id="1002")]
    assert requests.post(url, json=batch, timeout=10).status_code == 200
    assert requests.post(url, json=play_closed("s4"), timeout=10).status_code == 200  # one object
    assert requests.post(url, data=jsonl(play_closed("s5")), timeout=10).status_code == 200  # JSON lines

    files = sorted((tmp_path / "events").iterdir())
    out, exceptions = tmp_path / "canonical.csv", tmp_path / "exceptions.csv"
    report = run(FlussonicAdapter(config()), files, out, exceptions)
    with out.open(newline="") as fp:
        rows = list(csv.DictReader(fp))
    assert server.files.received == 5
    assert sorted(r["session_id"] for r in rows) == ["flussonic-s1", "flussonic-s3", "flussonic-s4", "flussonic-s5"]
    assert report.summary()


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),  # not objects
        (b'{"type": "play_closed"}\n[', 400),  # a broken JSON line
    ],
)
def test_a_bad_body_is_refused_whole_and_nothing_is_written(sink, tmp_path, body, status):
    import requests

    server, url = sink
    response = requests.post(url, data=body, timeout=10)
    assert response.status_code == status
    assert response.text.strip()
    assert server.files.received == 0
    assert not any((tmp_path / "events").iterdir())


def test_a_body_over_the_limit_is_refused_with_413(tmp_path):
    import threading

    import requests

    from streamledger.usage.adapters.sink import make_server

    server = make_server(tmp_path / "events", port=0, max_body=100)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert requests.post(url, json=[play_closed("s1")] * 5, timeout=10).status_code == 413
        assert server.files.received == 0
    finally:
        server.shutdown()
        server.server_close()


def test_xtream_csv_a_bare_carriage_return_is_data_and_line_numbers_stay_true(tmp_path):
    text = (
        XTREAM_HEADER
        + "\r\n"
        + f"98001,1001,1201,1,Kodi\r20,{IP},ts,{T},{T + 1800},DE,x,,0\r\n"  # a CR inside the user agent
        + f"98004,3003,1201,1,okhttp/4.9,{IP},ts,{T},{T + 60},DE,x,,0\r\n"
    )
    rows, entries, report = adapt(XtreamAdapter(xtream_config()), tmp_path, text.encode(), "user_activity.csv")
    assert [r["session_id"] for r in rows] == ["xtream-98001"]  # one record, not two broken halves
    assert [(e["line"], e["reason"]) for e in entries] == [("3", "unknown subscriber")]
    report.check()
