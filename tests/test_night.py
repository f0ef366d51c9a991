"""Whole nights through Airflow (`run_night`: the ingestion DAGs' dag.test(), the asset-triggered build with
Cosmos, the GX gate, publication, outputs) on generated data, in one fresh warehouse database:

1. a first night publishes marts, report files with suppression applied, and an audit of every file and check;
2. the next night publishes the changes and nothing else changes;
3. a night whose gate fails keeps the previous published state byte-identical;
4. re-running an earlier night is safe (nothing doubled);
5. the pseudonym key and the input's NHS numbers appear in no log, dbt artifact, Airflow metadata or output.

Steps 1-4 build on each other; each test reaches its step through `tests.steps` (the steps before it run first,
once), so any test can run alone or in any order.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from ipb import config, warehouse
from ipb.generate import generate_night
from tests.conftest import copy_expectations
from tests.steps import Steps

pytestmark = pytest.mark.scenario

D1 = date(2026, 11, 22)
PEOPLE = 900
SEED = 424242
KEY = "night-test-key-7b1e4c9a0f3d5e62"


class Night:
    def __init__(self, base: Path, url: str) -> None:
        self.base = base
        self.url = url
        self.landing = base / "landing"
        self.truth = base / "truth"
        self.results: dict[date, object] = {}
        self.steps = Steps(self, first_night_publishes, next_night_publishes_the_changes_and_nothing_else,
                           failed_gate_keeps_previous_published_state, rerunning_an_earlier_night_is_safe)

    def run(self, night: date, defects: float = 0.0):
        from ipb.orchestration.night import run_night

        folder = self.landing / night.isoformat()
        generate_night(night, PEOPLE, folder, seed=SEED, defects=defects, truth_dir=self.truth / night.isoformat())
        result = run_night(night, folder)
        self.results[night] = result
        return result

    def query(self, q: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(q, params).fetchall()

    def table_fingerprint(self, schema: str) -> dict[str, tuple]:
        """Columns and an order-independent hash of all rows, per table of a schema."""
        out = {}
        with psycopg.connect(self.url) as conn:
            tables = [r[0] for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s", (schema,))]
            for t in tables:
                cols = tuple(r[0] for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s and table_name = %s"
                    " order by ordinal_position", (schema, t)))
                digest = conn.execute(sql.SQL(
                    "select count(*), md5(coalesce(string_agg(md5(x::text), '' order by md5(x::text)), ''))"
                    " from {} as x").format(sql.Identifier(schema, t))).fetchone()
                out[t] = (cols, digest)
        return out


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    settings = config.load()
    warehouse.start(settings)
    base = tmp_path_factory.mktemp("nights")
    expectations = copy_expectations(settings, base)
    with warehouse.scratch_database(settings, "ipb_test_night") as (_, env), pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setenv("IPB_AIRFLOW_HOME", str(base / "airflow"))
        mp.setenv("IPB_OUTPUT_DIR", str(base / "outputs"))
        mp.setenv("IPB_EXPECTATIONS_DIR", str(expectations))
        mp.setenv("IPB_DEMO_MODE", "0")
        mp.setenv("IPB_PSEUDONYM_KEY", KEY)
        yield Night(base, warehouse.admin_url(config.load()))


def test_first_night_publishes(night: Night) -> None:
    night.steps.reach(first_night_publishes)


def first_night_publishes(night: Night) -> None:
    result = night.run(D1)
    assert result.dag_states == {"ingest_nhs_phb": "success", "ingest_social_care": "success",
                                 "ingest_send": "success", "ingest_send_budget": "success",
                                 "build_warehouse": "success"}
    assert result.build_trigger.startswith("assets")  # triggered by data: every feed's raw Asset updated
    # Published marts exist and are readable; the build schemas were swapped in.
    published = {r[0] for r in night.query(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema in ('marts', 'reports')")}
    assert {"marts.dim_person", "marts.fct_integrated_personal_budget", "reports.rpt_phb_quarterly",
            "reports.rpt_integrated_budgets_by_area"} <= published
    assert night.query("select count(*) from marts.dim_person")[0][0] > 0
    # Every landed file is in the audit, with its row accounting.
    landed = {p.name for p in (night.landing / D1.isoformat()).iterdir()}
    audited = {r[0] for r in night.query("select file_name from audit.batches")}
    assert landed == audited
    assert night.query("select bool_and(rows_in_file = rows_loaded + rows_quarantined) from audit.batches"
                       " where status = 'loaded'")[0][0]
    # The gate's checks are recorded, passed, and the publication decision is in the audit.
    runs = night.query("select checkpoint, success, published from audit.validation_runs")
    assert runs and all(ok and pub for _, ok, pub in runs)
    assert night.query("select count(*) from audit.validation_results")[0][0] >= 10
    # Report files exist, with suppression applied below national level.
    out = night.base / "outputs" / "published"
    with (out / "rpt_phb_quarterly.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    icb = [r for r in rows if r["area_level"] == "icb"]
    assert icb
    for r in icb:
        for col in ("phbs_in_place", "new_in_quarter"):
            v = r[col]
            assert v == "*" or (v.isdigit() and (int(v) == 0 or int(v) % 5 == 0)), (col, v)
    assert (out / "rpt_integrated_budgets_by_area.csv").exists()
    assert (out / "phb_board_chart.png").stat().st_size > 10_000
    assert "<img" in (out / "phb_board_chart.html").read_text()
    assert (night.base / "outputs" / "data_docs" / "index.html").exists()
    assert (night.base / "outputs" / "dbt_docs" / "index.html").exists()


def test_next_night_publishes_the_changes_and_nothing_else(night: Night) -> None:
    night.steps.reach(next_night_publishes_the_changes_and_nothing_else)


def next_night_publishes_the_changes_and_nothing_else(night: Night) -> None:
    before_marts = night.table_fingerprint("marts")
    before_org = night.query("select * from marts.dim_organisation order by 1")
    result = night.run(D1 + timedelta(days=1))
    assert result.success
    after_marts = night.table_fingerprint("marts")
    assert after_marts != before_marts  # ~1% of records changed overnight, so the marts changed
    assert night.table_fingerprint("marts_previous") == before_marts  # the previous night is kept, intact
    assert night.query("select * from marts.dim_organisation order by 1") == before_org
    # Components that did not change keep their rows exactly (same pseudonym, amounts, dates); only a small share
    # differs. extract_date is the snapshot's date, so it moves for every row and is left out of the comparison.
    cols = ", ".join(c for c in after_marts["fct_budget_component"][0] if c != "extract_date")
    gone, new, total = night.query(
        f"""with a as (select {cols} from marts_previous.fct_budget_component),
                 b as (select {cols} from marts.fct_budget_component)
            select (select count(*) from (select * from a except select * from b) x),
                   (select count(*) from (select * from b except select * from a) y),
                   (select count(*) from b)""")[0]
    assert 0 < gone + new < 0.1 * total


def test_failed_gate_keeps_previous_published_state(night: Night) -> None:
    night.steps.reach(failed_gate_keeps_previous_published_state)


def failed_gate_keeps_previous_published_state(night: Night) -> None:
    approved = night.base / "expectations" / "approved_columns.yml"
    original = approved.read_text()
    # An analyst column nobody approved: the IG check "only approved columns" must block publication.
    spec = yaml.safe_load(original)
    spec["build_marts"]["fct_integrated_personal_budget"]["columns"].remove("is_integrated")
    approved.write_text(yaml.safe_dump(spec))
    before = {s: night.table_fingerprint(s) for s in ("marts", "reports")}
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("IPB_BUILD_RETRIES", "0")  # the gate fails at once (no 1-minute retry)
            result = night.run(D1 + timedelta(days=2))
    finally:
        approved.write_text(original)
    assert result.dag_states["build_warehouse"] == "failed"
    assert {s: night.table_fingerprint(s) for s in ("marts", "reports")} == before
    failed = night.query(
        "select v.run_id, v.published, r.check_name from audit.validation_runs v join audit.validation_results r"
        " using (validation_run_id) where not r.success order by v.validation_run_id desc")
    assert failed and not any(pub for _, pub, _ in failed)
    assert night.query("select count(*) from audit.pipeline_events where event = 'task_failed'")[0][0] >= 1


def test_rerunning_an_earlier_night_is_safe(night: Night) -> None:
    night.steps.reach(rerunning_an_earlier_night_is_safe)


def rerunning_an_earlier_night_is_safe(night: Night) -> None:
    rows_before = night.query("select count(*) from raw.nhs_phb")[0][0]
    from ipb.orchestration.night import run_night

    result = run_night(D1, night.landing / D1.isoformat())
    assert result.success
    assert night.query("select count(*) from raw.nhs_phb")[0][0] == rows_before  # nothing loaded twice
    statuses = night.query("select status, count(*) from audit.batches where started_at >= %s group by 1",
                           (result.started_at,))
    assert dict(statuses).keys() <= {"duplicate", "rejected"}


def test_no_key_or_nhs_number_in_logs_artifacts_or_metadata(night: Night) -> None:
    night.steps.reach(rerunning_an_earlier_night_is_safe)  # after every night of the module
    numbers = set()
    for path in night.landing.rglob("*.csv"):
        numbers |= set(re.findall(rb"999\d{7}", path.read_bytes()))
    assert numbers
    secrets = [KEY.encode(), KEY.encode().hex().encode()]
    settings = config.load()
    places = [night.base / "airflow", night.base / "outputs", night.base / "expectations",
              settings.dbt_project_dir / "target", settings.dbt_project_dir / "logs"]
    scanned = 0
    for place in places:
        for path in (p for p in place.rglob("*") if p.is_file()):
            data = path.read_bytes()
            scanned += 1
            for secret in secrets:
                assert secret not in data, f"pseudonym key found in {path}"
            found = set(re.findall(rb"999\d{7}", data)) & numbers
            assert not found, f"{len(found)} input NHS numbers found in {path}"
    assert scanned > 20
