"""Airflow's scale-out path run for real: `ipb airflow up --executor celery --workers 2` on fresh state (its own
Airflow home, landing zone, outputs, warehouse database, metadata database and Celery broker database), one small
night dropped and triggered through the REST API, observed to a published warehouse, every task run by one of the
two Celery workers, then `ipb airflow down` leaving no process behind.

The broker is the warehouse's PostgreSQL server (kombu's SQLAlchemy transport), so nothing else is started.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date

import pytest

from ipb import airflow_env, config, warehouse
from ipb.generate import generate_night
from ipb.orchestration import airflow_local
from tests.test_airflow_scheduler import BUILD, INGEST, Airflow, _our_processes

NIGHT = date(2026, 11, 23)
PEOPLE = 200
KEY = "celery-test-key-9a3e71c0d52b48f6"
WORKERS = 2
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    settings = config.load()
    warehouse.start(settings)
    base = tmp_path_factory.mktemp("celery")
    home = (base / "airflow").resolve()
    with warehouse.scratch_database(settings, "ipb_test_celery") as (_, env), \
            warehouse.scratch_database(settings, "ipb_test_celery_meta") as (meta_db, _), \
            warehouse.scratch_database(settings, "ipb_test_celery_broker") as (broker_db, _), \
            pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setenv("IPB_AIRFLOW_HOME", str(home))
        mp.setenv("IPB_AIRFLOW_DB", meta_db)
        mp.setenv("IPB_AIRFLOW_CELERY_DB", broker_db)
        mp.setenv("IPB_OUTPUT_DIR", str(base / "outputs"))
        mp.setenv("IPB_LANDING_DIR", str(base / "landing"))
        mp.setenv("IPB_DEMO_MODE", "0")
        mp.setenv("IPB_PSEUDONYM_KEY", KEY)
        mp.setenv("IPB_BUILD_RETRIES", "0")
        mp.delenv("IPB_AIRFLOW_PORT", raising=False)
        mp.delenv("IPB_ALERT_WEBHOOK_URL", raising=False)
        settings = config.load()
        t0 = time.monotonic()
        try:
            local = airflow_local.up(settings, executor="celery", workers=WORKERS)
            TIMINGS["up"] = time.monotonic() - t0
            yield Airflow(base, warehouse.admin_url(settings), local, settings)
        finally:
            t0 = time.monotonic()
            stopped = airflow_local.down(settings)
            TIMINGS["down"] = time.monotonic() - t0
            left = _our_processes(home)
            for proc in left:  # never leave them running, even when the assertion below fails
                proc.kill()
            print(f"\ncelery timings (s): { {k: round(v, 1) for k, v in TIMINGS.items()} }")
            assert set(stopped) == {*airflow_local.COMPONENTS, "celery-worker-1", "celery-worker-2"}, stopped
            assert not left, f"processes left behind: {[(p.pid, p.name()) for p in left]}"


def _worker_of_each_task(airflow: Airflow) -> dict[str, str]:
    """Task instance id -> the Celery worker whose log says it executed it ("Executing workload in Celery")."""
    ran: dict[str, str] = {}
    for i in range(1, WORKERS + 1):
        name = f"{airflow_local.WORKER_PREFIX}{i}"
        text = airflow_local.log_path(airflow.settings, name).read_text(errors="replace")
        for line in text.splitlines():
            if "Executing workload in Celery" in line:
                for ti_id in re.findall(r"\bid=UUID\('([0-9a-f-]{36})'\)", line):
                    ran[ti_id] = name
    return ran


def test_a_night_runs_on_two_celery_workers(airflow: Airflow) -> None:
    local = airflow.local
    assert local.executor == "celery" and local.workers == ["celery-worker-1", "celery-worker-2"]
    assert airflow.wait("the four DAGs parsed", lambda: {d["dag_id"] for d in airflow.api(
        "GET", "/dags?limit=100")["dags"]} >= {*INGEST, BUILD}, 180)
    # The fresh install's deadline run goes first (max_active_runs=1): nothing to build, it ends successful.
    first = airflow.wait("the deadline run created", lambda: airflow.runs(BUILD), 120)[0]
    assert airflow.wait_run(BUILD, first["dag_run_id"], 180) == "success"

    generate_night(NIGHT, PEOPLE, airflow.base / "landing" / NIGHT.isoformat(), seed=778)
    t0 = time.monotonic()
    ingest_runs = {dag_id: airflow.trigger(dag_id, f"{NIGHT.isoformat()}T01:00:00Z") for dag_id in INGEST}

    run_id = airflow.wait_published(360)
    assert airflow.wait_run(BUILD, run_id, 180) == "success"
    TIMINGS["dropped_to_published"] = time.monotonic() - t0
    assert airflow.api("GET", f"/dags/{BUILD}/dagRuns/{run_id}")["run_type"] == "asset_triggered"
    assert airflow.query("select count(*) from marts.dim_person")[0][0] > 0
    assert (airflow.base / "outputs" / "published" / "rpt_phb_quarterly.csv").exists()

    # Every task that ran went through Celery: queued on the Celery queue, executed by one of the two workers.
    runs = {*ingest_runs.items(), (BUILD, run_id), (BUILD, first["dag_run_id"])}
    ran = _worker_of_each_task(airflow)
    executed = []
    for dag_id, rid in runs:
        assert airflow.wait_run(dag_id, rid, 120) == "success"
        tis = airflow.api("GET", f"/dags/{dag_id}/dagRuns/{rid}/taskInstances?limit=200")["task_instances"]
        for ti in tis:
            if ti["state"] != "success":
                continue
            assert ti["queue"] == "default", ti
            assert ti["id"] in ran, f"{dag_id}.{ti['task_id']} not in any Celery worker's log"
            executed.append(ran[ti["id"]])
    assert len(executed) >= 10, executed
    assert set(executed) == {"celery-worker-1", "celery-worker-2"}, executed  # both workers took tasks
    TIMINGS["tasks"] = len(executed)
    # The broker and the results live in their own database on the warehouse server.
    import psycopg

    with psycopg.connect(warehouse.admin_url(airflow.settings, airflow_env.celery_database())) as conn:
        tables = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
        done = conn.execute("select count(*) from celery_taskmeta where status = 'SUCCESS'").fetchone()[0]
    assert {"kombu_queue", "kombu_message", "celery_taskmeta"} <= tables
    assert done >= len(executed)
