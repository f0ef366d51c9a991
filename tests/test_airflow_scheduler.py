"""Airflow under its real scheduler (not dag.test()): `ipb airflow up` on fresh state (its own Airflow home, output
folder, warehouse database and metadata database), observed only through the REST API and the warehouse's audit.

1. On a fresh install the deadline run of build_warehouse starts at once, finds nothing new and ends successful
   (skipped), not failed; a night's files dropped into the landing zone, the ingestion runs triggered through
   the API, and the asset-triggered build publishes the warehouse.
2. A build whose dbt step fails (a raw table renamed away) ends FAILED within minutes with no task left waiting,
   the failure is in audit.pipeline_events and POSTed to the alert webhook (codes, no values), `ipb airflow
   status` exits 1, and the next run still starts and ends.
3. `ipb airflow down` leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import psycopg
import pytest

from ipb import config, warehouse
from ipb.generate import generate_night
from ipb.orchestration import airflow_local
from ipb.orchestration.night import INGEST_DAGS
from tests.conftest import copy_expectations

pytestmark = pytest.mark.scenario

NIGHT = date(2026, 11, 22)
PEOPLE = 300
KEY = "scheduler-test-key-5d0c2e9b7a41f83e"
INGEST = INGEST_DAGS  # one ingestion DAG per feed
BUILD = "build_warehouse"
UNFINISHED = {None, "none", "scheduled", "queued", "running", "deferred", "up_for_retry", "up_for_reschedule",
              "restarting"}
TIMINGS: dict[str, float] = {}


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class Airflow:
    def __init__(self, base: Path, url: str, local: airflow_local.Local, settings: config.Settings) -> None:
        self.base = base
        self.url = url
        self.local = local
        self.settings = settings
        self._token = airflow_local.token(settings, local.url)

    def api(self, method: str, path: str, body: dict | None = None):
        status, data = airflow_local._http_json(f"{self.local.url}/api/v2{path}", method, body, self._token)
        assert status < 300, (method, path, status, data)
        return data

    def query(self, q: str, params=None) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(q, params)
            return cur.fetchall() if cur.description else []

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict | None = None) -> str:
        body = {"logical_date": logical_date, "conf": conf or {}}
        return self.api("POST", f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")["task_instances"]
        return {t["task_id"]: t["state"] for t in tis}

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise AssertionError(f"{dag_id} {run_id} did not end within {timeout:.0f}s: "
                             f"{self.task_states(dag_id, run_id)}; logs in {self.settings.airflow_home / 'logs'}")

    def wait_published(self, timeout: float) -> str:
        """The run id of the first build that published, waited for."""
        def published():
            rows = self.query("select run_id from audit.validation_runs where published")
            return rows[0][0] if rows else None

        return self.wait("a published build", published, timeout)

    def wait(self, what: str, check, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(2)
        raise AssertionError(f"{what}: not within {timeout:.0f}s; logs in {self.settings.airflow_home / 'logs'}")


def _our_processes(home: Path) -> list[psutil.Process]:
    """Every live process whose environment names this test's Airflow home."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid == os.getpid() or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("AIRFLOW_HOME") == str(home):
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    settings = config.load()
    warehouse.start(settings)
    base = tmp_path_factory.mktemp("scheduler")
    expectations = copy_expectations(settings, base)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = (base / "airflow").resolve()
    with warehouse.scratch_database(settings, "ipb_test_sched") as (_, env), \
            warehouse.scratch_database(settings, "ipb_test_airflow_meta") as (meta_db, _), \
            pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.setenv("IPB_AIRFLOW_HOME", str(home))
        mp.setenv("IPB_AIRFLOW_DB", meta_db)
        mp.setenv("IPB_OUTPUT_DIR", str(base / "outputs"))
        mp.setenv("IPB_LANDING_DIR", str(base / "landing"))
        mp.setenv("IPB_EXPECTATIONS_DIR", str(expectations))
        mp.setenv("IPB_DEMO_MODE", "0")
        mp.setenv("IPB_PSEUDONYM_KEY", KEY)
        mp.setenv("IPB_BUILD_RETRIES", "0")  # a failed build task fails its run at once (no 1-minute retry)
        mp.setenv("IPB_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/alert")
        mp.delenv("IPB_AIRFLOW_PORT", raising=False)
        settings = config.load()
        t0 = time.monotonic()
        try:
            local = airflow_local.up(settings)
            TIMINGS["up"] = time.monotonic() - t0
            yield Airflow(base, warehouse.admin_url(settings), local, settings)
        finally:
            stopped = airflow_local.down(settings)
            server.shutdown()
            left = _our_processes(home)
            for proc in left:  # never leave them running, even when the assertion below fails
                proc.kill()
            print(f"\nreal-scheduler timings (s): { {k: round(v, 1) for k, v in TIMINGS.items()} }")
            assert set(stopped) <= set(airflow_local.COMPONENTS)
            assert not left, f"processes left behind: {[p.pid for p in left]}"


def test_fresh_install_deadline_run_skips_and_the_night_publishes(airflow: Airflow) -> None:
    dags = airflow.wait("the four DAGs parsed", lambda: {d["dag_id"] for d in airflow.api(
        "GET", "/dags?limit=100")["dags"]} >= {*INGEST, BUILD}, 180)
    assert dags
    # Fresh install: the scheduler starts the deadline run (latest 07:00) at once. It must not fail, and must not
    # race the ingests: it finds no data, records the skip and ends successful.
    first = airflow.wait("the deadline run created", lambda: airflow.runs(BUILD), 120)[0]
    assert airflow.wait_run(BUILD, first["dag_run_id"], 180) == "success"
    states = airflow.task_states(BUILD, first["dag_run_id"])
    assert states["check_feeds"] == "success" and states["dbt_build"] == "skipped", states
    assert airflow.query("select count(*) from audit.pipeline_events where event = 'build_skipped'")[0][0] >= 1

    # Drop a night's files into the landing zone and trigger its ingestion runs (one per feed) through the REST API.
    generate_night(NIGHT, PEOPLE, airflow.base / "landing" / NIGHT.isoformat(), seed=777)
    t0 = time.monotonic()
    for dag_id in INGEST:
        airflow.trigger(dag_id, f"{NIGHT.isoformat()}T01:00:00Z")

    run_id = airflow.wait_published(420)
    assert airflow.wait_run(BUILD, run_id, 180) == "success"
    TIMINGS["dropped_to_published"] = time.monotonic() - t0
    run = airflow.api("GET", f"/dags/{BUILD}/dagRuns/{run_id}")
    assert run["run_type"] == "asset_triggered"  # triggered by the raw Assets (one per feed), not by the clock
    assert airflow.query("select detail from audit.pipeline_events where run_id = %s and event like 'feeds_%%'",
                         (run_id,)) == [("all feeds fresh",)]
    tables = {r[0] for r in airflow.query(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema in ('marts', 'reports')")}
    assert {"marts.dim_person", "marts.fct_integrated_personal_budget", "reports.rpt_phb_quarterly"} <= tables
    assert airflow.query("select count(*) from marts.dim_person")[0][0] > 0
    assert (airflow.base / "outputs" / "published" / "rpt_phb_quarterly.csv").exists()


def test_failed_build_ends_alerts_and_the_next_run_starts(airflow: Airflow) -> None:
    _Receiver.received.clear()
    airflow.query("alter table raw.send rename to send_moved_away")
    try:
        t0 = time.monotonic()
        run_id = airflow.trigger(BUILD, None, {"force": True})
        assert airflow.wait_run(BUILD, run_id, 300) == "failed"
        TIMINGS["failed_run_ended"] = time.monotonic() - t0
    finally:
        airflow.query("alter table raw.send_moved_away rename to send")
    states = airflow.task_states(BUILD, run_id)
    assert states["dbt_build"] == "failed", states
    assert not {t: s for t, s in states.items() if s in UNFINISHED}, states  # nothing waits or is left unrun
    assert states["quality_gate"] == "upstream_failed" and states["publish"] == "upstream_failed"
    events = airflow.wait("the failure recorded", lambda: airflow.query(
        "select task_id, event, detail from audit.pipeline_events where run_id = %s"
        " and event in ('task_failed', 'run_failed') order by event_id", (run_id,)) if any(
        r[1] == "run_failed" for r in airflow.query(
            "select task_id, event from audit.pipeline_events where run_id = %s", (run_id,))) else None, 60)
    assert ("dbt_build", "task_failed") in {(t, e) for t, e, _ in events}
    alerts = airflow.wait("the alert delivered", lambda: [a for a in _Receiver.received
                                                          if a.get("run_id") == run_id], 30)
    task_alert = next(a for a in alerts if a["event"] == "task_failed")
    assert set(task_alert) == {"source", "event", "dag_id", "run_id", "task_id", "reason"}
    assert (task_alert["dag_id"], task_alert["task_id"]) == (BUILD, "dbt_build")
    assert task_alert["reason"] and " " not in task_alert["reason"]  # a code, not a message
    # Visible without the UI: `ipb airflow status` exits 1 while the latest night is a failure.
    status = subprocess.run([sys.executable, "-m", "ipb.cli", "airflow", "status"], capture_output=True, text=True,
                            timeout=120, env=os.environ.copy())
    assert status.returncode == 1, status.stdout + status.stderr
    assert "FAILED" in status.stdout

    # max_active_runs=1 does not block the next night: the next run starts, finds nothing new since the last
    # publication, and ends successful.
    nxt = airflow.trigger(BUILD, None)
    assert airflow.wait_run(BUILD, nxt, 180) == "success"
    status = subprocess.run([sys.executable, "-m", "ipb.cli", "airflow", "status"], capture_output=True, text=True,
                            timeout=120, env=os.environ.copy())
    assert status.returncode == 0, status.stdout + status.stderr
