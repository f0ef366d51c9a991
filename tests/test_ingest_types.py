"""Every value the loader accepts fits the warehouse's types: the loader's row rules and the dbt staging casts use
the same util.to_* SQL functions (src/ipb/sql/util.sql, docs/feed-types.md), so a value out of range is a
quarantined row with its reason, and no row that loaded can fail a later night's build."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from ipb import db
from ipb.ingest import load_file, rules
from ipb.orchestration.build import run_build
from tests import feedrows as fr

NIGHT = "20261122"
KEY = "a-test-key-that-is-long-enough-0123456789"
STAGING = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "staging"
MACROS = Path(__file__).resolve().parents[1] / "dbt_project" / "macros"
STAGING_MODELS = {
    "nhs_phb": STAGING / "nhs_phb" / "stg_nhs_phb__budgets.sql",
    "social_care": STAGING / "social_care" / "stg_social_care__events.sql",
    "send_budget": STAGING / "send_budget" / "stg_send_budget__budgets.sql",
}

# (feed, sender, rows, expected reasons of the quarantined rows by row number). Each bad row breaks one type range;
# before the util.to_* functions most of them loaded and some then broke the staging casts (11 digits of pounds
# overflow numeric(12, 2), 100000000 units overflow numeric(10, 2)).
FILES = [
    ("nhs_phb", "QKS", [
        fr.phb(1, notional_gbp="9999999.99", end_date="9999-12-31"),  # largest amount; an open-ended sentinel
        fr.phb(2, notional_gbp="12345678901.00"),  # 11 digits of pounds
        fr.phb(3, indicative_budget_gbp="10000000"),  # the first amount out of range
        fr.phb(4, care_plan_agreed_date="0001-01-01"),
        fr.phb(5, record_updated_at="9999-12-31T23:59:59-12:00"),  # year 10000 in UTC: no client reads it
        fr.phb(6, date_of_birth="1900-01-01", start_date="2020-01-01", care_plan_agreed_date="2019-12-01"),  # 120
    ], {2: "amount_out_of_range", 3: "amount_out_of_range", 4: "date_out_of_range", 5: "timestamp_out_of_range"}),
    ("social_care", "886", [
        fr.social_care(1, Planned_units_per_week="1000"),  # largest number of units
        fr.social_care(2, Planned_units_per_week="100000000"),  # absurd
        fr.social_care(3, Unit_Cost="12345678901"),
        fr.social_care(4, Unit_Cost="9999999.99", Cost_Frequency_Unit_Type="Weekly", Planned_units_per_week=""),
        fr.social_care(5, Unit_Cost="5000000", Planned_units_per_week="2"),  # 10 million a week
        fr.social_care(6, Unit_Cost="4999999.99", Planned_units_per_week="2"),  # just under
        fr.social_care(7, Planned_units_per_week="-3", Cost_Frequency_Unit_Type="Weekly", Unit_Cost="150"),
        fr.social_care(8, Event_End_Date="1899-12-31"),
    ], {2: "units_out_of_range", 3: "amount_out_of_range", 5: "weekly_cost_out_of_range", 7: "units_out_of_range",
        8: "date_out_of_range"}),
    ("send_budget", "886", [
        fr.send_budget(1, EducationElementGBP="9999999.99", SocialCareElementGBP=" 0 ", DirectPaymentGBP="9999999.99"),
        fr.send_budget(2, EducationElementGBP="99999999999.99"),
        fr.send_budget(3, LastUpdated="2024-01-01 BC"),
        fr.send_budget(4, BudgetEndDate="99999-01-01"),  # not a 4-digit year: not a date at all
    ], {2: "amount_out_of_range", 3: "timestamp_out_of_range", 4: "invalid_date"}),
]


def _load(tmp_path: Path, feed: str, sender: str, rows: list[dict]):
    name = f"{feed}_{sender}_{NIGHT}.csv"
    return load_file(feed, fr.write(tmp_path, name, fr.csv_text(feed, rows)))


def test_out_of_range_rows_are_quarantined_and_the_build_succeeds(
        fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", KEY)
    loaded = {}
    for feed, sender, rows, expected in FILES:
        result = _load(tmp_path, feed, sender, rows)
        assert result.status == "loaded", result.as_dict()
        assert result.rows_loaded == len(rows) - len(expected), (feed, result.quarantine_reasons)
        with psycopg.connect(fresh_db) as conn:
            got = conn.execute("select row_number, reason_code, reason from quarantine.rows where batch_id = %s",
                               (result.batch_id,)).fetchall()
        assert {n: code for n, code, _ in got} == expected, feed
        for n, code, reason in got:
            assert reason == rules.READABLE[code]
            # Readable reasons never contain the offending values.
            assert not any(len(v) > 2 and v in reason for v in rows[n - 1].values())
        loaded[feed] = len(rows) - len(expected)
    opt_out = load_file("national_opt_out", fr.write(tmp_path, f"national_opt_out_{NIGHT}.csv",
                                                     f"nhs_number\n{fr.nhs_number(900)}\n"))
    assert opt_out.rows_loaded == 1

    # The real build over what loaded: staging casts every value, the marts' contracts hold the sums.
    result = run_build()
    failures = [f"{r.node.name}: {r.status}" for r in (getattr(result.result, "results", None) or [])
                if str(r.status) in ("error", "fail", "runtime error")]
    assert result.success, (result.exception, failures)
    with psycopg.connect(fresh_db) as conn:
        staged = {feed: conn.execute(f"select count(*) from restricted.{STAGING_MODELS[feed].stem}").fetchone()[0]
                  for feed in STAGING_MODELS}
        amounts = conn.execute(
            "select max(notional_gbp), max(end_date), min(birth_date) from restricted.stg_nhs_phb__budgets").fetchone()
        units = conn.execute("select max(planned_units_per_week), max(annual_gbp) "
                             "from restricted.stg_social_care__events").fetchone()
        budgets = conn.execute("select education_element_gbp, direct_payment_gbp"
                               " from restricted.stg_send_budget__budgets").fetchall()
        fct = conn.execute("select max(total_annual_gbp) from build_marts.fct_integrated_personal_budget").fetchone()
        types = dict(conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute where attnum > 0 and attrelid in"
            " ('restricted.stg_send_budget__budgets'::regclass, 'restricted.stg_social_care__events'::regclass) and"
            " attname in ('education_element_gbp', 'planned_units_per_week', 'birth_date', 'last_updated_at')"
            " and not (attname = 'birth_date' and attrelid = 'restricted.stg_social_care__events'::regclass)"
        ).fetchall())
    assert staged == loaded
    assert [str(a) for a in amounts] == ["9999999.99", "9999-12-31", "1900-01-01"]
    assert [str(u) for u in units] == ["1000.00", "521799999.48"]  # 9999999.99 a week x 52.18
    assert budgets == [(Decimal("9999999.99"), Decimal("9999999.99"))]
    assert fct[0] >= Decimal("521799999.48")
    # The staging columns keep the types the macros name (the marts' unit tests rely on them).
    assert types == {"education_element_gbp": "numeric(12,2)", "planned_units_per_week": "numeric(10,2)",
                     "birth_date": "date", "last_updated_at": "timestamp with time zone"}


def _macro_casts() -> dict[str, tuple[str, str]]:
    """typed_<kind> macro -> (the util function it calls, the staging column type it names or '')."""
    text = (MACROS / "typed_values.sql").read_text()
    # A date also takes the file's detected date format: util.to_date(value, format).
    found = re.findall(r"macro (typed_\w+)\(expr(?:, date_format='_date_format')?\) -%\}\s*(util\.to_\w+)"
                       r"\(\{\{ expr \}\}(?:, \{\{ date_format \}\})?\)(?:::([\w(), ]+))?", text)
    return {name: (function, cast) for name, function, cast in found}


def test_accepted_range_is_the_staging_cast(fresh_db: str) -> None:
    """At each edge of each kind of value, the loader's typed projection and the staging cast agree: the largest
    value accepted casts into the staging column type, reads back in a Python client and fits the marts' types;
    the next one is refused."""
    db.bootstrap()
    casts = {function: cast for function, cast in _macro_casts().values()}
    assert set(casts) == {"util.to_money", "util.to_units", "util.to_date", "util.to_timestamp"}
    edges = [
        # (function, largest accepted, its value, next refused)
        ("util.to_money", "9999999.99", "9999999.99", "10000000.00"),
        ("util.to_money", "-9999999.99", "-9999999.99", "-10000000"),
        ("util.to_money", " 0009999999.9 ", "9999999.90", "00012345678"),
        ("util.to_units", "1000", "1000.00", "1000.01"),
        ("util.to_units", "0", "0.00", "-0.01"),
        ("util.to_units", "12.345", "12.35", "1e3"),
        ("util.to_date", "9999-12-31", "9999-12-31", "99999-01-01"),
        ("util.to_date", "1900-01-01", "1900-01-01", "1899-12-31"),
        ("util.to_timestamp", "9999-12-30T23:59:59.999999Z", "9999-12-30 23:59:59.999999+00:00",
         "9999-12-31T00:00:00Z"),
        ("util.to_timestamp", "1900-01-01T00:00:00Z", "1900-01-01 00:00:00+00:00", "1900-01-01T00:30:00+01:00"),
        ("util.to_timestamp", "2026-11-21T22:00:00Z", "2026-11-21 22:00:00+00:00", "2026-11-21 BC"),
    ]
    with psycopg.connect(fresh_db) as conn:
        conn.execute("set timezone = 'UTC'")
        for function, largest, value, refused in edges:
            staged = f"{function}(%s)" + (f"::{casts[function]}" if casts[function] else "")
            got, in_staging, nothing = conn.execute(f"select {function}(%s), {staged}, {function}(%s)",
                                                    (largest, largest, refused)).fetchone()
            assert (str(got), str(in_staging), nothing) == (value, value, None), (function, largest, refused)
        # The edges read back in a Python client in the farthest time zones, and fit the marts' numeric(14, 2) even
        # as the largest weekly cost annualised (x 52.18), three amounts summed, or the largest units x amount.
        for zone in ("Pacific/Kiritimati", "Etc/GMT+12"):
            conn.execute(f"set timezone = '{zone}'")
            conn.execute("select util.to_timestamp('9999-12-30T23:59:59.999999Z'), util.to_date('9999-12-31'),"
                         " util.to_timestamp('1900-01-01T00:00:00Z'), util.to_date('1900-01-01')").fetchone()
        fits = conn.execute("select (util.to_money('9999999.99') * 52.18)::numeric(14, 2),"
                            " (util.to_money('9999999.99') * 3)::numeric(14, 2),"
                            " (util.to_money('9999999.99') * util.to_units('1000') * 52.18)::numeric(14, 2),"
                            " util.to_date('9999-12-31') + interval '121 years' > util.to_date('1900-01-01')"
                            ).fetchone()
        assert fits[-1] is True


@pytest.mark.fast
def test_staging_casts_only_through_the_loaders_functions() -> None:
    """No staging model casts a feed value itself: every typed column of the rules is cast by the macro calling
    the very function the loader's typed projection uses, and nothing else in staging casts. A model may cast a
    kind's distinct texts once through the macro and join them back (its `{% set date_columns = [...] %}` list)."""
    macros = _macro_casts()
    for feed, path in STAGING_MODELS.items():
        code = "\n".join(line.split("--")[0] for line in path.read_text().splitlines())
        assert "::" not in code and not re.search(r"\bcast\s*\(", code, re.IGNORECASE), path.name
        looked_up = re.search(r"\{% set date_columns = \[([^\]]*)\] %\}", code)
        date_lookup = re.findall(r"'(\w+)'", looked_up.group(1)) if looked_up else []
        if date_lookup:
            assert "{{ typed_date('date_text', 'date_format') }}" in code, path.name
        typed = rules.typed_columns(feed)
        for columns, suffix, function in rules.TYPED_KINDS:
            for col in columns[feed]:
                args = f"{col}, _date_format" if suffix == "d" else col
                assert f"{function}({args}) as {col}__{suffix}" in typed
                used = re.findall(rf"\{{\{{ (typed_\w+)\('(?:source\.)?{col}'\) \}}\}}", code)
                if suffix == "d" and col in date_lookup:
                    used = used or ["typed_date"]
                assert used and all(macros[m][0] == function for m in used), (path.name, col, function, used)
