"""Ingestion into a real PostgreSQL: file checks, row rules to quarantine, lineage, row accounting,
idempotency and snapshot semantics. Hand-made files, one defect each, so every expectation is exact."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import psycopg
import pytest

from ipb.ingest import load_file
from ipb.ingest.landing import display_name
from tests import feedrows as fr

NIGHT = "20261122"


def _load_rows(tmp_path: Path, feed: str, rows: list[dict], sender: str, date: str = NIGHT):
    name = f"{feed}_{sender}_{date}.csv"
    return load_file(feed, fr.write(tmp_path, name, fr.csv_text(feed, rows)))


def test_good_file_loads_with_lineage(fresh_db: str, tmp_path: Path) -> None:
    rows = [fr.phb(i) for i in range(1, 6)]
    result = _load_rows(tmp_path, "nhs_phb", rows, "QKS")
    assert (result.status, result.rows_in_file, result.rows_loaded, result.rows_quarantined) == ("loaded", 5, 5, 0)
    with psycopg.connect(fresh_db) as conn:
        got = conn.execute(
            "select _row_number, phb_id, _file_name, _file_checksum, _sender_code, _extract_date::text,"
            " _loaded_at is not null, notional_gbp from raw.nhs_phb order by _row_number"
        ).fetchall()
        batch = conn.execute("select status, rows_in_file, rows_loaded, rows_quarantined, checksum from audit.batches"
                             ).fetchone()
    assert [g[0] for g in got] == [1, 2, 3, 4, 5]
    assert [g[1] for g in got] == [r["phb_id"] for r in rows]
    assert {g[2] for g in got} == {f"nhs_phb_QKS_{NIGHT}.csv"}
    assert {g[3] for g in got} == {result.checksum} and len(result.checksum) == 64
    assert {(g[4], g[5], g[6]) for g in got} == {("QKS", "2026-11-22", True)}
    assert got[0][7] == "41250.50"  # raw keeps values as sent
    assert batch == ("loaded", 5, 5, 0, result.checksum)


def test_each_load_stamps_its_own_lineage_and_an_older_warehouse_gets_the_folded_defaults(
        fresh_db: str, tmp_path: Path) -> None:
    """The lineage columns default from the load's settings through raw.load_setting, which COPY evaluates once per
    statement (declared immutable for that): each load's rows still carry that load's own batch, file and date. A
    raw table made with the earlier per-row defaults is brought to the new ones by the next load."""
    from ipb import db

    db.bootstrap()
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        # A warehouse from before: the per-row current_setting defaults.
        conn.execute("alter table raw.nhs_phb alter column _batch_id set default "
                     "current_setting('ipb.batch_id')::bigint")
    day1 = tmp_path / "a"
    day1.mkdir()
    first = _load_rows(day1, "nhs_phb", [fr.phb(i) for i in range(1, 4)], "QKS", "20261121")
    second = _load_rows(tmp_path, "nhs_phb", [fr.phb(i) for i in range(1, 6)], "QKS", "20261122")
    with psycopg.connect(fresh_db) as conn:
        got = conn.execute(
            "select _batch_id, _file_name, _file_checksum, _extract_date::text, _date_format, count(*),"
            " min(_row_number), max(_row_number) from raw.nhs_phb group by 1, 2, 3, 4, 5 order by 1").fetchall()
        defaults = dict(conn.execute(
            "select a.attname, pg_get_expr(d.adbin, d.adrelid) from pg_attrdef as d join pg_attribute as a"
            " on a.attrelid = d.adrelid and a.attnum = d.adnum where d.adrelid = 'raw.nhs_phb'::regclass").fetchall())
        volatility = conn.execute("select provolatile from pg_proc where oid = 'raw.load_setting'::regproc"
                                  ).fetchone()[0]
    assert got == [
        (first.batch_id, "nhs_phb_QKS_20261121.csv", first.checksum, "2026-11-21", "iso", 3, 1, 3),
        (second.batch_id, "nhs_phb_QKS_20261122.csv", second.checksum, "2026-11-22", "iso", 5, 1, 5),
    ]
    assert all("load_setting" in defaults[c] for c in ("_batch_id", "_file_name", "_file_checksum", "_row_number",
                                                        "_sender_code", "_extract_date", "_date_format"))
    assert volatility == "i"


def test_a_load_leaves_its_batch_ranges_summarised(fresh_db: str, tmp_path: Path) -> None:
    """Readers find a batch's rows through the BRIN index on _batch_id; a block range the index has not summarised
    matches every batch (a whole-table read per batch), so each load summarises its own before it commits."""
    # Enough rows for several full block ranges (128 pages each); a partial last range is left for later loads.
    result = _load_rows(tmp_path, "nhs_phb", [fr.phb(i) for i in range(1, 12001)], "QKS")
    assert result.rows_loaded == 12000
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        pages = conn.execute("select pg_relation_size('raw.nhs_phb') / current_setting('block_size')::int"
                             ).fetchone()[0]
        assert pages > 2 * 128
        assert conn.execute("select brin_summarize_new_values('raw.nhs_phb_batch_brin')").fetchone()[0] == 0


def test_a_load_summarises_its_ranges_itself_when_its_table_stays_locked(
        fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A second connection summarises the new ranges while the load accounts for its rows. If it cannot lock the
    table (here another session holds it; in life, DDL queued behind the load), it gives up after a timeout and the
    load summarises them itself, once the table is free, instead of waiting forever."""
    from ipb import db
    from ipb.ingest import loader

    db.bootstrap()
    monkeypatch.setattr(loader, "BESIDE_LOCK_TIMEOUT_S", 0.5)
    holder = psycopg.connect(fresh_db)
    holder.execute("lock table raw.nhs_phb in share update exclusive mode")

    class ReleaseWhenTheLoadTakesOver(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "summarises its block ranges itself" in record.getMessage():
                holder.rollback()

    handler = ReleaseWhenTheLoadTakesOver()
    logging.getLogger("ipb.ingest.loader").addHandler(handler)
    guard = threading.Timer(60.0, holder.rollback)  # a load that never gives up fails the test instead of hanging it
    guard.start()
    try:
        with caplog.at_level(logging.INFO, logger="ipb.ingest.loader"):
            result = _load_rows(tmp_path, "nhs_phb", [fr.phb(i) for i in range(1, 12001)], "QKS")
    finally:
        guard.cancel()
        logging.getLogger("ipb.ingest.loader").removeHandler(handler)
        holder.close()
    assert (result.status, result.rows_loaded) == ("loaded", 12000)
    assert "raw.nhs_phb was locked or a second connection failed" in caplog.text
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        assert conn.execute("select brin_summarize_new_values('raw.nhs_phb_batch_brin')").fetchone()[0] == 0


def test_the_build_analyzes_the_raw_tables_that_loaded_before_dbt_reads_them(fresh_db: str, tmp_path: Path) -> None:
    """Staging is planned on the raw tables' statistics: the build's first task analyzes the tables that loaded
    since the last build (autoanalyze may come only after the staging model started), and only those."""
    from ipb.orchestration.build import check_feeds

    _load_rows(tmp_path, "nhs_phb", [fr.phb(i) for i in range(1, 6)], "QKS")
    _load_rows(tmp_path, "social_care", [fr.social_care(i) for i in range(1, 4)], "886")
    stats = "select relname, last_analyze is not null from pg_stat_user_tables where schemaname = 'raw'"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        assert not any(done for _, done in conn.execute(stats).fetchall())
        assert check_feeds("test_run", "2026-11-22") is not None
        conn.execute("select pg_stat_clear_snapshot()")
        analyzed = dict(conn.execute(stats).fetchall())
    assert analyzed["nhs_phb"] and analyzed["social_care"]
    assert not analyzed["send"] and not analyzed["send_budget"]


ROW_CASES = [
    ("nhs_phb", "QKS", {"nhs_number": fr.nhs_number(7)[:9] + str((int(fr.nhs_number(7)[9]) + 1) % 10)},
     "invalid_nhs_number"),
    ("nhs_phb", "QKS", {"surname": ""}, "missing_required"),
    ("nhs_phb", "QKS", {"start_date": "2025-13-01"}, "invalid_date"),
    ("nhs_phb", "QKS", {"date_of_birth": "2099-01-01"}, "birth_date_in_future"),
    ("nhs_phb", "QKS", {"notional_gbp": "-5.00"}, "negative_amount"),
    ("nhs_phb", "QKS", {"notional_gbp": "12.345"}, "invalid_amount"),
    ("nhs_phb", "QKS", {"management_option": "DIRECT_PAYMENT"}, "management_option_mismatch"),
    ("nhs_phb", "QKS", {"phb_category": "WHEELCHAIR", "budget_basis": "ONE_OFF", "direct_payment_gbp": "3000",
                        "notional_gbp": "0", "management_option": "DIRECT_PAYMENT"}, "direct_payment_not_allowed"),
    ("nhs_phb", "QKS", {"phb_category": "PMCB", "notional_gbp": "0", "third_party_gbp": "900",
                        "management_option": "THIRD_PARTY"}, "maternity_notional_only"),
    ("nhs_phb", "QKS", {"date_of_birth": "2015-01-01"}, "chc_under_18"),
    ("nhs_phb", "QKS", {"phb_category": "CYP_CC"}, "cyp_cc_18_or_over"),
    ("nhs_phb", "QKS", {"sub_icb_code": "ZZ9"}, "unknown_organisation"),
    ("nhs_phb", "QKS", {"icb_code": "QRL"}, "sender_mismatch"),
    ("nhs_phb", "QKS", {"postcode": "NOT A PC"}, "invalid_postcode"),
    ("nhs_phb", "QKS", {"sex": "7"}, "invalid_code"),
    ("nhs_phb", "QKS", {"end_date": "2024-01-01"}, "end_before_start"),
    ("social_care", "886", {"Date_of_Birth": "2010-01-01"}, "age_out_of_range"),
    ("social_care", "886", {"Planned_units_per_week": ""}, "invalid_units"),
    ("social_care", "886", {"Delivery_Mechanism": "Cash"}, "invalid_code"),
    ("social_care", "886", {"Unit_Cost": ""}, "missing_required"),
    ("social_care", "886", {"LA_Code": "850"}, "sender_mismatch"),
    ("send_budget", "886", {"PersonBirthDate": "1990-01-01"}, "age_out_of_range"),
    ("send_budget", "886", {"EducationElementGBP": "", "SocialCareElementGBP": ""}, "missing_amounts"),
    ("send_budget", "886", {"DirectPaymentGBP": "7500.01"}, "direct_payment_exceeds_total"),
    ("send_budget", "886", {"Sex": "1"}, "invalid_code"),
]


@pytest.mark.parametrize(("feed", "sender", "change", "reason"), ROW_CASES,
                         ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(ROW_CASES)])
def test_row_rule_quarantines_only_the_bad_row(fresh_db: str, tmp_path: Path, feed: str, sender: str,
                                               change: dict, reason: str) -> None:
    make = fr.ROWS[feed]
    rows = [make(1), make(2, **change), make(3)]
    result = _load_rows(tmp_path, feed, rows, sender)
    assert result.status == "loaded"
    assert (result.rows_in_file, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert result.quarantine_reasons == {reason: 1}
    with psycopg.connect(fresh_db) as conn:
        q = conn.execute("select row_number, reason_code, reason, record from quarantine.rows").fetchone()
    assert q[0] == 2 and q[1] == reason
    # The readable reason names the rule, never the offending value.
    for value in change.values():
        if value and len(value) > 2:
            assert value not in q[2]
    assert q[3]  # the row is kept (restricted zone) so the sender can correct it


def test_valid_upn_and_blank_optional_identifiers_load(fresh_db: str, tmp_path: Path) -> None:
    result = _load_rows(tmp_path, "send_budget", [fr.send_budget(1, UPN="H801200001001"),
                                                  fr.send_budget(2, NHSNumber=fr.nhs_number(99))], "886")
    # H801200001001: weights 2..13 over the 12 digits sum to 53; 53 mod 23 = 7 -> H.
    assert result.rows_quarantined == 0, result.quarantine_reasons


def test_duplicate_key_keeps_first_row(fresh_db: str, tmp_path: Path) -> None:
    rows = [fr.phb(1), fr.phb(2), fr.phb(1, notional_gbp="99.00"), fr.phb(3)]
    result = _load_rows(tmp_path, "nhs_phb", rows, "QKS")
    assert result.quarantine_reasons == {"duplicate_key": 1}
    with psycopg.connect(fresh_db) as conn:
        kept = conn.execute("select notional_gbp from raw.nhs_phb where phb_id = 'PHB000001'").fetchall()
        q_row = conn.execute("select row_number from quarantine.rows").fetchone()[0]
    assert kept == [("41250.50",)] and q_row == 3


def test_social_care_non_service_rows_are_set_aside_not_quarantined(fresh_db: str, tmp_path: Path) -> None:
    rows = [fr.social_care(1), fr.social_care(2, Event_Type="Assessment", Service_Type="", Service_Component="",
                                                 Delivery_Mechanism="", Unit_Cost="", Cost_Frequency_Unit_Type="",
                                                 Planned_units_per_week="")]
    result = _load_rows(tmp_path, "social_care", rows, "886")
    assert (result.rows_loaded, result.rows_quarantined, result.rows_set_aside) == (2, 0, 1)


def _reject(tmp_path: Path, feed: str, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load_file(feed, path)


def test_file_level_rejections(fresh_db: str, tmp_path: Path) -> None:
    good = fr.csv_text("nhs_phb", [fr.phb(1), fr.phb(2)])
    cols = list(fr.feeds.FEEDS["nhs_phb"].columns)
    cases = {
        "nhs_phb_QKS_2026-11-22.csv": (good.encode(), "bad_file_name"),
        "nhs_phb_ZZZ_20261122.csv": (good.encode(), "unknown_sender"),
        "nhs_phb_QKS_20261121.csv": (b"", "empty_file"),
        "nhs_phb_QKS_20261120.csv": (good.splitlines(keepends=True)[0].encode(), "no_data_rows"),
        "nhs_phb_QKS_20261119.csv": (fr.csv_text("nhs_phb", [fr.phb(1)], cols + ["shoe_size"]).encode(),
                                     "extra_columns"),
        "nhs_phb_QKS_20261118.csv": (fr.csv_text("nhs_phb", [fr.phb(1)], cols[:-1]).encode(), "missing_columns"),
        "nhs_phb_QKS_20261117.csv": (good.encode()[:-40], "truncated_file"),
        "nhs_phb_QKS_20261116.csv": (good.encode() + b"\x81\x8d\xff\xfe", "bad_encoding"),
    }
    for name, (data, code) in cases.items():
        result = _reject(tmp_path, "nhs_phb", name, data)
        assert (result.status, result.reason_code) == ("rejected", code), name
        assert (tmp_path / name).exists()  # nothing destructive happens to a rejected file
    with psycopg.connect(fresh_db) as conn:
        audit = dict(conn.execute("select file_name, reason_code from audit.batches where status = 'rejected'"))
        raw_exists = conn.execute("select to_regclass('raw.nhs_phb') is not null").fetchone()[0]
        loaded = conn.execute("select count(*) from raw.nhs_phb").fetchone()[0] if raw_exists else 0
    assert audit == {display_name(name): code for name, (_, code) in cases.items()}
    assert display_name("nhs_phb_QKS_2026-11-22.csv").startswith("#withheld-")  # a misnamed file's name is withheld
    assert loaded == 0


def test_extra_column_rejection_names_the_column(fresh_db: str, tmp_path: Path) -> None:
    cols = list(fr.feeds.FEEDS["send_budget"].columns) + ["Shoe"]
    result = _reject(tmp_path, "send_budget", "send_budget_886_20261122.csv",
                     fr.csv_text("send_budget", [fr.send_budget(1)], cols).encode())
    assert result.reason_code == "extra_columns" and "'Shoe'" in (result.reason or "")


@pytest.mark.parametrize("variant", ["windows_1252", "utf8_bom", "crlf"])
def test_accepted_encodings_and_line_ends(fresh_db: str, tmp_path: Path, variant: str) -> None:
    rows = [fr.social_care(1, Service_Component="Other: £25 weekly top-up"), fr.social_care(2)]
    text = fr.csv_text("social_care", rows, line_end="\r\n" if variant == "crlf" else "\n")
    path = fr.write(tmp_path, f"social_care_886_{NIGHT}.csv", text,
                    encoding="windows-1252" if variant == "windows_1252" else "utf-8", bom=variant == "utf8_bom")
    if variant == "windows_1252":
        assert b"\xa3" in path.read_bytes()
    result = load_file("social_care", path)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 2, 0)
    with psycopg.connect(fresh_db) as conn:
        values = conn.execute("select service_component, la_code, reporting_period_end_date from raw.social_care "
                              "order by _row_number").fetchall()
    assert values[0] == ("Other: £25 weekly top-up", "886", "2026-11-30")  # £ intact, no stray \r or BOM


def test_malformed_row_quarantined_good_rows_kept(fresh_db: str, tmp_path: Path) -> None:
    text = fr.csv_text("nhs_phb", [fr.phb(1), fr.phb(2), fr.phb(3)])
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace(",", ",,", 1)  # row 2 gets an extra field
    path = fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", "".join(lines))
    result = load_file("nhs_phb", path)
    assert (result.status, result.rows_in_file, result.rows_loaded) == ("loaded", 3, 2)
    assert result.quarantine_reasons == {"malformed_row": 1}
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select array_agg(_row_number order by _row_number) from raw.nhs_phb").fetchone()[0] \
            == [1, 3]


def test_same_file_twice_is_a_duplicate_and_changes_nothing(fresh_db: str, tmp_path: Path) -> None:
    path = fr.write(tmp_path, f"send_budget_886_{NIGHT}.csv",
                    fr.csv_text("send_budget", [fr.send_budget(1), fr.send_budget(2)]))
    first = load_file("send_budget", path)
    second = load_file("send_budget", path)
    assert first.status == "loaded" and second.status == "duplicate"
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("select count(*) from raw.send_budget").fetchone()[0] == 2
        statuses = conn.execute("select status from audit.batches order by batch_id").fetchall()
    assert statuses == [("loaded",), ("duplicate",)]


def test_current_snapshot_latest_extract_wins_even_when_late(fresh_db: str, tmp_path: Path) -> None:
    newer = _load_rows(tmp_path, "nhs_phb", [fr.phb(1), fr.phb(2)], "QKS", "20261122")
    older = _load_rows(tmp_path, "nhs_phb", [fr.phb(1), fr.phb(2), fr.phb(3)], "QKS", "20261121")  # arrives late
    other = _load_rows(tmp_path, "nhs_phb", [fr.phb(9, icb_code="QRL", sub_icb_code="")], "QRL", "20261122")
    assert {newer.status, older.status, other.status} == {"loaded"}
    with psycopg.connect(fresh_db) as conn:
        current = dict(conn.execute("select sender_code, batch_id from audit.current_batches where feed='nhs_phb'"))
        total = conn.execute("select count(*) from raw.nhs_phb").fetchone()[0]
    assert current == {"QKS": newer.batch_id, "QRL": other.batch_id}
    assert total == 6  # raw keeps every batch


def test_next_snapshot_checks_new_and_changed_rows_and_reuses_unchanged_ones(fresh_db: str, tmp_path: Path) -> None:
    """Night 2's full snapshot: rows equal to night 1's accepted rows load without a second check; new and
    changed rows are checked like any row (a changed row that breaks a rule is quarantined, a row night 1
    quarantined is quarantined again). Nothing is lost or doubled."""
    rows = [fr.phb(i) for i in range(1, 6)]
    bad = fr.phb(6, notional_gbp="-5.00")
    (tmp_path / "d1").mkdir()
    first = _load_rows(tmp_path / "d1", "nhs_phb", [*rows, bad], "QKS", "20261122")
    assert (first.rows_loaded, first.quarantine_reasons) == (5, {"negative_amount": 1})
    changed = [fr.phb(4, surname=""), fr.phb(5, notional_gbp="99.999")]
    second = _load_rows(tmp_path, "nhs_phb", [*rows[:3], *changed, bad, fr.phb(7)], "QKS", "20261123")
    assert (second.rows_in_file, second.rows_loaded) == (7, 4)
    assert second.quarantine_reasons == {"missing_required": 1, "invalid_amount": 1, "negative_amount": 1}
    with psycopg.connect(fresh_db) as conn:
        kept = conn.execute("select phb_id from raw.nhs_phb where _batch_id = %s order by 1",
                            (second.batch_id,)).fetchall()
        fingerprints = conn.execute("select count(distinct rules_fingerprint), count(rules_fingerprint)"
                                    " from audit.batches").fetchone()
    assert [k[0] for k in kept] == ["PHB000001", "PHB000002", "PHB000003", "PHB000007"]
    assert fingerprints == (1, 2)

    # The reuse holds only for the sender's batches checked by the same rules and reference codes.
    from ipb import db, feeds
    from ipb.ingest import loader

    feed = feeds.LOADABLE["nhs_phb"]
    params = {"sender": "QKS", "known_senders": ["QKS", "QRL"], "known_sub_icbs": ["91Q"]}
    fp = loader._rules_fingerprint(feed, params)
    assert fp != loader._rules_fingerprint(feed, {**params, "known_sub_icbs": ["91Q", "92A"]})
    with db.connect(role=db.LOADER) as conn:
        stored = conn.execute("select rules_fingerprint from audit.batches where batch_id = %s",
                              (second.batch_id,)).fetchone()[0]
        assert loader._known_good_batch(conn, feed, "QKS", stored, -1) == second.batch_id
        assert loader._known_good_batch(conn, feed, "QKS", stored, second.batch_id) == first.batch_id
        assert loader._known_good_batch(conn, feed, "QKS", "other rules", -1) == -1
        assert loader._known_good_batch(conn, feed, "QRL", stored, -1) == -1

    # Reused, not re-checked: a row equal to a row of the known-good batch skips the rules. Shown by planting a
    # rule-breaking row in night 2's batch (as if it had passed): night 3 sending exactly that row keeps it,
    # while the same rule break in a row night 2 did not hold is still quarantined.
    with psycopg.connect(fresh_db) as conn:
        conn.execute("update raw.nhs_phb set notional_gbp = '-1.00' where _batch_id = %s and phb_id = 'PHB000003'",
                     (second.batch_id,))
    third = _load_rows(tmp_path, "nhs_phb", [fr.phb(3, notional_gbp="-1.00"), fr.phb(2, notional_gbp="-1.00")],
                       "QKS", "20261124")
    assert (third.rows_loaded, third.quarantine_reasons) == (1, {"negative_amount": 1})


def test_two_files_for_one_sender_same_night(fresh_db: str, tmp_path: Path) -> None:
    day1 = tmp_path / "a"
    day1.mkdir()
    first = _load_rows(day1, "send_budget", [fr.send_budget(1)], "886", "20261121")
    second = _load_rows(tmp_path, "send_budget", [fr.send_budget(1), fr.send_budget(2)], "886", "20261122")
    with psycopg.connect(fresh_db) as conn:
        current = conn.execute("select batch_id from audit.current_batches where feed = 'send_budget'"
                               ).fetchone()[0]
        accounting = conn.execute("select bool_and(rows_in_file = rows_loaded + rows_quarantined) "
                                  "from audit.batches").fetchone()[0]
    assert current == second.batch_id != first.batch_id and accounting


def test_no_identifier_in_logs_or_errors(fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = fr.phb(2, date_of_birth="2099-01-01", surname="Zzyzxwhistler")
    rows = [fr.phb(1, nhs_number="9990000001"), bad, fr.phb(3, postcode="QQ 1")]
    caplog.set_level(logging.DEBUG)
    result = _load_rows(tmp_path, "nhs_phb", rows, "QKS")
    _reject(tmp_path, "nhs_phb", "nhs_phb_QKS_20261121.csv",
            fr.csv_text("nhs_phb", rows, list(fr.feeds.FEEDS["nhs_phb"].columns) + ["x"]).encode())
    text = caplog.text + repr(result.as_dict())
    for identifier in ("9990000001", "Zzyzxwhistler", "2099-01-01", "QQ 1", rows[0]["surname"], "ME14 1XX",
                       "1950-03-04", fr.nhs_number(3)):
        assert identifier not in text


def test_empty_opt_out_list_is_accepted_but_an_empty_feed_snapshot_is_not(fresh_db: str, tmp_path: Path) -> None:
    opt_out = fr.write(tmp_path, f"national_opt_out_{NIGHT}.csv", "nhs_number\n")
    assert load_file("national_opt_out", opt_out).status == "loaded"  # nobody opted out tonight
    phb = fr.write(tmp_path, f"nhs_phb_QKS_{NIGHT}.csv", fr.csv_text("nhs_phb", []))
    assert load_file("nhs_phb", phb).reason_code == "no_data_rows"


def test_opt_out_list_loads_and_quarantines_invalid_numbers(fresh_db: str, tmp_path: Path) -> None:
    text = "nhs_number\n" + fr.nhs_number(5) + "\n9990000001\n"
    result = load_file("national_opt_out", fr.write(tmp_path, f"national_opt_out_{NIGHT}.csv", text))
    assert (result.rows_loaded, result.quarantine_reasons) == (1, {"invalid_nhs_number": 1})


@pytest.mark.parametrize(("feed", "sender", "change"), [
    ("social_care", "886", {"NHS_Number": "1234567890"}),
    ("social_care", "886", {"Postcode": "NOT A PC"}),
    ("send_budget", "886", {"UPN": "B123456789012"}),
    ("send_budget", "886", {"UniqueLearnerNumber": "12345"}),
    ("send_budget", "886", {"NHSNumber": "1234567890"}),
    ("send_budget", "886", {"PostCode": "NOT A PC"}),
], ids=["cld-nhs", "cld-postcode", "budget-upn", "budget-uln", "budget-nhs", "budget-postcode"])
def test_an_invalid_optional_identifier_costs_only_itself(fresh_db: str, tmp_path: Path, feed: str, sender: str,
                                                          change: dict) -> None:
    """FEEDS.md identifier rules: the row is kept; staging treats the identifier as absent and the gate counts it."""
    result = _load_rows(tmp_path, feed, [fr.ROWS[feed](1), fr.ROWS[feed](2, **change)], sender)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == ("loaded", 2, 0), result.quarantine_reasons
