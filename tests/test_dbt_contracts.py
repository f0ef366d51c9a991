"""The project's create_table_as macro (dbt_project/macros/create_table_as.sql) on a real warehouse and real dbt:
a contracted table built by CREATE TABLE AS has exactly the contract's column types, and its not null and primary
key constraints are enforced (a model that breaks one fails). A throwaway dbt project holds only that macro file,
copied from the repository, and three small contracted models and one without a contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from ipb import config

MACRO = config.load().home / "dbt_project" / "macros" / "create_table_as.sql"
COLUMNS = """
    config:
      contract: {enforced: true}
    columns:
      - name: id
        data_type: integer
        constraints: [{type: not_null}, {type: primary_key}]
      - name: amount
        data_type: numeric(12, 2)
      - name: label
        data_type: text
        constraints: [{type: not_null}]
"""
MODELS = {
    "good": "select 1 as id, 1.005::numeric as amount, 'a' as label union all select 2, 2, 'b'",
    "null_label": "select 1 as id, 1::numeric as amount, null::text as label",
    "repeated_id": "select 1 as id, 1::numeric as amount, 'a' as label union all select 1, 2, 'b'",
}


@pytest.fixture
def project(tmp_path: Path, fresh_db: str) -> Path:
    (tmp_path / "macros").mkdir()
    shutil.copy(MACRO, tmp_path / "macros")
    (tmp_path / "models").mkdir()
    (tmp_path / "dbt_project.yml").write_text(
        "name: contract_check\nversion: '1.0'\nprofile: contract_check\nmodel-paths: [models]\n"
        "macro-paths: [macros]\nmodels:\n  contract_check:\n    +materialized: table\n")
    yml = ["version: 2", "models:"]
    for name, select in MODELS.items():
        (tmp_path / "models" / f"{name}.sql").write_text(select + "\n")
        yml.append(f"  - name: {name}{COLUMNS}")
    (tmp_path / "models" / "models.yml").write_text("\n".join(yml))
    # A model without a contract takes dbt-postgres's own path through the same macro.
    (tmp_path / "models" / "uncontracted.sql").write_text("select 1 as id\n")
    c = conninfo_to_dict(fresh_db)
    (tmp_path / "profiles.yml").write_text(json.dumps({"contract_check": {"target": "t", "outputs": {"t": {
        "type": "postgres", "host": c["host"], "port": int(c["port"]), "user": c["user"],
        "password": c.get("password", ""), "dbname": c["dbname"], "schema": "contract_check", "threads": 1}}}}))
    return tmp_path


def test_contracted_table_has_contract_types_and_enforced_constraints(project: Path, fresh_db: str) -> None:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["run", "--project-dir", str(project), "--profiles-dir", str(project),
                                 "--target-path", str(project / "target"), "--log-path", str(project / "logs")])
    status = {r.node.name: str(r.status) for r in result.result.results}
    assert status == {"good": "success", "null_label": "error", "repeated_id": "error", "uncontracted": "success"}
    messages = {r.node.name: r.message or "" for r in result.result.results}
    assert "contains null values" in messages["null_label"] and "is duplicated" in messages["repeated_id"]

    # The table was built by CREATE TABLE AS, not an INSERT into a created table, with the contract's types.
    run_sql = (project / "target" / "run" / "contract_check" / "models" / "good.sql").read_text()
    assert "as (" in run_sql.split("create")[1].split("select")[0] and "insert into" not in run_sql
    with psycopg.connect(fresh_db) as conn:
        columns = conn.execute(
            """select column_name, data_type, numeric_precision, numeric_scale, is_nullable
               from information_schema.columns where table_schema = 'contract_check' and table_name = 'good'
               order by ordinal_position""").fetchall()
        assert columns == [("id", "integer", 32, 0, "NO"), ("amount", "numeric", 12, 2, "YES"),
                           ("label", "text", None, None, "NO")]
        assert conn.execute("select count(*) from pg_constraint where conrelid = 'contract_check.good'::regclass"
                            " and contype = 'p'").fetchone()[0] == 1
        # Values are cast to the declared type (rounded to 2 decimals), as an INSERT into the column would store them.
        assert conn.execute("select amount::text from contract_check.good order by id").fetchall() == [
            ("1.01",), ("2.00",)]
