"""The dbt project on a real warehouse: a hand-made night loaded by the real loader, `dbt build` (seeds, models,
snapshot, data tests, unit tests), linkage against known truth, IG promises, history across two nights."""

from __future__ import annotations

import csv
import hashlib
import hmac
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ipb import config, db, warehouse
from ipb.orchestration.build import run_build
from ipb.transform import dbt_env, run_dbt
from ipb.transform.dbt import PROFILE_ARGS
from ipb.transform.linkage_quality import compare, read_links
from tests import dbt_sample

KEY = "a-test-key-that-is-long-enough-0123456789"
FORBIDDEN_COLUMNS = {
    "nhs_number", "forename", "surname", "date_of_birth", "birth_date", "postcode", "upn", "uln", "phb_id",
    "la_person_id", "ehc_plan_id", "event_reference", "record_id", "person_seq",
}


def _nhs_valid(s: str) -> bool:
    total = sum(int(d) * w for d, w in zip(s[:9], range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(s[9])


@pytest.fixture(scope="module")
def night(settings: config.Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A fresh database with the sample night loaded and built (module-scoped: one dbt build for many checks)."""
    with warehouse.scratch_database(settings, "ipb_test_dbt") as (_, env), pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setenv("IPB_PSEUDONYM_KEY", KEY)
        db.bootstrap()
        landing = tmp_path_factory.mktemp("landing")
        dbt_sample.load_night(landing / "20261122", "20261122")
        result = run_build()
        yield {"build": result, "landing": landing, "url": warehouse.admin_url(config.load())}


def _failures(result) -> list[str]:
    """Names of the nodes that errored or failed, for a readable assertion message."""
    results = getattr(result.result, "results", None) or []
    return [f"{r.node.name}: {r.status}" for r in results if str(r.status) in ("error", "fail", "runtime error")]


def _rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()


def test_dbt_env_carries_key_only_in_pgoptions(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", KEY)
    env = dbt_env(config.load())
    assert env["PGOPTIONS"] == f"-c ipb.pseudonym_key_hex={KEY.encode().hex()}"
    assert all(KEY not in v for k, v in env.items())
    profiles = (config.load().dbt_project_dir / "profiles.yml").read_text()
    assert "env_var('IPB_DBT_PASSWORD')" in profiles and "role: ipb_transformer" in profiles


@pytest.mark.fast
def test_airflow_and_command_line_dbt_share_one_target() -> None:
    """profiles.yml (command line, tests) and the Airflow connection's profile (the DAG) are one target: the same
    schema, role and session settings, so a build behaves the same from either door."""
    import yaml

    profiles = yaml.safe_load((Path(__file__).parents[1] / "dbt_project" / "profiles.yml").read_text())
    target = profiles["ipb"]["outputs"]["warehouse"]
    shared = {k: v for k, v in target.items() if k in PROFILE_ARGS and "env_var" not in str(v)}
    assert shared == {k: v for k, v in PROFILE_ARGS.items() if k != "threads"}
    assert "env_var('IPB_DBT_THREADS', '2')" in target["threads"] and PROFILE_ARGS["threads"] == 2


@pytest.mark.fast
def test_only_staging_reads_sources_each_folder_from_its_own_sources_file() -> None:
    """Only staging models read sources (GitLab's rule), and each staging folder reads only the sources declared in
    its own `_<folder>__sources.yml`, the one sources file of that folder."""
    import yaml

    models = Path(__file__).parents[1] / "dbt_project" / "models"
    declared: dict[str, Path] = {}
    for path in models.rglob("*.yml"):
        for source in (yaml.safe_load(path.read_text()) or {}).get("sources", []):
            assert source["name"] not in declared, (source["name"], path, declared.get(source["name"]))
            declared[source["name"]] = path
    for path in declared.values():
        assert path.parent.parent == models / "staging" and path.name == f"_{path.parent.name}__sources.yml", path
    readers = 0
    for path in models.rglob("*.sql"):
        for name in re.findall(r"source\(\s*'(\w+)'", path.read_text()):
            readers += 1
            assert path.parent.parent == models / "staging", f"{path.relative_to(models)} reads source {name}"
            assert declared[name].parent == path.parent, f"{path.relative_to(models)} reads another folder's {name}"
    assert readers >= 5


def test_pseudonymise_macro_is_hmac_sha256(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SQL HMAC equals Python's hmac for short, block-sized and long keys; the key is never in compiled SQL."""
    db.bootstrap()
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", KEY)
    res = run_dbt(["compile", "--inline", "select {{ pseudonymise('msg') }} as h from (values ('')) as t (msg)"])
    assert res.success, res.exception
    compiled = res.result.results[0].node.compiled_code
    assert "current_setting('ipb.pseudonym_key_hex')" in compiled
    assert KEY not in compiled and KEY.encode().hex() not in compiled
    query = compiled.replace("(values (''))", "(values (%s))")
    for key in (b"k", b"x" * 64, b"long key " * 20, KEY.encode()):
        for message in ("9990000018", "local:send:886:EHC1", "£ é"):
            with psycopg.connect(fresh_db) as conn:
                conn.execute("select set_config('ipb.pseudonym_key_hex', %s, false)", (key.hex(),))
                got = conn.execute(query, (message,)).fetchone()[0]
            assert got == hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def test_dbt_build_passes(night: dict) -> None:
    """Seeds, staging, linkage, snapshot, marts, reports, audit: every model, data test and unit test passes."""
    result = night["build"]
    assert result.success, (result.exception, _failures(result))
    statuses = {r.node.resource_type: set() for r in result.result.results}
    for r in result.result.results:
        statuses[r.node.resource_type].add(str(r.status))
    assert {"seed", "model", "snapshot", "test", "unit_test"} <= {str(k) for k in statuses}
    names = {r.node.name for r in result.result.results}
    assert {"fct_integrated_personal_budget", "rpt_phb_quarterly", "opt_out_exclusions"} <= names


def test_every_table_dbt_builds_is_analyzed_as_it_is_built(night: dict) -> None:
    """Each model's table gets its planner statistics from the project's post-hook (macros/statistics.sql), not
    from autoanalyze minutes later: the models, tests and gate after it are planned on them. (Snapshots are not
    models; the linkage task analyzes its own tables.)"""
    rows = _rows(night["url"], "select schemaname || '.' || relname, last_analyze is not null"
                 " from pg_stat_user_tables where schemaname in ('restricted', 'build_marts', 'build_reports')"
                 " and left(relname, 4) <> 'snp_'")
    assert len(rows) > 30
    assert [name for name, analyzed in rows if not analyzed] == []


def _truth_key(feed: str, record_id: str, row_number: int) -> str:
    """The sample's key of a record: SEN2 persons have none of their own, so theirs is their place in the file."""
    return f"Person {row_number}" if feed == "send" else record_id.rsplit(":", 1)[1]


def test_every_record_one_person_and_links_match_truth(night: dict) -> None:
    url = night["url"]
    index = _rows(url, "select i.record_id, i.person_seq, i.link_rule, r.feed, r.source_row_number"
                       " from restricted.int_person_index as i"
                       " inner join restricted.int_person_records as r using (record_id)")
    raw = _rows(url, "select (select count(*) from raw.nhs_phb) + (select count(*) from raw.social_care)"
                     " + (select count(*) from raw.send) + (select count(*) from raw.send_budget)")[0][0]
    assert len(index) == raw == len(dbt_sample.TRUTH)
    predicted: dict[int, set[str]] = {}
    truth: dict[str, set[str]] = {}
    rules: dict[str, str] = {}
    for record_id, person, rule, feed, row_number in index:
        key = _truth_key(feed, record_id, row_number)
        true_person = dbt_sample.TRUTH[(feed, key)]
        predicted.setdefault(person, set()).add(true_person + "/" + key)
        truth.setdefault(true_person, set()).add(true_person + "/" + key)
        rules[key] = rule
    # SEN2 persons and their budgets (by UPN, or by demographics when there is none), nicknames and double
    # surnames, swapped day and month, the right twin and never the other one, named CLD rows: all as the truth.
    assert sorted(map(sorted, predicted.values())) == sorted(map(sorted, truth.values()))
    assert rules["EV00000002"] == "local_id"
    assert rules["PHB000007"] == "unlinked"  # the other twin
    assert rules["Person 5"] == "unlinked"  # SEND only, no budget row
    assert {rules["Person 1"], rules["BUD0000002"]} & {"upn", "splink"}


def test_linkage_quality_against_truth_file(night: dict, tmp_path: Path) -> None:
    """`ipb linkage-quality` reads the generator's truth format; the sample night links perfectly."""
    url = night["url"]
    rows = _rows(url, "select _file_name, _row_number, phb_id from raw.nhs_phb union all "
                      "select _file_name, _row_number, event_reference from raw.social_care union all "
                      "select _file_name, _row_number, 'Person ' || _row_number from raw.send union all "
                      "select _file_name, _row_number, budgetid from raw.send_budget")
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    with (truth_dir / "records.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file_name", "row_number", "feed", "person_id", "record_key"])
        for file_name, row_number, key in rows:
            feed = file_name.rsplit("_", 2)[0]
            w.writerow([file_name, row_number, feed, dbt_sample.TRUTH[(feed, key)], key])
    q = compare(_truth(truth_dir), read_links())
    assert q.compared_records == len(dbt_sample.TRUTH)
    assert q.precision == 1.0 and q.recall == 1.0 and q.meets_goal()
    # a wrong link is seen: pretend the twins are one true person
    merged = {k: ("P6" if v == "P7" else v) for k, v in _truth(truth_dir).items()}
    assert compare(merged, read_links()).recall < 1.0

    from typer.testing import CliRunner

    from ipb.cli import app

    out = CliRunner().invoke(app, ["linkage-quality", "--truth", str(truth_dir)])
    assert out.exit_code == 0, out.output
    assert "splink" in out.output and "goal met" in out.output


def _truth(truth_dir: Path) -> dict[tuple[str, int], str]:
    from ipb.transform.linkage_quality import read_truth

    return read_truth(truth_dir)


def test_no_direct_identifiers_in_analyst_tables(night: dict) -> None:
    """Column names and values of every build_marts/build_reports table: no NHS numbers, postcodes or birth dates."""
    url = night["url"]
    cols = _rows(url, "select table_schema, table_name, column_name, data_type from information_schema.columns "
                      "where table_schema in ('build_marts', 'build_reports')")
    assert {t for _, t, _, _ in cols} >= {"dim_person", "fct_integrated_personal_budget", "rpt_phb_quarterly"}
    assert not {c for _, _, c, _ in cols} & FORBIDDEN_COLUMNS
    nhs_like = re.compile(r"\b\d{10}\b")
    postcode_like = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b")
    birth_dates = {r[0] for r in _rows(url, "select distinct birth_date::text from restricted.int_person_records")}
    scanned = 0
    for schema, table, column, data_type in cols:
        if data_type not in ("text", "date"):
            continue
        values = _rows(url, sql.SQL("select distinct {}::text from {}.{}").format(
            sql.Identifier(column), sql.Identifier(schema), sql.Identifier(table)).as_string())
        for (v,) in values:
            if v is None:
                continue
            scanned += 1
            assert not any(_nhs_valid(m) for m in nhs_like.findall(v)), f"{schema}.{table}.{column}"
            assert not postcode_like.search(v), f"{schema}.{table}.{column}"
            assert v not in birth_dates, f"{schema}.{table}.{column}"
    assert scanned > 50


def test_grants_and_opt_out(night: dict) -> None:
    url = night["url"]
    expected = [
        ("ipb_analyst", "build_marts.dim_person", True), ("ipb_ig_lead", "build_reports.rpt_phb_quarterly", True),
        ("ipb_analyst", "restricted.int_person_records", False), ("ipb_analyst", "restricted.int_person_index", False),
        ("ipb_ig_lead", "audit.opt_out_exclusions", True), ("ipb_analyst", "audit.opt_out_exclusions", False),
    ]
    for role, table, allowed in expected:
        got = _rows(url, "select has_table_privilege(%s, %s, 'select')", (role, table))[0][0]
        assert got is allowed, (role, table)
    # the opted-out wheelchair budget holder is nowhere in the marts, and is counted in the audit
    assert _rows(url, "select count(*) from build_marts.fct_budget_component where one_off_gbp = 2500")[0][0] == 0
    people = _rows(url, "select count(*) from build_marts.dim_person")[0][0]
    persons = _rows(url, "select count(distinct person_seq) from restricted.int_person_index")[0][0]
    assert people == persons - 1
    excluded = dict(_rows(url, "select feed, people_excluded from audit.opt_out_exclusions"))
    assert excluded == {"nhs_phb": 1, "social_care": 0, "send": 0, "send_budget": 0}


def test_integrated_budgets(night: dict) -> None:
    url = night["url"]
    latest = _rows(url, """
        select funder_mix, is_integrated, n_funders, health_annual_gbp, social_care_annual_gbp,
               education_annual_gbp, one_off_gbp, management_option, age_band
        from build_marts.fct_integrated_personal_budget where as_at_kind = 'latest' order by funder_mix, age_band""")
    by_mix = {}
    for row in latest:
        by_mix.setdefault(row[0], []).append(row)
    # P1: CHC + council-managed (hourly 20 x 10 x 52.18) + direct payment (1000 monthly x 12)
    (p1,) = [r for r in by_mix["health+social_care"] if r[3] == 41250.50]
    assert p1[1] and p1[2] == 2 and float(p1[4]) == 10436.00 + 12000.00 and p1[7] == "mixed"
    # P2 and P6 (children): health only from nhs_phb, education and social care elements from SEND
    children = by_mix["education+health+social_care"]
    assert len(children) == 2 and all(r[2] == 3 and r[8] == "11-15" for r in children)
    # P5: CLD one-off kept apart
    (p5,) = [r for r in by_mix["health+social_care"] if r[3] == 8000]
    assert float(p5[6]) == 400.00 and float(p5[4]) == 7827.00
    report = _rows(url, "select phbs_in_place, national_phbs_in_place from build_reports.rpt_phb_quarterly "
                        "where area_code = 'ENGLAND' and breakdown = 'all' order by quarter_end desc limit 1")
    assert report == [("6", 6)]  # 7 PHBs, one opted out; P2's started in the quarter
    icb = _rows(url, "select phbs_in_place from build_reports.rpt_phb_quarterly where area_code = 'QKS' "
                     "and breakdown = 'all' order by quarter_end desc limit 1")
    assert icb == [("*",)]


def test_person_index_must_cover_tonights_records(night: dict) -> None:
    """The person index's coverage test fails when the linkage task's links miss one of tonight's records, and when
    they hold a link for a record that is not tonight's (links from another run); it passes again once restored."""
    url = night["url"]
    test = "linkage_covers_records"

    def build_index() -> list[str]:
        res = run_dbt(["build", "--select", "int_person_index"])
        return [f for f in _failures(res) if f.startswith(test)]

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create temp table saved as select * from restricted.linkage_person_links")
        try:
            conn.execute("delete from restricted.linkage_person_links where record_id = "
                         "(select min(record_id) from restricted.linkage_person_links)")
            assert build_index(), "a record without a person passed"
            conn.execute("truncate restricted.linkage_person_links")
            conn.execute("insert into restricted.linkage_person_links select * from saved")
            conn.execute("insert into restricted.linkage_person_links select (jsonb_populate_record("
                         "null::restricted.linkage_person_links, to_jsonb(saved) || '{\"record_id\": \"another\"}')).*"
                         " from saved limit 1")
            assert build_index(), "a link for a record that is not tonight's passed"
        finally:
            conn.execute("truncate restricted.linkage_person_links")
            conn.execute("insert into restricted.linkage_person_links select * from saved")
    assert build_index() == []


def test_dbt_docs_generate_and_key_not_in_artifacts(night: dict) -> None:
    res = run_dbt(["docs", "generate"])
    assert res.success, res.exception
    target = config.load().dbt_project_dir / "target"
    assert (target / "catalog.json").is_file() and (target / "manifest.json").is_file()
    for folder in (target, config.load().dbt_project_dir / "logs"):
        for path in folder.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert KEY.encode() not in data and KEY.encode().hex().encode() not in data, path


def test_dbt_docs_task_regenerates_only_when_the_project_changes(
    night: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ipb.orchestration import build

    monkeypatch.setenv("IPB_OUTPUT_DIR", str(tmp_path / "outputs"))
    out = Path(build.dbt_docs()).parent
    generated = (out / "catalog.json").stat().st_mtime_ns
    assert (out / "index.html").is_file() and (out / "static_index.html").is_file()  # one page that opens offline
    assert build.dbt_docs() and (out / "catalog.json").stat().st_mtime_ns == generated  # same project: kept
    (out / build.DOCS_FINGERPRINT).write_text("docs of an older project\n")
    build.dbt_docs()
    assert (out / "catalog.json").stat().st_mtime_ns != generated  # project changed: generated again
    # The fingerprint follows the project's files (a copy of the project, edited).
    home = tmp_path / "home"
    shutil.copytree(config.load().dbt_project_dir, home / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setenv("IPB_HOME", str(home))
    before = build.docs_fingerprint(config.load())
    model = home / "dbt_project" / "models" / "marts" / "dim_person.sql"
    model.write_text(model.read_text() + "\n-- edited\n")
    assert build.docs_fingerprint(config.load()) != before


def test_history_across_nights_and_key_rotation(night: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second night amends a PHB: the snapshot keeps both versions, the latest as-at uses the new amount, past
    quarter ends the old one. Then a different key gives different pseudonyms."""
    url = night["url"]
    dbt_sample.load_night(night["landing"] / "20261123", "20261123", amended=True)
    res = run_build()
    assert res.success, (res.exception, _failures(res))
    versions = _rows(url, "select annual_gbp::float, valid_from_extract_date::text, valid_to_extract_date::text "
                          "from restricted.int_budget_component_history "
                          "where component_id = 'nhs_phb:QKS:PHB000001:health' order by version_number")
    assert versions == [(41250.5, "-infinity", "2026-11-23"), (52000.0, "2026-11-23", "infinity")]
    amounts = dict(_rows(url, "select as_at_kind, max(health_annual_gbp)::float "
                              "from build_marts.fct_integrated_personal_budget group by 1"))
    assert amounts == {"latest": 52000.0, "quarter_end": 41250.5}

    before = {r[0] for r in _rows(url, "select person_key from build_marts.dim_person")}
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", KEY + "-rotated")
    res = run_dbt(["run", "--select", "int_person_index", "int_person_demographics", "dim_person"])
    assert res.success, res.exception
    after = {r[0] for r in _rows(url, "select person_key from build_marts.dim_person")}
    assert len(after) == len(before) and not before & after


def _lone_records(conn: psycopg.Connection, n: int) -> list[int]:
    """The first n records (by record_seq) with no usable link key: people of their own, free to plant keys on."""
    lone = [r[0] for r in conn.execute(
        "select record_seq from restricted.int_person_records as r where not exists ("
        " select from restricted.int_person_link_keys as k where k.record_seq = r.record_seq)"
        " order by record_seq limit %s", (n,)).fetchall()]
    assert len(lone) == n
    return lone
