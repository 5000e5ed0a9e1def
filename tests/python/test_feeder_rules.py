"""The feeder's validation, fraud rules, aggregation and journal on crafted log files (no chain)."""

import csv
import hashlib
import json

import pytest

from streamledger.oracle import dev_oracle_key, merkle_proof, records_leaf, verify_proof
from streamledger.usage.feeder import CustomerDirectory, Feeder, OracleSigner
from streamledger.usage.journal import Journal

NOW = 1_800_000_000
T = NOW - 86_400  # the day before "now", 00:00 UTC is T - T % 86400
ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
STRANGER = "0x" + "c3" * 20
HEADER = "session_id,customer,device_id,content_id,meter,start,end,bytes"


@pytest.fixture
def deployment(offline_deployment):
    return offline_deployment


@pytest.fixture
def feeder(deployment, tmp_path):
    directory = CustomerDirectory(table={ALICE: (1, 2), BOB: (2, 1), STRANGER: (0, 0)})
    signer = OracleSigner(tuple(dev_oracle_key(i) for i in range(2)), 2)
    return Feeder(
        deployment,
        Journal(tmp_path / "journal.sqlite"),
        tmp_path / "out",
        signer,
        directory,
        deployment.meter_units,
        clock=lambda: NOW,
    )


def csv_log(tmp_path, *rows, name="log.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "\n" + "".join(",".join(str(x) for x in r) + "\n" for r in rows))
    return path


def session(sid, customer=ALICE, device="tv", start=T, minutes=10, meter="premium_minutes", nbytes=0):
    return (sid, customer, device, "ch1", meter, start, start + minutes * 60, nbytes)


def quarantine(feeder):
    with (feeder.out_dir / "quarantine.csv").open(newline="") as fp:
        return [",".join(row) for row in list(csv.reader(fp))[1:]]


def fraud(feeder):
    return [line.split(",")[-1] for line in (feeder.out_dir / "fraud.csv").read_text().splitlines()[1:]]


# ----- validation ------------------------------------------------------------------------------------------


def test_every_record_is_accounted_for(feeder, tmp_path):
    path = csv_log(tmp_path, session("s1"), ("s2", "0xnope", "tv", "ch1", "premium_minutes", T, T + 60, 0))
    report = feeder.process_file(path)
    assert (report.records, report.accepted, report.quarantined) == (2, 1, 1)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("s2", "0xnope", "tv", "ch1", "premium_minutes", T, T + 60, 0), "bad customer address"),
        (("s2", ALICE, "tv", "ch1", "premium_minutes", "yesterday", T + 60, 0), "bad start timestamp"),
        (("s2", ALICE, "tv", "ch1", "premium_minutes", T, "soon", 0), "bad end timestamp"),
        (("s2", ALICE, "tv", "ch1", "premium_minutes", T, T + 60, -5), "bad bytes"),
        (("s2", ALICE, "tv", "ch1", "premium_minutes", T, T + 60, 10**16), "bad bytes"),
        (("s2", ALICE, "tv", "ch1", "premium_minutes", T, T, 0), "zero-length session"),
        (("s2", ALICE, "tv", "ch1", "holo_minutes", T, T + 60, 0), "unknown meter"),
        (("s2", ALICE, "tv", "", "premium_minutes", T, T + 60, 0), "missing content_id"),
        (("", ALICE, "tv", "ch1", "premium_minutes", T, T + 60, 0), "missing session_id"),
        (("s2", ALICE, "tv", "ch1", "premium_minutes", 2**41, 2**41 + 60, 0), "start out of range"),
        (("s" * 300, ALICE, "tv", "ch1", "premium_minutes", T, T + 60, 0), "session_id longer than 256 characters"),
    ],
)
def test_malformed_record_is_quarantined_with_its_line_and_reason(feeder, tmp_path, row, reason):
    path = csv_log(tmp_path, session("s1"), row)
    feeder.process_file(path)
    assert quarantine(feeder) == [f"{path},3,{reason}"]


def test_padded_or_upper_case_meter_keys_and_inner_blanks_are_accepted(feeder, tmp_path):
    rows = [
        ("s1", ALICE.upper().replace("0X", "0x"), "tv", "ch1", " Premium_Minutes ", T, T + 600, 0),
        ("s2", ALICE, "living room tv", "chaîne 1", "premium_minutes", T + 900, T + 1500, ""),
        ("s3", ALICE, " tv", "ch1", "", T + 2000, T + 2600, 0),
    ]
    report = feeder.process_file(csv_log(tmp_path, *rows))
    assert report.quarantined == 0 and (report.billed, report.included) == (2, 1)
    (row,) = feeder.journal.batches("pending")
    assert feeder.journal.lines(row.batch_id)[0][:2] == (1, 20)  # one line: 2 x 10 minutes


def test_the_first_broken_rule_is_the_reason(feeder, tmp_path):
    rows = [
        ("", "0xnope", "tv", "ch1", "holo", "x", "y", -1),  # everything wrong: the first rule wins
        ("s2", "0xnope", "tv", "ch1", "holo", T, T, 0),
        ("s3", ALICE, "tv", "ch1", "holo", T, T, 0),
        ("s4", ALICE, "tv\x01", "ch1", "holo", T, T, 0),
    ]
    feeder.process_file(csv_log(tmp_path, *rows))
    assert [line.split(",", 2)[2] for line in quarantine(feeder)] == [
        "missing session_id",
        "bad customer address",
        "unknown meter",
        "control characters in device_id",
    ]


def test_invalid_utf8_and_blank_lines_are_quarantined(feeder, tmp_path):
    path = tmp_path / "bytes.csv"
    good = ",".join(str(x) for x in session("s1")).encode()
    bad = ",".join(str(x) for x in session("s2")).replace("tv", "t\xffv").encode("latin-1")
    path.write_bytes(HEADER.encode() + b"\n" + good + b"\n\n" + bad + b"\n")
    report = feeder.process_file(path)
    assert quarantine(feeder) == [f"{path},3,empty line", f"{path},4,invalid characters in device_id"]
    assert report.accepted == 1


def test_jsonl_records_with_broken_json_are_quarantined(feeder, tmp_path):
    path = tmp_path / "log.jsonl"
    good = {
        "session_id": "s1",
        "customer": ALICE,
        "device_id": "tv",
        "content_id": "c",
        "meter": "premium_minutes",
        "start": T,
        "end": T + 600,
    }
    path.write_text(
        json.dumps(good) + "\n{not json\n[1, 2]\n" + json.dumps({**good, "session_id": "s2", "start": True}) + "\n"
    )
    report = feeder.process_file(path)
    assert report.records == 4 and report.accepted == 1
    reasons = [line.split(",", 2)[2] for line in quarantine(feeder)]
    assert reasons[0].startswith("invalid JSON") and reasons[1:] == ["not a JSON object", "invalid characters in start"]


def test_iso_timestamps_are_read_as_utc(feeder, tmp_path):
    path = csv_log(
        tmp_path, ("s1", ALICE, "tv", "ch1", "premium_minutes", "2026-11-24T10:00:00Z", "2026-11-24T10:30:00+00:00", 0)
    )
    feeder.process_file(path)
    (row,) = feeder.journal.batches("pending")
    assert feeder.journal.lines(row.batch_id)[0][1] == 30


# ----- fraud -----------------------------------------------------------------------------------------------


def test_duplicate_session_in_a_run_is_flagged_and_billed_once(feeder, tmp_path):
    report = feeder.process_file(csv_log(tmp_path, session("s1"), session("s1")))
    assert report.flags == {"duplicate session id": 1}
    (row,) = feeder.journal.batches("pending")
    assert feeder.journal.lines(row.batch_id)[0][1] == 10


def test_duplicate_session_in_a_later_run_is_flagged(feeder, tmp_path):
    feeder.process_file(csv_log(tmp_path, session("s1"), name="a.csv"))
    report = feeder.process_file(csv_log(tmp_path, session("s1"), session("s2", start=T + 3600), name="b.csv"))
    assert report.flags == {"duplicate session id (earlier run)": 1}
    assert report.billed == 1


def test_replayed_file_bills_nothing(feeder, tmp_path):
    path = csv_log(tmp_path, session("s1"))
    feeder.process_file(path)
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(path.read_bytes())
    report = feeder.process_file(copy)
    assert report.replayed and report.flags == {"replayed log file": 1} and report.batches == 0


def test_streams_beyond_the_plan_limit_are_flagged(feeder, tmp_path):
    # Bob's plan allows 1 stream: his second overlapping session is flagged; back-to-back is fine.
    rows = [
        session("b1", BOB, "tv", T, 60),
        session("b2", BOB, "phone", T + 600, 10),  # overlaps b1
        session("b3", BOB, "tv", T + 3600, 10),  # starts when b1 ends
    ]
    report = feeder.process_file(csv_log(tmp_path, *rows))
    assert report.flags == {"concurrent streams over the plan limit": 1}
    assert fraud(feeder) == ["concurrent streams over the plan limit"]


def test_sessions_starting_the_same_second_flag_the_later_line(feeder, tmp_path):
    rows = [session("b1", BOB, "tv", T, 30), session("b2", BOB, "phone", T, 30), session("b3", BOB, "pc", T, 30)]
    feeder.process_file(csv_log(tmp_path, *rows))
    with (feeder.out_dir / "fraud.csv").open(newline="") as fp:
        flagged = [(row["line"], row["session_id"]) for row in csv.DictReader(fp)]
    assert flagged == [("3", "b2"), ("4", "b3")]  # Bob may watch 1 stream: the first line in the file is kept


def test_a_day_of_viewing_spread_over_devices_is_not_flagged(feeder, tmp_path):
    day = T - T % 86_400
    # 30 hours in the customer-day, but no device over 24 h (Alice may watch 2 streams)
    rows = [session(f"t{i}", ALICE, "tv", day + i * 3600 * 5, 300) for i in range(3)]
    rows += [session(f"p{i}", ALICE, "phone", day + i * 3600 * 5, 300) for i in range(3)]
    report = feeder.process_file(csv_log(tmp_path, *rows))
    assert report.flags == {} and report.billed == 6


def test_more_than_a_day_of_viewing_per_device_day_is_flagged(feeder, tmp_path):
    day = T - T % 86_400
    rows = [session(f"s{i}", ALICE, "tv", day + i * 3600 * 5, 300) for i in range(5)]  # 5 x 5h = 25h
    report = feeder.process_file(csv_log(tmp_path, *rows))
    assert report.flags == {"over 24 h per device-day": 5}
    assert report.batches == 0


def test_end_before_start_future_timestamps_and_unknown_customers_are_flagged(feeder, tmp_path):
    rows = [
        ("s1", ALICE, "tv", "ch1", "premium_minutes", T + 600, T, 0),
        session("s2", ALICE, "tv", NOW + 3600),
        session("s3", STRANGER),
        session("s4", "0x" + "d4" * 20),  # not in the directory at all
    ]
    report = feeder.process_file(csv_log(tmp_path, *rows))
    assert report.flags == {"end before start": 1, "timestamp in the future": 1, "unknown customer": 2}


def test_fraud_report_cells_a_spreadsheet_would_run_as_formulas_are_quoted_but_the_journal_is_exact(feeder, tmp_path):
    rows = [
        session("=cmd|' /C calc'!A0", STRANGER, "@SUM(1+1)*cmd|' /C calc'!A0"),  # unknown customer: flagged
        session("+1+1", ALICE, "\u202egnp.exe"),  # clean
        session("+1+1", ALICE, "-2+3", start=T + 3600),  # its duplicate: flagged
    ]
    feeder.process_file(csv_log(tmp_path, *rows))

    with (feeder.out_dir / "fraud.csv").open(newline="") as fp:
        flagged = [(row["session_id"], row["customer"], row["device_id"]) for row in csv.DictReader(fp)]
    assert flagged == [
        ("'=cmd|' /C calc'!A0", STRANGER, "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("'+1+1", ALICE, "'-2+3"),
    ]
    assert feeder.journal.seen_sessions(0).to_list() == ["+1+1"]  # what duplicate checks compare: exact


# ----- aggregation and batches -----------------------------------------------------------------------------


def test_lines_are_per_customer_meter_and_day_with_quantities_rounded_up(feeder, tmp_path):
    day = T - T % 86_400
    rows = [
        session("a1", ALICE, "tv", day + 100, 1),
        ("a2", ALICE, "tv", "ch1", "premium_minutes", day + 1000, day + 1001, 0),  # 1 second
        session("a3", ALICE, "tv", day + 86_400 + 50, 2),  # the next day: another line
        session("g1", BOB, "tv", day + 10, 1, meter="gb_delivered", nbytes=1_234_567),
    ]
    feeder.process_file(csv_log(tmp_path, *rows))
    got = {}
    for row in feeder.journal.batches("pending"):
        for cid, qty, _, n in feeder.journal.lines(row.batch_id):
            got[(row.meter_key, row.window_start, cid)] = (qty, n)
    assert got == {
        ("premium_minutes", day, 1): (2, 2),  # 61 s -> 2 minutes
        ("premium_minutes", day + 86_400, 1): (2, 1),
        ("gb_delivered", day, 2): (2, 1),  # 1,234,567 bytes -> 2 MB
    }


def test_records_hash_and_merkle_proof_let_anyone_check_a_line(feeder, tmp_path):
    rows = [session("a1", ALICE, start=T), session("a2", ALICE, start=T + 1000), session("b1", BOB, start=T)]
    feeder.process_file(csv_log(tmp_path, *rows))
    (row,) = feeder.journal.batches("pending")
    lines = feeder.journal.lines(row.batch_id)
    texts = sorted(f"{s}|{ALICE}|tv|ch1|premium_minutes|{t}|{t + 600}|0" for s, t in (("a1", T), ("a2", T + 1000)))
    assert lines[0][2] == hashlib.sha256("\n".join(texts).encode()).digest()
    leaves = [records_leaf(i, cid, rh) for i, (cid, _, rh, _) in enumerate(lines)]
    assert all(verify_proof(merkle_proof(leaves, i), row.records_root, leaves[i]) for i in range(len(lines)))


def test_batches_are_split_at_max_lines_and_ids_come_from_content(deployment, feeder, tmp_path):
    feeder.max_lines = 1
    path = csv_log(tmp_path, session("a1", ALICE), session("b1", BOB))
    feeder.process_file(path)
    first = sorted(r.batch_id for r in feeder.journal.batches("pending"))
    assert len(first) == 2
    other = Feeder(
        deployment,
        Journal(tmp_path / "j2.sqlite"),
        tmp_path / "o2",
        feeder.signer,
        feeder.directory,
        deployment.meter_units,
        max_lines=1,
        clock=lambda: NOW,
    )
    other.process_file(path)
    assert sorted(r.batch_id for r in other.journal.batches("pending")) == first


def test_batches_carry_threshold_signatures_of_oracle_signers(deployment, feeder, tmp_path):
    from streamledger.oracle import recover

    feeder.process_file(csv_log(tmp_path, session("a1")))
    (row,) = feeder.journal.batches("pending")
    digest = feeder.batch_data(row).digest(deployment.chain_id, deployment.billing)
    signers = [recover(digest, s) for s in row.signature_list()]
    assert len(signers) == 2 and signers == sorted(signers, key=lambda a: int(a, 16))
    assert set(signers) <= set(deployment.oracle_signers)


def test_vod_first_play_becomes_a_rental_report(feeder, tmp_path):
    rows = [
        session("v1", ALICE, start=T + 500, meter="rental:the_long_night"),
        session("v2", ALICE, start=T + 9000, meter="rental:the_long_night"),
    ]
    report = feeder.process_file(csv_log(tmp_path, *rows))
    assert report.rentals == 1
    (row,) = feeder.journal.batches("pending")
    rental = feeder.batch_data(row).rentals[0]
    assert (rental.customer_id, rental.title_id, rental.first_play_at) == (1, 1, T + 500)


def test_dry_run_writes_nothing(feeder, tmp_path):
    report = feeder.process_file(csv_log(tmp_path, session("s1")), dry_run=True)
    assert report.lines == 1
    assert feeder.journal.batches("pending", "unsigned") == []
    assert not (feeder.out_dir / "quarantine.csv").exists()


def test_without_enough_keys_batches_wait_for_external_signatures(deployment, feeder, tmp_path):
    from streamledger.oracle import sign_digest

    feeder.signer = OracleSigner((dev_oracle_key(0),), 2)
    feeder.process_file(csv_log(tmp_path, session("s1")))
    (row,) = feeder.journal.batches("unsigned")
    exported = feeder.export_unsigned(tmp_path / "typed")
    assert exported[0].name == f"{row.batch_id}.json"
    digest = feeder.batch_data(row).digest(deployment.chain_id, deployment.billing)
    assert len(row.signature_list()) == 1  # the feeder's own key signed; one more is needed
    sig = "0x" + sign_digest(digest, dev_oracle_key(2)).hex()
    assert feeder.import_signatures(row.batch_id, [sig], set(deployment.oracle_signers)) == 2
    assert [r.batch_id for r in feeder.journal.batches("pending")] == [row.batch_id]
