"""Benchmark of equivalence: one generated night run by both drivers, each in a fresh database, compared.

    python bench/same_night.py [--people N] [--date YYYY-MM-DD] [--seed S]

`direct` calls the phases in-process (bench/common.py run_direct: the functions the DAG tasks call, dbt in its two
parts around the linkage task); `airflow` runs the DAGs themselves (ipb.orchestration.night.run_night: the
ingestion DAGs and build_warehouse through dag.test(), dbt through Cosmos and the Airflow connection). The night's
behaviour is one thing only if both publish the same marts and reports (an order-free digest of every published
table), the same gate results (check name and outcome) and the same CSV returns. Prints each difference and ends
with one JSON line; exits 1 when anything differs. Not a test: it takes minutes (2 nights), so it is run by hand
after a change to the night's wiring (CONTRIBUTING.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

PUBLISHED_SCHEMAS = ("marts", "reports")


def published_digest() -> dict[str, Any]:
    """Per published table: rows and an order-free digest of its rows; the gate's checks and outcomes of the latest
    validation run; a digest of each CSV in the outputs folder."""
    import psycopg
    from psycopg import sql

    from ipb import config, db

    tables: dict[str, Any] = {}
    with psycopg.connect(db.url()) as conn:
        names = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = any(%s)"
            " order by 1, 2", (list(PUBLISHED_SCHEMAS),)).fetchall()
        for schema, table in names:
            rows, digest = conn.execute(sql.SQL(
                "select count(*), md5(coalesce(string_agg(md5(t::text), '' order by md5(t::text)), ''))"
                " from {} as t").format(sql.Identifier(schema, table))).fetchone()
            tables[f"{schema}.{table}"] = {"rows": rows, "digest": digest}
        checks = dict(conn.execute(
            "select r.check_name, bool_and(r.success) from audit.validation_results as r"
            " inner join audit.validation_runs as v on r.validation_run_id = v.validation_run_id"
            " where v.run_id = (select run_id from audit.validation_runs order by validation_run_id desc limit 1)"
            " group by r.check_name").fetchall())
    outputs = {}
    out_dir = config.load().output_dir
    for path in sorted(out_dir.rglob("*.csv")):
        outputs[str(path.relative_to(out_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"tables": tables, "checks": checks, "outputs": outputs}


def one_route(route: str, night: str, people: int, seed: int) -> dict[str, Any]:
    with common.temp_state() as base, common.fresh_database() as dbname:
        print(f"{route}: database {dbname}, state {base}")
        runner = common.run_direct if route == "direct" else common.run_airflow
        run = runner(night, people, base, seed=seed, say=lambda msg: print(f"  {msg}"))
        seen = common.isolated(published_digest).value
    return {"pipeline_seconds": round(run.pipeline_seconds, 1), **seen}


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for part in ("tables", "checks", "outputs"):
        for name in sorted(set(a[part]) | set(b[part])):
            if a[part].get(name) != b[part].get(name):
                out.append(f"{part} {name}: direct {a[part].get(name)} / airflow {b[part].get(name)}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("IPB_PSEUDONYM_KEY", "bench-same-night-key")  # the same key for both routes
    seen = {route: one_route(route, args.date, args.people, args.seed) for route in ("direct", "airflow")}
    diffs = differences(seen["direct"], seen["airflow"])
    for line in diffs:
        print("DIFFERS", line)
    d = seen["direct"]
    print(f"{len(d['tables'])} published tables ({sum(t['rows'] for t in d['tables'].values()):,} rows),"
          f" {len(d['checks'])} gate checks, {len(d['outputs'])} CSV outputs: "
          + ("identical" if not diffs else f"{len(diffs)} differences"))
    common.print_json({"bench": "same_night", "people": args.people, "night": args.date,
                       "tables": len(d["tables"]), "checks": len(d["checks"]), "outputs": len(d["outputs"]),
                       "differences": diffs,
                       "pipeline_seconds": {r: s["pipeline_seconds"] for r, s in seen.items()}})
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
