"""The publication gate on a small hand-made night in a fresh database: real PostgreSQL, real GX.

The fixture night mirrors the shared interfaces: raw tables and the batch log as the loader leaves them, the
restricted validation views as dbt builds them, and build/published marts and reports whose columns are the
approved ones. Each failing scenario changes one thing and must fail the gate without leaking the value.
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ipb import config, db, feeds
from ipb.quality import settings as gate_settings

LEAKED_NHS = "9990001235"  # test-range NHS number with a valid check digit (asserted below)
LEAKED_POSTCODE = "ME4 4AA"
OPTED_OUT_KEY = hashlib.sha256(b"person:opted-out").hexdigest()


def nhs_number(serial: int) -> str:
    """A valid test-range NHS number (999...) with the modulus-11 check digit."""
    for n in range(serial, serial + 100):
        body = f"999{n:06d}"
        check = (11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11) % 11
        if check != 10:
            return body + str(check)
    raise AssertionError("no valid NHS number near serial")


def upn(serial: int) -> str:
    digits = f"{886}{24:02d}{serial:07d}"
    letters = "ABCDEFGHJKLMNPQRTUVWXYZ"
    return letters[sum(int(d) * w for d, w in zip(digits, range(2, 14), strict=True)) % 23] + digits


assert LEAKED_NHS == nhs_number(123)


def person_key(n: int) -> str:
    return hashlib.sha256(f"person:{n}".encode()).hexdigest()


PEOPLE = [  # key, surname, forename: the linkage layer's names (only their hashes reach the validator)
    (person_key(1), "SMITH", "JOHN"),
    (person_key(2), "PATEL", "AMIRA"),
    (person_key(3), "OKAFOR", "GRACE"),
]


def _raw_row(feed: feeds.Feed, i: int) -> dict[str, str | None]:
    row: dict[str, str | None] = {feeds.raw_column(c): None for c in feed.columns}
    if feed.name == "nhs_phb":
        row.update(phb_id=f"PHB{i}", nhs_number=nhs_number(100 + i * 7), forename="JOHN", surname="SMITH",
                   date_of_birth="1970-01-0" + str(i + 1), sex="1", postcode="ME14 1XX", icb_code="QKS",
                   phb_category="LTC", direct_payment_gbp="0", notional_gbp="1000.00", third_party_gbp="0",
                   management_option="NOTIONAL", budget_basis="ANNUAL", start_date="2025-01-01",
                   record_updated_at="2025-01-01T00:00:00")
    elif feed.name == "social_care":
        row.update(la_code="886", la_person_unique_identifier=f"P{i}", nhs_number=nhs_number(300 + i * 7),
                   date_of_birth="1960-05-05", gender="2", postcode="CT1 1AA",
                   primary_support_reason="Learning disability support",
                   client_funding_status="Fully social care funded", event_type="Service",
                   event_reference=f"EV{i}", event_start_date="2025-02-01", service_type="Long term support: community",
                   service_component="Direct payment", delivery_mechanism="Direct payment", unit_cost="100.00",
                   cost_frequency_unit_type="Weekly", reporting_period_start_date="2025-01-01",
                   reporting_period_end_date="2025-03-31")
    elif feed.name == "send":
        plan = {"StartDate": "2024-09-01", "PB": "1", "OA": "1", "DP": "0"}
        requests = [{"Assessment": [{"NamedPlan": [plan]}], "ActivePlans": [{"SENneed": [
            {"SENtype": "ASD", "SENtypeRank": "1"}]}]}]
        row.update(lea="886", upn=upn(i + 1), surname="OKAFOR", forename="GRACE", personbirthdate="2015-03-03",
                   sex="F", requests=json.dumps(requests))
    else:
        row.update(lea="886", budgetid=f"B{i}", localpersonid=f"S{i}", upn=upn(i + 1), surname="OKAFOR",
                   forename="GRACE", personbirthdate="2015-03-03", sex="F", planstartdate="2024-09-01",
                   educationelementgbp="5000.00", directpaymentgbp="0", budgetstartdate="2024-09-01",
                   lastupdated="2025-01-01T00:00:00")
    return row


def build_raw(conn: psycopg.Connection, rows_per_feed: int = 4) -> None:
    """Raw tables and loaded batches as the loader leaves them (created as ipb_loader, per the shared interface)."""
    conn.execute("set role ipb_loader")
    senders = {"nhs_phb": "QKS", "social_care": "886", "send": "886", "send_budget": "886"}
    for feed in feeds.FEEDS.values():
        cols = [feeds.raw_column(c) for c in feed.columns]
        # Bootstrap may already have created the raw tables (the loader's own DDL); otherwise the same shape.
        conn.execute(sql.SQL(
            "create table if not exists raw.{} (_batch_id bigint, _file_name text, _file_checksum text,"
            " _row_number bigint, _loaded_at timestamptz default now(), _sender_code text, _extract_date date, {})"
        ).format(sql.Identifier(feed.name), sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c))
                                                                for c in cols)))
        file_name = feed.file_name(senders[feed.name], "20250401")
        batch_id = conn.execute(
            """insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status, rows_in_file,
                   rows_loaded, rows_quarantined, loaded_at)
               values (%s, %s, '2025-04-01', %s, %s, 'loaded', %s, %s, 0, now()) returning batch_id""",
            (feed.name, senders[feed.name], file_name, f"sum-{feed.name}", rows_per_feed, rows_per_feed),
        ).fetchone()[0]
        for i in range(rows_per_feed):
            row = _raw_row(feed, i)
            names = ["_batch_id", "_file_name", "_file_checksum", "_row_number", "_sender_code", "_extract_date",
                     *row]
            values = [batch_id, file_name, f"sum-{feed.name}", i + 1, senders[feed.name], "2025-04-01",
                      *row.values()]
            conn.execute(sql.SQL("insert into raw.{} ({}) values ({})").format(
                sql.Identifier(feed.name), sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(values))), values)
    conn.execute("reset role")


MART_ROWS = {
    "dim_person": [
        (k, band, "1", "ME14", "E10000016", "QKS", "nhs_phb", 1, False, "2025-03-31")
        for k, band in zip([p[0] for p in PEOPLE], ["26-64", "65-74", "5-10"], strict=True)
    ],
    "dim_organisation": [
        ("E10000016", "council", "Kent", "E10000016", "886", "886", "QKS", 1590000),
        ("QKS", "icb", "NHS Kent and Medway Integrated Care Board", "E54000032", None, None, "QKS", 1900000),
    ],
    "fct_budget_component": [
        (hashlib.sha256(f"c{i}".encode()).hexdigest(), PEOPLE[i % 3][0], feed, funder, "notional", None, amount,
         None, None, True, "2025-01-01", None, "QKS", None, "E10000016", "2025-04-01")
        for i, (feed, funder, amount) in enumerate(
            [("nhs_phb", "health", 1000), ("social_care", "social_care", 5218), ("send_budget", "education", 5000)]
        )
    ],
    "fct_integrated_personal_budget": [
        (PEOPLE[0][0], "2025-03-31", "quarter_end", "26-64", "1", "ME14", "QKS", "E10000016", 1000, 5218, None, 6218,
         None, 2, 2, True, "health+social_care", "notional", "notional", False, None, 6218),
    ],
}
REPORT_ROWS = {
    "rpt_phb_quarterly": [
        ("2025-03-31", "2024-25 Q4", "icb", "QKS", "all", "all", "10", "*", "0.5", None, None),
        ("2025-03-31", "2024-25 Q4", "icb", "QKS", "phb_category", "LTC", "*", "0", "*", None, None),
        ("2025-03-31", "2024-25 Q4", "national", "ENGLAND", "all", "all", "12", "3", "0.6", 12, 3),
    ],
    "rpt_integrated_budgets_by_area": [
        ("2025-03-31", "council", "E10000016", "Kent", "people_with_budget", "all", "*", "*", None),
        ("2025-03-31", "national", "ENGLAND", "England", "people_with_budget", "all", "3", "100.0", 3),
    ],
}
TYPES = {  # column types by name; everything else is text
    "n_records": "int", "is_linked": "boolean", "age_band_as_at_date": "date", "approx_population": "bigint",
    "annual_gbp": "numeric(12,2)", "one_off_gbp": "numeric(12,2)", "indicative_budget_gbp": "numeric(12,2)",
    "is_care_plan_agreed": "boolean", "start_date": "date", "end_date": "date", "extract_date": "date",
    "as_at_date": "date", "health_annual_gbp": "numeric", "social_care_annual_gbp": "numeric",
    "education_annual_gbp": "numeric", "total_annual_gbp": "numeric", "n_components": "int", "n_funders": "int",
    "is_integrated": "boolean", "has_direct_payment": "boolean", "agreed_annual_gbp": "numeric",
    "quarter_end": "date", "national_phbs_in_place": "bigint", "national_new_in_quarter": "bigint",
    "national_people": "bigint",
}


def build_schema(conn: psycopg.Connection, schema: str, kind: str) -> None:
    """Tables of one analyst schema with the approved columns and the fixture rows (as ipb_transformer)."""
    cfg = gate_settings.load()
    rows = MART_ROWS if kind == "build_marts" else REPORT_ROWS
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    for table, spec in cfg.approved[kind].items():
        cols = spec["columns"]
        conn.execute(sql.SQL("create table {}.{} ({})").format(
            sql.Identifier(schema), sql.Identifier(table),
            sql.SQL(", ").join(sql.SQL(f"{{}} {TYPES.get(c, 'text')}").format(sql.Identifier(c)) for c in cols)))
        for row in rows[table]:
            conn.execute(sql.SQL("insert into {}.{} values ({})").format(
                sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(sql.Placeholder() * len(row))), row)


def build_validation_views(conn: psycopg.Connection) -> None:
    """What dbt_project/models/validation builds: hashes, pseudonyms and counts only."""
    conn.execute("create schema if not exists restricted")
    conn.execute("grant usage on schema restricted to ipb_validator")
    conn.execute("create table restricted.validation_linkage (feed text, link_rule text, records bigint)")
    conn.execute("insert into restricted.validation_linkage values ('nhs_phb', 'nhs_number', 3), "
                 "('social_care', 'nhs_number', 3), ('send', 'demo_exact', 2), ('send', 'unlinked', 2)")
    conn.execute("create table restricted.validation_name_hashes (name_hash text)")
    for _, surname, forename in PEOPLE:
        for name in {surname, forename, forename + surname, surname + forename}:
            conn.execute("insert into restricted.validation_name_hashes values (%s)",
                         (hashlib.sha256(name.encode()).hexdigest(),))
    conn.execute("create table restricted.validation_opted_out_people (person_key text)")
    conn.execute("insert into restricted.validation_opted_out_people values (%s)", (OPTED_OUT_KEY,))
    conn.execute("create table restricted.validation_funder_totals "
                 "(funder text, components bigint, annual_gbp numeric, one_off_gbp numeric)")
    conn.execute("insert into restricted.validation_funder_totals values ('health', 1, 1000, 0), "
                 "('social_care', 1, 5218, 0), ('education', 1, 5000, 0)")
    conn.execute("create table restricted.validation_send_budgets (sender_code text, measure text, n bigint)")
    conn.execute("insert into restricted.validation_send_budgets values ('886', 'budget_without_plan', 1)")
    conn.execute("grant select on all tables in schema restricted to ipb_validator")


def build_night(url: str) -> None:
    db.bootstrap()
    with psycopg.connect(url) as conn:
        build_raw(conn)
        conn.execute("set role ipb_transformer")
        build_validation_views(conn)
        for schema, kind in (("marts", "build_marts"), ("reports", "build_reports"),
                             ("build_marts", "build_marts"), ("build_reports", "build_reports")):
            build_schema(conn, schema, kind)
        conn.execute("update marts.dim_person set n_records = n_records + 1")  # last night's published state
        conn.commit()


def published_fingerprint(url: str) -> str:
    """Hash of every published table's column list and all its rows (order-independent)."""
    parts = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('marts', 'reports') order by 1, 2").fetchall()
        for schema, table in tables:
            cols = conn.execute(
                "select string_agg(column_name || ' ' || data_type, ',' order by ordinal_position) "
                "from information_schema.columns where table_schema = %s and table_name = %s",
                (schema, table)).fetchone()[0]
            rows = conn.execute(sql.SQL(
                "select coalesce(string_agg(md5(t::text), ',' order by md5(t::text)), '') from {}.{} as t"
            ).format(sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]
            parts.append(f"{schema}.{table}({cols}):{rows}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@pytest.fixture
def night(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("IPB_OUTPUT_DIR", str(tmp_path / "outputs"))
    build_night(fresh_db)
    yield fresh_db


def generated_files(settings: config.Settings) -> list[Path]:
    roots = [settings.output_dir / "data_docs", settings.expectations_dir / "uncommitted"]
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.suffix in (".html", ".json")]


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k == "href" and v]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _audit(url: str, run_id: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select checkpoint, success, published, decision from audit.validation_runs where run_id = %s "
            "order by checkpoint", (run_id,)).fetchall()


def test_clean_night_passes_publishes_and_renders(night: str) -> None:
    from ipb import publish
    from ipb.quality import gate

    before = published_fingerprint(night)
    result = gate.run_gate("night-clean")
    assert result.success, result.summary()
    assert result.evaluated >= 18 and result.failed == 0
    publish.publish("night-clean")
    assert published_fingerprint(night) != before
    with psycopg.connect(night) as conn:
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace").fetchall()}
        assert {"marts", "reports", "marts_previous", "reports_previous"} <= schemas
        assert not {"build_marts", "build_reports"} & schemas
        assert conn.execute("select has_schema_privilege('ipb_analyst', 'marts', 'usage')").fetchone()[0]
        assert conn.execute("select has_table_privilege('ipb_analyst', 'marts.dim_person', 'select')").fetchone()[0]
    runs = _audit(night, "night-clean")
    assert [r[0] for r in runs] == ["ipb_analyst_ig", "ipb_integration", "ipb_raw_feeds", "ipb_raw_rules"]
    assert all(r[1] and r[2] and r[3] == "published" for r in runs)

    # Data Docs: the static page names the run and its verdict and links each checkpoint's GX result page,
    # which lists the checks by name; GX's own index lists the run too.
    latest = result.data_docs_path
    parser = _Text()
    parser.feed(latest.read_text())
    text = " ".join(parser.text)
    assert "night-clean" in text and "PASSED" in text and "FAILED" not in text
    pages = sorted({latest.parent / link for link in parser.links if link.startswith("validations/")})
    assert len(pages) == 4 and all(p.exists() and "night-clean" in str(p) for p in pages)
    page = _Text()
    page.feed(next(p for p in pages if "ipb_analyst_ig" in str(p)).read_text())
    assert "No NHS numbers in analyst tables" in " ".join(page.text)
    assert "night-clean" in (latest.parent / "index.html").read_text()

    # `ipb report` points at the outputs and shows the decision.
    from typer.testing import CliRunner

    from ipb.cli import app

    out = CliRunner().invoke(app, ["report"])
    assert out.exit_code == 0, out.output
    assert "latest validation run: night-clean" in out.output and "decision published" in out.output
    assert str(latest) in out.output


@pytest.mark.parametrize(
    ("scenario", "failing_check"),
    [
        ("nhs_number_leak", "No NHS numbers in analyst tables"),
        # the scans skip only types that cannot hold the value: an NHS number in a number column is still found
        ("nhs_number_in_number_column", "No NHS numbers in analyst tables"),
        ("postcode_leak", "No full postcodes in analyst tables"),
        ("small_cell", "Small numbers suppressed in quarterly return and published reports"),
        ("opted_out", "Opted-out people absent from analyst tables"),
        ("new_column", "Only approved columns in analyst tables"),
        ("name_leak", "No names from the linkage layer in analyst tables"),
        ("rate_shown", "Small numbers suppressed in quarterly return and published reports"),
        ("nhs_validity", "NHS number validity rate per feed and sender"),
        ("row_accounting", "Row accounting per file"),
        ("policy_rule", "Policy rules hold in raw feeds"),
        ("code_list", "Code lists respected in raw feeds"),
        ("sen2_flag", "Code lists respected in raw feeds"),
        ("send_budget_over", "Policy rules hold in raw feeds"),
        ("totals", "Budget totals reconcile with staged source amounts"),
        ("orphan_component", "Every budget component has a person"),
        ("linkage_spike", "Linkage rate per rule within bounds"),
    ],
)
def test_failing_night_blocks_publication_without_leaking(night: str, scenario: str, failing_check: str) -> None:
    from ipb import publish
    from ipb.quality import gate, report

    with psycopg.connect(night) as conn:
        conn.execute("set role ipb_transformer")
        if scenario == "nhs_number_leak":
            conn.execute("update build_marts.dim_person set feeds = %s where age_band = '65-74'", (LEAKED_NHS,))
        elif scenario == "nhs_number_in_number_column":
            conn.execute("alter table build_marts.dim_person alter column n_records type bigint")
            conn.execute("update build_marts.dim_person set n_records = %s where age_band = '65-74'",
                         (int(LEAKED_NHS),))
        elif scenario == "postcode_leak":
            conn.execute("update build_marts.fct_integrated_personal_budget set funder_mix = %s", (LEAKED_POSTCODE,))
        elif scenario == "small_cell":
            conn.execute("update build_reports.rpt_phb_quarterly set phbs_in_place = '3' where breakdown = 'all' "
                         "and area_level = 'icb'")
        elif scenario == "opted_out":
            conn.execute("update build_marts.fct_budget_component set person_key = %s where funder = 'health'",
                         (OPTED_OUT_KEY,))
        elif scenario == "new_column":
            conn.execute("alter table build_marts.dim_person add column ethnicity text")
        elif scenario == "name_leak":
            conn.execute("update build_marts.fct_integrated_personal_budget set funder_mix = 'Grace Okafor'")
        elif scenario == "rate_shown":
            conn.execute("update build_reports.rpt_integrated_budgets_by_area set share_of_people_pct = '33.3' "
                         "where area_level = 'council'")
        elif scenario == "totals":
            conn.execute("update build_marts.fct_budget_component set annual_gbp = annual_gbp + 100 "
                         "where funder = 'health'")
        elif scenario == "linkage_spike":
            conn.execute("update restricted.validation_linkage set records = 100 where link_rule = 'demo_exact'")
        elif scenario == "orphan_component":
            conn.execute("delete from build_marts.dim_person where age_band = '5-10'")
        else:  # the batch log: one quarantined invalid NHS number, or a row gone missing from raw
            conn.execute("set role ipb_loader")
            batch = conn.execute("select batch_id from audit.batches where feed = 'nhs_phb'").fetchone()[0]
            if scenario == "policy_rule":  # a wheelchair budget paid partly as a direct payment
                conn.execute("update raw.nhs_phb set phb_category = 'WHEELCHAIR', direct_payment_gbp = '500.00',"
                             " management_option = 'MIXED' where _row_number = 2")
            elif scenario == "code_list":
                conn.execute("update raw.send set sex = 'Q' where _row_number = 1")
            elif scenario == "sen2_flag":  # a plan's PB inside the person's Requests that is no flag
                conn.execute("update raw.send set requests = replace(requests, '\"PB\": \"1\"', '\"PB\": \"Y\"')"
                             " where _row_number = 2")
            elif scenario == "send_budget_over":  # more paid as a direct payment than the budget holds
                conn.execute("update raw.send_budget set directpaymentgbp = '5000.01' where _row_number = 3")
            elif scenario == "nhs_validity":
                # 30 invalid of 34 sent (at least min_sent, so the rate counts)
                conn.execute("insert into quarantine.rows (batch_id, feed, file_name, row_number, reason_code, reason,"
                             " all_reason_codes) select %s, 'nhs_phb', 'f', 100 + i, 'invalid_nhs_number', 'r', '{}'"
                             " from generate_series(1, 30) as i", (batch,))
                conn.execute("update audit.batches set rows_in_file = rows_in_file + 30, "
                             "rows_quarantined = rows_quarantined + 30 where batch_id = %s", (batch,))
            else:
                conn.execute("delete from raw.nhs_phb where _row_number = 2")
        conn.commit()
    before = published_fingerprint(night)
    run_id = f"night-{scenario}"
    result = gate.run_gate(run_id)

    assert not result.success
    assert failing_check in result.failed_checks
    # The raw-feed rule checks name the broken rule and count the rows breaking it.
    broken = {"policy_rule": "no direct payment for wheelchair budgets: 1", "code_list": "sex: 1",
              "sen2_flag": "pb_oa: 1", "send_budget_over": "direct payment no more than the budget: 1"}
    if scenario in broken:
        assert broken[scenario] in result.summary(), result.summary()
    with pytest.raises(gate.GateFailed, match=re.escape(failing_check)):
        result.raise_for_failure()
    with pytest.raises(publish.PublishRefused):
        publish.publish(run_id)
    assert published_fingerprint(night) == before
    runs = _audit(night, run_id)
    assert runs and not any(r[2] for r in runs) and {r[3] for r in runs} == {"blocked"}

    lines = "\n".join(report.render())
    assert f"latest validation run: {run_id}" in lines and "FAILED" in lines and failing_check in lines

    secrets = [LEAKED_NHS, LEAKED_POSTCODE, OPTED_OUT_KEY, "Grace Okafor"]
    assert not any(s in lines or s in str(result.summary()) for s in secrets)
    s = config.load()
    for path in generated_files(s):
        text = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"{secret[:3]}... leaked into {path}"
    with psycopg.connect(night) as conn:
        observed = " ".join(r[0] or "" for r in conn.execute("select observed from audit.validation_results"))
    assert not any(secret in observed for secret in secrets)


def test_validator_cannot_read_identifiers_in_restricted(night: str) -> None:
    """The gate's role sees the validation views' hashes, never the linkage layer's identifiers."""
    with psycopg.connect(night) as conn:
        conn.execute("set role ipb_transformer")
        conn.execute("create table restricted.stg_people (nhs_number text, surname text)")
        conn.commit()
        conn.execute("set role ipb_validator")
        assert conn.execute("select count(*) from restricted.validation_name_hashes").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from restricted.stg_people")


def test_suites_are_stable_and_results_are_counts_only(night: str) -> None:
    """Registering twice rewrites nothing; stored suites hold rule names and SQL, no data."""
    from ipb.quality import context

    s = config.load()
    ctx = context.get_context(s)
    context.register(ctx, gate_settings.load())
    files = sorted((s.expectations_dir / "expectations").glob("*.json"))
    before = {p: p.read_bytes() for p in files}
    context.register(context.get_context(s), gate_settings.load())
    assert {p: p.read_bytes() for p in files} == before
    suite = json.loads((s.expectations_dir / "expectations" / "ipb_analyst_ig.json").read_text())
    assert "No NHS numbers in analyst tables" in [e["description"] for e in suite["expectations"]]


def _observed(url: str, run_id: str, check_name: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select r.observed from audit.validation_results as r join audit.validation_runs as v"
            " using (validation_run_id) where v.run_id = %s and r.check_name = %s", (run_id, check_name)).fetchone()[0]


def test_raw_row_checks_check_again_only_rows_that_differ_from_a_batch_they_passed(night: str) -> None:
    """The next night's snapshot repeats most rows: the code list and policy checks read only the rows that differ
    from the sender's batch they passed with the same rules, and still catch a bad row among them."""
    from ipb.quality import gate

    policy, codes = "Policy rules hold in raw feeds", "Code lists respected in raw feeds"
    first = gate.run_gate("night-d")
    assert first.success, first.summary()
    assert "nhs_phb: rows checked: 4 (of 4 rows" in _observed(night, "night-d", policy)
    with psycopg.connect(night) as conn:
        recorded = conn.execute("select check_key, count(*) from audit.gate_checked_batches where run_id = 'night-d'"
                                " group by 1 order by 1").fetchall()
        assert recorded == [("code_lists", 4), ("policy_rules", 3)]  # the current batch of each feed with rules

        # Night D+1 from the same ICB: its four rows again, and a fifth (new) row breaking a policy rule.
        conn.execute("set role ipb_loader")
        old = conn.execute("select batch_id from audit.batches where feed = 'nhs_phb'").fetchone()[0]
        new = conn.execute(
            """insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status, rows_in_file,
                   rows_loaded, rows_quarantined, loaded_at)
               values ('nhs_phb', 'QKS', '2025-04-02', 'nhs_phb_QKS_20250402.csv', 'sum-2', 'loaded', 5, 5, 0, now())
               returning batch_id""").fetchone()[0]
        # Copy rows of a batch into the new one: the four as they were, then row 2 again as row 5 (changed below).
        cols = sql.SQL(", ").join(sql.Identifier(feeds.raw_column(c)) for c in feeds.FEEDS["nhs_phb"].columns)
        copy = sql.SQL("insert into raw.nhs_phb (_batch_id, _file_name, _file_checksum, _row_number, _sender_code,"
                       " _extract_date, {cols}) select %s, 'nhs_phb_QKS_20250402.csv', 'sum-2', {row_number},"
                       " _sender_code, '2025-04-02', {cols} from raw.nhs_phb where _batch_id = %s and {rows}")
        conn.execute(copy.format(cols=cols, row_number=sql.SQL("_row_number"), rows=sql.SQL("true")), (new, old))
        conn.execute(copy.format(cols=cols, row_number=sql.Literal(5), rows=sql.SQL("_row_number = 2")), (new, new))
        conn.execute("update raw.nhs_phb set phb_id = 'PHB9', phb_category = 'WHEELCHAIR',"
                     " direct_payment_gbp = '500.00', management_option = 'MIXED'"
                     " where _batch_id = %s and _row_number = 5", (new,))
        conn.commit()

    second = gate.run_gate("night-d1")
    assert not second.success and policy in second.failed_checks and codes not in second.failed_checks
    # The bad row is among those checked; the four repeated rows are not checked again.
    assert "no direct payment for wheelchair budgets: 1" in second.summary()
    assert "nhs_phb: rows checked: 1 (of 5 rows" in _observed(night, "night-d1", codes)
    with psycopg.connect(night) as conn:
        # A check that failed vouches for nothing; the one that passed vouches for the new batch.
        assert conn.execute("select check_key from audit.gate_checked_batches where batch_id = %s",
                            (new,)).fetchall() == [("code_lists",)]
        # Rules other than these (another fingerprint) vouch for nothing either: every row is checked again.
        conn.execute("update audit.gate_checked_batches set rules_fingerprint = 'other rules'")
        conn.commit()
    third = gate.run_gate("night-d1-again")
    assert "nhs_phb: rows checked: 5 (of 5 rows" in _observed(night, "night-d1-again", codes)
    assert "no direct payment for wheelchair budgets: 1" in third.summary()
