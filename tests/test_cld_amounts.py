"""A generated night of councils' CLD Release 2 files builds, and the warehouse's adult social care amounts equal the
annualised values of the personal-budget services in the files, computed here from the files independently: own
CSV reading and header normalisation, own date handling, own personal-budget and annualisation rules (FEEDS.md).
Only the code lists' spellings come from the contract CSVs, which are data, not the code under test."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest

from ipb import contract, db
from ipb.generate import generate_night
from ipb.ingest import load_file
from ipb.orchestration.build import run_build

NIGHT = "2026-11-22"
FEED = re.compile(r"^(nhs_phb|social_care|send_budget|send|national_opt_out)_")
WEEKS = Decimal("52.18")
PER_WEEK = {"Hourly": None, "Daily": None, "Per session": None, "Weekly": Decimal(1), "Fortnightly": Decimal("0.5"),
            "4-weekly": Decimal("0.25")}
PER_YEAR = {"Monthly": Decimal(12), "Quarterly": Decimal(4), "Annually": Decimal(1)}


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _canonical(code_list: str) -> dict[str, str]:
    return {c.spelling.strip().lower(): c.value for c in contract.codes(code_list)}


def _date(text: str) -> date:
    text = text.strip()
    if "/" in text:
        d, m, y = text.split("/")
        return date(int(y), int(m), int(d))
    return date.fromisoformat(text)


def _expected(folder: Path) -> tuple[Decimal, Decimal, int]:
    """Annual and one-off totals of every personal-budget service of adults in the social care files."""
    events, mechanisms = _canonical("cld_event_type"), _canonical("cld_delivery_mechanism")
    components, frequencies = _canonical("cld_service_component"), _canonical("cld_cost_frequency")
    annual, one_off, services = Decimal(0), Decimal(0), 0
    for path in sorted(folder.glob("social_care_*.csv")):
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig") if not _is_cp1252(raw) else raw.decode("cp1252")
        rows = list(csv.reader(text.splitlines()))
        header = [_key(h) for h in rows[0]]
        for values in rows[1:]:
            r = dict(zip(header, values, strict=True))
            if events.get(r["event_type"].strip().lower()) != "Service":
                continue
            mechanism = mechanisms.get(r["delivery_mechanism"].strip().lower())
            if not r["delivery_mechanism"].strip() and components.get(r["service_component"].strip().lower()) \
                    == "Direct payment":
                mechanism = "Direct payment"
            if mechanism not in ("Direct payment", "CASSR managed personal budget"):
                continue
            born, start = _date(r["date_of_birth"]), _date(r["event_start_date"])
            if (start.year - born.year - ((start.month, start.day) < (born.month, born.day))) < 18:
                continue
            cost, frequency = Decimal(r["unit_cost"]), frequencies[r["cost_frequency_unit_type"].strip().lower()]
            services += 1
            if frequency == "One-off":
                one_off += cost
                continue
            if frequency in PER_YEAR:
                weekly = cost * PER_YEAR[frequency] / WEEKS
            elif PER_WEEK[frequency] is None:
                weekly = cost * Decimal(r["planned_units_per_week"])
            else:
                weekly = cost * PER_WEEK[frequency]
            annual += (weekly * WEEKS).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return annual, one_off, services


def _is_cp1252(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def test_social_care_amounts_equal_the_files_annualised_services(
        fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", "cld-amounts-test-key-0123456789abcdef")
    db.bootstrap()
    folder = tmp_path / "landing"
    generate_night(NIGHT, 1500, folder, seed=5, defects=0.0, truth_dir=tmp_path / "truth")
    loaded = defaultdict(int)
    for path in sorted(folder.iterdir()):
        match = FEED.match(path.name)
        result = load_file(match.group(1), path)
        assert result.status == "loaded" and result.rows_quarantined == 0, (path.name, result.reason_code)
        loaded[match.group(1)] += result.rows_loaded
    assert loaded["social_care"] > 500
    build = run_build()
    assert build.success, build.exception

    annual, one_off, services = _expected(folder)
    assert services > 100
    with psycopg.connect(fresh_db) as conn:
        got = conn.execute("""select coalesce(sum(annual_gbp), 0), coalesce(sum(one_off_gbp), 0), count(*)
                              from restricted.int_budget_components where feed = 'social_care'""").fetchone()
        kinds = dict(conn.execute("select event_key_rule, count(*) from restricted.stg_social_care__events"
                                  " group by 1").fetchall())
        derived = conn.execute("select count(*) filter (where is_delivery_mechanism_derived),"
                               " count(*) filter (where forename is not null)"
                               " from restricted.stg_social_care__events").fetchone()
        marts = conn.execute("select count(*) from build_marts.fct_budget_component where feed = 'social_care'"
                             ).fetchone()[0]
        # Unpaid carers' own support is kept, marked, and left out of service users' integrated budgets.
        carers = conn.execute("""select
                (select count(*) from build_marts.fct_budget_component where recipient = 'unpaid_carer'),
                (select count(*) from build_marts.fct_integrated_personal_budget as f
                 where exists (select from build_marts.fct_budget_component as c
                               where c.person_key = f.person_key and c.recipient = 'unpaid_carer')
                   and not exists (select from build_marts.fct_budget_component as c
                                   where c.person_key = f.person_key and c.recipient = 'service_user')),
                (select national_people from build_reports.rpt_integrated_budgets_by_area
                 where area_level = 'national' and measure = 'carers_with_personal_budget')""").fetchone()
    assert got == (annual, one_off, services)
    # The generated variety reached the warehouse: derived keys and mechanisms, names used.
    assert kinds.get("derived", 0) > 0 and kinds.get("event_reference", 0) > 0
    assert derived[0] > 0 and derived[1] > 0
    assert 0 < marts <= services  # the marts hold them, less the people on the opt-out list
    assert carers[0] > 0 and carers[1] == 0 and carers[2] > 0
