"""Hostile and broken landed files (IG.md promises 1, 5 and 8; FEEDS.md common rules): each is refused or has its
bad rows quarantined with a reason code, the attempt is recorded, good rows are never lost, and nothing read from
a file, nor a misnamed file's name, appears in a reason, a log line or the audit."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from ipb.ingest import load_file
from ipb.ingest.filecheck import FileRejected
from ipb.ingest.landing import display_name, snapshot
from ipb.orchestration.ingestion import files_for_feed, load_one
from tests import feedrows as fr

NIGHT = "20261122"
PERSON = fr.phb(1, forename="Zoë", surname="Brontë", postcode="ME14 1XX", date_of_birth="1950-03-04")
SECRETS = (PERSON["nhs_number"], "Brontë", "Zoë", "ME14 1XX", "1950-03-04")


def _audit(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select file_name, status, reason_code, coalesce(reason, ''), rows_in_file"
                            " from audit.batches order by batch_id").fetchall()


def _assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"an identifier from the file leaked into: {text!r:.200}"


def test_file_without_header_is_rejected_without_quoting_its_first_row(
        fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = fr.csv_text("nhs_phb", [PERSON, fr.phb(2)]).split("\n", 1)[1]
    path = fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", body)
    with caplog.at_level(logging.DEBUG):
        result = load_file("nhs_phb", path)
    assert (result.status, result.reason_code) == ("rejected", "header_mismatch")
    assert "header row missing" in (result.reason or "")
    _assert_no_secret(result.reason, caplog.text, _audit(fresh_db))


def test_unknown_header_cells_are_named_only_when_they_look_like_column_names(fresh_db: str, tmp_path: Path) -> None:
    cols = list(fr.feeds.FEEDS["nhs_phb"].columns)
    header = cols + [PERSON["nhs_number"], "Shoe size"]
    path = fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", fr.csv_text("nhs_phb", [fr.phb(1)], header))
    result = load_file("nhs_phb", path)
    assert result.reason_code == "extra_columns"
    assert "'Shoe size'" in (result.reason or "") and f"column {len(cols) + 1}" in (result.reason or "")
    _assert_no_secret(result.reason)


def test_symlink_is_refused_unread_and_recorded(fresh_db: str, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = fr.write(outside, "secret.csv", fr.csv_text("nhs_phb", [PERSON]).split("\n", 1)[1])
    night = tmp_path / "landing"
    night.mkdir()
    (night / f"nhs_phb_QKS_{NIGHT}.csv").symlink_to(target)
    results = [load_one("nhs_phb", ref, "run-1") for ref in files_for_feed("nhs_phb", "2026-11-22", str(night))]
    assert [(r["status"], r["reason_code"], r["checksum"]) for r in results] == [("rejected", "symlink", None)]
    audit = _audit(fresh_db)
    assert [(a[1], a[2]) for a in audit] == [("rejected", "symlink")]
    _assert_no_secret(results, audit)


def test_every_entry_of_a_night_is_accounted_for_and_misnamed_names_are_withheld(
        fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    night = tmp_path / "2026-11-22"
    night.mkdir()
    good = fr.csv_text("nhs_phb", [fr.phb(1)])
    fr.write(night, f"nhs_phb_QKS_{NIGHT}.csv", good)
    misnamed = {
        f"Brontë {PERSON['nhs_number']}.csv": "bad_file_name",  # claims no feed: the name itself is personal
        "nhs_phb_QKS_２０２６１１２２.csv": "bad_file_name",  # digits of another script
        f"nhs_phb_QKS_{NIGHT}.csv\n": "bad_file_name",  # trailing newline
        f"nhs_phb_{PERSON['nhs_number']}_{NIGHT}.csv": "bad_file_name",  # a "sender" no code can be
        f"social_care_886_{NIGHT}.txt": "bad_file_name",
    }
    for name in misnamed:
        (night / name).write_text(good)
    (night / "subfolder").mkdir()
    os.mkfifo(night / f"send_886_{NIGHT}.xml")  # a FIFO would block a naive reader for ever
    refs = {feed: files_for_feed(feed, "2026-11-22", str(night))
            for feed in ("nhs_phb", "social_care", "send")}
    assert sum(len(r) for r in refs.values()) == len(os.listdir(night))  # each entry is claimed by one DAG
    with caplog.at_level(logging.DEBUG):
        results = [load_one(feed, ref, "run-1") for feed, rs in refs.items() for ref in rs]
    by_status = sorted((r["status"], r["reason_code"] or "") for r in results)
    assert by_status == sorted([("loaded", "")] + [("rejected", c) for c in misnamed.values()]
                               + [("rejected", "bad_file_name"), ("rejected", "not_a_file")])
    audit = _audit(fresh_db)
    assert len(audit) == len(os.listdir(night))
    _assert_no_secret(refs, results, audit, caplog.text)
    assert all(a[0] == f"nhs_phb_QKS_{NIGHT}.csv" or a[0].startswith("#withheld-") or a[0].startswith("send_")
               for a in audit)


def test_extract_date_in_the_future_is_refused_and_does_not_freeze_the_sender(fresh_db: str, tmp_path: Path) -> None:
    future = (date.today() + timedelta(days=3)).strftime("%Y%m%d")
    tomorrow = (date.today() + timedelta(days=1)).strftime("%Y%m%d")
    bad = load_file("nhs_phb", fr.write(tmp_path, f"nhs_phb_QKS_{future}.csv", fr.csv_text("nhs_phb", [fr.phb(1)])))
    assert (bad.status, bad.reason_code) == ("rejected", "extract_date_in_future")
    assert load_file("nhs_phb", fr.write(tmp_path, "nhs_phb_QKS_20991231.csv",
                                         fr.csv_text("nhs_phb", [fr.phb(2)]))).reason_code == "extract_date_in_future"
    # A sender a few hours ahead (time zones, clocks) is tolerated.
    ahead = load_file("nhs_phb", fr.write(tmp_path, f"nhs_phb_QKS_{tomorrow}.csv",
                                          fr.csv_text("nhs_phb", [fr.phb(3)])))
    assert ahead.status == "loaded"
    with psycopg.connect(fresh_db) as conn:
        current = conn.execute("select file_name from audit.current_batches where feed = 'nhs_phb'").fetchall()
    assert current == [(f"nhs_phb_QKS_{tomorrow}.csv",)]


def _append_slowly(path: Path, lines: list[str], stop: threading.Event, pause: float = 0.02) -> None:
    """An upload in progress: whole lines appended one at a time."""
    with path.open("a") as fh:
        for line in lines:
            if stop.is_set():
                return
            fh.write(line)
            fh.flush()
            time.sleep(pause)


def test_a_file_still_being_written_loads_only_once_complete(fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / f"nhs_phb_QKS_{NIGHT}.csv"
    lines = fr.csv_text("nhs_phb", [fr.phb(i) for i in range(1, 151)]).splitlines(keepends=True)
    path.write_text("".join(lines[:50]))
    stop = threading.Event()
    thread = threading.Thread(target=_append_slowly, args=(path, lines[50:], stop))
    thread.start()
    try:
        result = load_file("nhs_phb", path)
    finally:
        stop.set()
        thread.join()
    # The load waited for the file to settle: every row, and what was checksummed is exactly what was loaded.
    assert (result.status, result.rows_in_file, result.rows_loaded) == ("loaded", 150, 150)
    assert result.checksum == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.fast
def test_a_file_that_never_settles_is_refused_as_in_motion(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n")
    stop = threading.Event()
    thread = threading.Thread(target=_append_slowly, args=(path, ["1,2\n"] * 1000, stop))
    thread.start()
    try:
        with pytest.raises(FileRejected) as refused, snapshot(path, settle=0.5, max_wait=1.5):
            pass
    finally:
        stop.set()
        thread.join()
    assert refused.value.code == "file_in_motion"


@pytest.mark.fast
def test_snapshot_checksum_covers_exactly_the_copied_bytes(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n1,2\n")
    os.utime(path, (time.time() - 60, time.time() - 60))
    with snapshot(path) as snap:
        with path.open("ab") as fh:  # grows after the copy: the snapshot does not
            fh.write(b"3,4\n")
        copied = snap.path.read_bytes()
        assert copied == b"a,b\n1,2\n" and snap.checksum == hashlib.sha256(copied).hexdigest()
        assert oct(snap.path.stat().st_mode & 0o777) == oct(0o600)
    assert not snap.path.exists()


@pytest.mark.fast
def test_the_file_scan_sees_every_copied_byte_in_order_and_its_errors_surface(tmp_path: Path) -> None:
    """The snapshot hashes and scans the file on two threads as it copies it: the scan sees each byte once, in
    order, across many chunks; the checksum is still that of the copy; a scan that fails fails the snapshot, and
    the private copy does not outlive it."""
    path = tmp_path / "f.csv"
    data = os.urandom(3 * (1 << 20) + 12345)
    path.write_bytes(data)
    os.utime(path, (time.time() - 60, time.time() - 60))
    seen: list[bytes] = []
    with snapshot(path, observe=seen.append) as snap:
        assert b"".join(seen) == data and len(seen) > 3
        assert snap.checksum == hashlib.sha256(data).hexdigest() == hashlib.sha256(snap.path.read_bytes()).hexdigest()

    def failing(chunk: bytes) -> None:
        raise ValueError("scan failed")

    copies = set(tmp_path.iterdir())
    with pytest.raises(ValueError, match="scan failed"), snapshot(path, tmp_dir=tmp_path, observe=failing):
        pass
    assert set(tmp_path.iterdir()) == copies


def test_nul_byte_quarantines_its_row_and_keeps_the_others(fresh_db: str, tmp_path: Path) -> None:
    text = fr.csv_text("nhs_phb", [fr.phb(1), fr.phb(2, surname="Nu\x00ll"), fr.phb(3)])
    result = load_file("nhs_phb", fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", text))
    assert (result.status, result.rows_in_file, result.rows_loaded) == ("loaded", 3, 2)
    assert result.quarantine_reasons == {"nul_byte": 1}


def test_cr_only_line_ends_are_refused_and_recorded(fresh_db: str, tmp_path: Path) -> None:
    text = fr.csv_text("nhs_phb", [fr.phb(1), fr.phb(2)], line_end="\r")
    result = load_file("nhs_phb", fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", text))
    assert (result.status, result.reason_code) == ("rejected", "bad_line_endings")
    assert [a[1:3] for a in _audit(fresh_db)] == [("rejected", "bad_line_endings")]


@pytest.mark.parametrize("header_extra", ["[/]", "[bold]x[/bold]", "a\"b", '"unclosed'])
def test_odd_header_cells_are_refused_with_a_reason(fresh_db: str, tmp_path: Path, header_extra: str) -> None:
    cols = ",".join(fr.feeds.FEEDS["nhs_phb"].columns)
    body = fr.csv_text("nhs_phb", [fr.phb(1)]).split("\n", 1)[1]
    path = fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", f"{cols},{header_extra}\n{body}")
    result = load_file("nhs_phb", path)
    assert result.status == "rejected" and result.reason_code in ("extra_columns", "bad_header")
    assert [a[1] for a in _audit(fresh_db)] == ["rejected"]


@pytest.mark.parametrize(("slow_path", "long_value"), [(False, "X" * (1 << 20)), (True, "X" * (1 << 20)),
                                                     (False, "line\n" * 2000)],
                         ids=["copy", "record-by-record", "quoted-over-many-lines"])
def test_oversized_field_quarantines_its_row_not_the_file(fresh_db: str, tmp_path: Path, slow_path: bool,
                                                          long_value: str) -> None:
    rows = [fr.phb(1), fr.phb(2, surname=long_value), fr.phb(3)]
    text = fr.csv_text("nhs_phb", rows)
    if slow_path:  # a short row as well sends the load down the record-by-record parser
        text += "PHB999999,only,three\n"
    result = load_file("nhs_phb", fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", text))
    assert result.status == "loaded"
    assert result.rows_loaded == 2
    assert result.quarantine_reasons.get("field_too_long") == 1
    with psycopg.connect(fresh_db) as conn:  # the oversized value is not kept in the quarantine either
        kept = conn.execute("select max(length(record::text)) from quarantine.rows"
                            " where reason_code = 'field_too_long'").fetchone()[0]
    assert kept < 100


def test_utf8_file_with_one_windows_1252_byte_is_not_silently_re_encoded(fresh_db: str, tmp_path: Path) -> None:
    text = fr.csv_text("nhs_phb", [fr.phb(1, forename="Zoë"), fr.phb(2), fr.phb(3)])
    data = text.encode("utf-8").replace(b"Testperson3", b"Testperson\xe93")  # one cp1252 'é'
    (tmp_path / f"nhs_phb_QKS_{NIGHT}.csv").write_bytes(data)
    result = load_file("nhs_phb", tmp_path / f"nhs_phb_QKS_{NIGHT}.csv")
    assert (result.status, result.reason_code) == ("rejected", "mixed_encoding")
    assert "line 4" in (result.reason or "")
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("select to_regclass('raw.nhs_phb') is not null and "
                              "exists (select from raw.nhs_phb where forename like '%Ã%')").fetchone()[0]
    assert stored is False


@pytest.mark.fast
def test_display_name_keeps_contract_names_and_withholds_the_rest() -> None:
    assert display_name(f"nhs_phb_QKS_{NIGHT}.csv") == f"nhs_phb_QKS_{NIGHT}.csv"
    withheld = display_name(f"{PERSON['nhs_number']}.csv")
    assert withheld.startswith("#withheld-") and PERSON["nhs_number"] not in withheld


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_files_are_refused_with_a_reason(fresh_db: str, tmp_path: Path, encoding: str) -> None:
    text = fr.csv_text("nhs_phb", [fr.phb(1)])
    path = tmp_path / f"nhs_phb_QKS_{NIGHT}.csv"
    path.write_bytes(text.encode(encoding))  # Python writes the byte order mark
    result = load_file("nhs_phb", path)
    assert (result.status, result.reason_code) == ("rejected", "bad_encoding")
    assert "UTF-16" in (result.reason or "")
