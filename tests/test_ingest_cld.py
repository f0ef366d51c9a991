"""A council's CLD Release 2 file loads as sent (FEEDS.md v2, docs/feeds.md). The fixtures under tests/fixtures/cld
were written from the specification's field names and values, not from the project's code lists:

- social_care_886_20261122.csv: the specification's 52 columns and spelling, CRLF, ISO dates, Release 2 values;
- social_care_850_20261122.csv: an underscore header without the name columns, Release 1 spellings, DD/MM/YYYY;
- social_care_886_20261123.csv: an unknown column (schema drift);
- social_care_886_20261124.csv: dates in neither format.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ipb import config, db, warehouse
from ipb.ingest import load_file
from ipb.transform import run_dbt

FIXTURES = Path(__file__).parent / "fixtures" / "cld"
DROPPED = {"ethnicity", "gp_practice_name", "accommodation_status", "employment_status", "has_unpaid_carer",
           "autism_spectrum_disorder_asd", "visual_impairment", "hearing_impairment", "dementia", "event_description",
           "assessment_type", "eligible_needs_identified", "informal_carer_involved_in_assessment",
           "method_of_assessment", "total_hrs_caring_per_week", "no_of_adults_being_cared_for",
           "adult_1_linked_person_id", "adult_2_linked_person_id", "adult_3_linked_person_id",
           "provider_cqc_location_name", "review_reason", "review_outcomes_achieved", "method_of_review"}


def _load(tmp_path: Path, name: str):
    path = tmp_path / name
    shutil.copyfile(FIXTURES / name, path)
    return load_file("social_care", path)


@pytest.fixture(scope="module")
def cld(settings: config.Settings, tmp_path_factory: pytest.TempPathFactory):
    """Both councils' files loaded into a fresh warehouse and staged by dbt."""
    tmp = tmp_path_factory.mktemp("cld")
    with warehouse.scratch_database(settings, "ipb_test_cld") as (_, env), pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        db.bootstrap()
        results = {name: _load(tmp, name) for name in ("social_care_886_20261122.csv", "social_care_850_20261122.csv",
                                                       "social_care_886_20261123.csv", "social_care_886_20261124.csv")}
        build = run_dbt(["build", "--select", "+stg_social_care__events", "cld_cost_frequencies"])
        yield results, build, warehouse.admin_url(config.load())


def _query(url: str, q: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(q).fetchall()


def test_the_specification_file_loads_with_exact_counts(cld) -> None:
    results, _, url = cld
    r = results["social_care_886_20261122.csv"]
    assert (r.status, r.rows_in_file, r.rows_loaded, r.rows_quarantined) == ("loaded", 11, 10, 1)
    assert r.quarantine_reasons == {"negative_amount": 1}
    assert set(r.dropped_columns) == DROPPED
    stored = {c for (c,) in _query(url, "select column_name from information_schema.columns"
                                        " where table_schema = 'raw' and table_name = 'social_care'")}
    assert not stored & DROPPED, "a column dropped at the door was stored"
    batch = _query(url, "select dropped_columns_list, date_format from audit.batches"
                        " where file_name = 'social_care_886_20261122.csv'")[0]
    assert set(batch[0].split(",")) == DROPPED and batch[1] == "iso"


def test_release_1_spellings_underscore_header_and_day_month_year_dates_load(cld) -> None:
    results, _, url = cld
    r = results["social_care_850_20261122.csv"]
    assert (r.status, r.rows_in_file, r.rows_loaded, r.rows_quarantined) == ("loaded", 3, 3, 0)
    assert _query(url, "select date_format from audit.batches where file_name = 'social_care_850_20261122.csv'"
                  ) == [("dmy",)]


def test_unknown_column_and_unknown_date_format_reject_the_file_with_the_reason(cld) -> None:
    results, _, _ = cld
    drift = results["social_care_886_20261123.csv"]
    assert (drift.status, drift.reason_code) == ("rejected", "extra_columns")
    assert "'Favourite Colour'" in (drift.reason or "")
    dates = results["social_care_886_20261124.csv"]
    assert (dates.status, dates.reason_code) == ("rejected", "date_format")


def test_staged_events_follow_the_contract(cld) -> None:
    _, build, url = cld
    assert build.success, [(r.node.name, str(r.status)) for r in build.result
                           if str(r.status) not in ("success", "pass")]
    rows = _query(url, """
        select sender_code, la_person_id, event_type, event_key_rule, delivery_mechanism, is_delivery_mechanism_derived,
               is_budget_component, management_option, annual_gbp, one_off_gbp, nhs_number is null,
               has_invalid_nhs_number, client_funding_status, client_type, is_carer, service_type,
               primary_support_reason, birth_date::text, record_id
        from restricted.stg_social_care__events order by sender_code, source_row_number""")
    kent = [r for r in rows if r[0] == "886"]
    hants = [r for r in rows if r[0] == "850"]
    assert len(kent) == 10 and len(hants) == 3
    assert len({r[-1] for r in rows}) == len(rows)  # every event its own key
    by_ref = {i + 1: r for i, r in enumerate(kent)}  # file rows 1-9 and 11 (row 10 was quarantined)
    # Row 1: a blank mechanism on a direct-payment component is a derived direct payment.
    assert by_ref[1][4:10] == ("Direct payment", True, True, "direct_payment", Decimal("5218.00"), None)
    assert by_ref[2][4:10] == ("CASSR managed personal budget", False, True, "notional", Decimal("10436.00"), None)
    assert by_ref[3][6] is False  # commissioned support: counted, not a personal budget
    assert [r[2] for r in kent[3:6]] == ["Request", "Assessment", "Review"]
    # Rows 7 and 8: an exact repeat without a reference is two services with derived keys.
    assert by_ref[7][3] == by_ref[8][3] == "derived" and by_ref[7][-1] != by_ref[8][-1]
    # Row 9: the invalid optional NHS number is dropped and counted; an Unknown funding status is kept.
    assert by_ref[9][10:13] == (True, True, "Unknown")
    # Row 11 (10th loaded): a carer's one-off; its reference repeats row 2's, so both keys are derived.
    carer = by_ref[10]
    assert (carer[14], carer[9], carer[3], by_ref[2][3]) == (True, Decimal("300.00"), "derived", "derived")
    # Release 1 spellings are stored in the Release 2 canonical spelling; DD/MM/YYYY dates are read as such.
    assert hants[0][13] == "Service user" and hants[2][13:15] == ("Unpaid carer", True)
    assert hants[1][15] == "Long term support: Community"
    assert hants[2][16] == "Social support: Support to unpaid carer"
    assert hants[0][17] == "1950-03-04"


def test_a_service_absent_from_the_next_file_ends_at_the_last_period_end(
        settings: config.Settings, tmp_path: Path) -> None:
    """CLD's rolling window (FEEDS.md): a service in a council's file that is missing from its next file has ended
    at the earlier file's reporting period end (marked inferred), not been withdrawn without an end."""
    from ipb.raw_tables import ensure_raw_tables

    first = FIXTURES / "social_care_886_20261122.csv"
    lines = first.read_bytes().split(b"\r\n")
    nxt = tmp_path / "social_care_886_20261125.csv"
    nxt.write_bytes(b"\r\n".join(line for line in lines if b",E1," not in line))  # service E1 is gone
    with warehouse.scratch_database(settings, "ipb_test_cld_window") as (_, env), \
            pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        db.bootstrap()
        with db.connect() as conn:
            ensure_raw_tables(conn)
            conn.commit()
        select = ["build", "--select", "+int_budget_component_history", "--exclude", "resource_type:test",
                  "resource_type:unit_test"]
        assert _load(tmp_path, first.name).status == "loaded"
        assert run_dbt(select).success
        assert load_file("social_care", nxt).status == "loaded"
        assert run_dbt(select).success
        rows = _query(warehouse.admin_url(config.load()), """
            select record_id like '%:E1', end_date::text, is_end_date_inferred
            from restricted.int_budget_component_history
            where feed = 'social_care' and not is_current order by 1 desc""")
    assert rows[0] == (True, "2026-11-30", True)
    assert all(not inferred for is_e1, _, inferred in rows[1:])
