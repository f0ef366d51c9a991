"""Benchmark: the same night under Airflow's real scheduler twice, with the LocalExecutor and with the CeleryExecutor
and two Celery workers (`ipb airflow up --executor celery --workers 2`), each on fresh scratch state: its own
warehouse database, Airflow metadata database, Celery broker database, Airflow home, landing zone and outputs.

For each executor: Airflow is started, the fresh install's deadline run of build_warehouse is let end, the night's
files (generated beforehand, outside the landing zone) are moved into the landing zone, the three ingestion DAGs
are triggered through the REST API, and the clock stops when the asset-triggered build_warehouse run has published
and ended successful: wall time "files dropped -> warehouse published". Which executor ran each task: every task
instance the API lists for the night's runs, matched by its id to the Celery worker whose log says it executed it
(Airflow 3's API names no executor for a task that does not set one: `executor` and the scheduler job's
`executor_class` are null).

    python bench/executors.py [--people 3000] [--date 2026-11-22] [--workers 2] [--only local|celery] [--keep]

Ends with one JSON line. (Not named celery.py: run as a script, this folder comes first on sys.path, and a
celery.py here would shadow the celery package for this script and for the other benches.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

from ipb.orchestration.night import INGEST_DAGS  # noqa: E402

INGEST = tuple(INGEST_DAGS)  # one ingestion DAG per feed
BUILD = "build_warehouse"
KEY = "bench-celery-key-2f61c9a04e8d7b35"


class Api:
    def __init__(self, settings: Any, url: str) -> None:
        from ipb.orchestration import airflow_local

        self.al = airflow_local
        self.url = url
        self.token = airflow_local.token(settings, url)

    def __call__(self, method: str, path: str, body: dict | None = None) -> Any:
        status, data = self.al._http_json(f"{self.url}/api/v2{path}", method, body, self.token)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status} {data}")
        return data

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")["task_instances"]


def wait(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s")


def workers_by_task(settings: Any, workers: list[str]) -> dict[str, str]:
    """Task instance id -> the Celery worker whose log says "Executing workload in Celery" for it."""
    from ipb.orchestration import airflow_local

    ran: dict[str, str] = {}
    for name in workers:
        for line in airflow_local.log_path(settings, name).read_text(errors="replace").splitlines():
            if "Executing workload in Celery" in line:
                for ti_id in re.findall(r"\bid=UUID\('([0-9a-f-]{36})'\)", line):
                    ran[ti_id] = name
    return ran


def one_night(executor: str, night: date, people: int, seed: int, workers: int, keep: bool) -> dict[str, Any]:
    from ipb import config, warehouse
    from ipb.generate import generate_night
    from ipb.orchestration import airflow_local

    settings = config.load()
    warehouse.start(settings)
    base = Path(tempfile.mkdtemp(prefix=f"ipb-bench-{executor}-"))
    result: dict[str, Any] = {"executor": executor, "workers": workers if executor == "celery" else 0}
    with contextlib.ExitStack() as stack:
        wh, env = stack.enter_context(warehouse.scratch_database(settings, "ipb_bench", keep))
        meta, _ = stack.enter_context(warehouse.scratch_database(settings, "ipb_bench_af", keep))
        broker, _ = stack.enter_context(warehouse.scratch_database(settings, "ipb_bench_broker", keep))
        stack.enter_context(config.temporary_environment({
            **env, "IPB_AIRFLOW_HOME": str(base / "airflow"), "IPB_AIRFLOW_DB": meta, "IPB_AIRFLOW_CELERY_DB": broker,
            "IPB_OUTPUT_DIR": str(base / "outputs"), "IPB_LANDING_DIR": str(base / "landing"),
            "IPB_DEMO_MODE": "0", "IPB_PSEUDONYM_KEY": KEY, "IPB_AIRFLOW_PORT": "", "IPB_ALERT_WEBHOOK_URL": ""}))
        settings = config.load()
        staged = base / "staged" / night.isoformat()
        t0 = time.monotonic()
        generate_night(night, people, staged, seed=seed)
        result["generate_seconds"] = round(time.monotonic() - t0, 1)
        try:
            t0 = time.monotonic()
            local = airflow_local.up(settings, executor=executor, workers=workers)
            result["up_seconds"] = round(time.monotonic() - t0, 1)
            api = Api(settings, local.url)
            wait("the DAGs parsed", lambda: {d["dag_id"] for d in api("GET", "/dags?limit=100")["dags"]}
                 >= {*INGEST, BUILD}, 240)
            # The fresh install's deadline run (nothing to build yet) ends before the night is dropped.
            first = wait("the deadline run", lambda: api("GET", f"/dags/{BUILD}/dagRuns?limit=10")["dag_runs"], 120)
            first_id = first[0]["dag_run_id"]
            wait("the deadline run ended", lambda: api.run_state(BUILD, first_id) in ("success", "failed"), 300)

            landing = base / "landing" / night.isoformat()
            landing.parent.mkdir(parents=True, exist_ok=True)
            load = common.loadavg()
            t0 = time.monotonic()
            staged.rename(landing)  # dropped: all of the night's files at once
            runs = {d: api("POST", f"/dags/{d}/dagRuns", {"logical_date": f"{night.isoformat()}T01:00:00Z",
                                                          "conf": {}})["dag_run_id"] for d in INGEST}
            run_id = wait("a published build", lambda: _published(settings), 1800)
            state = wait("the build run ended", lambda: (s := api.run_state(BUILD, run_id)) in ("success", "failed")
                         and s, 600, every=0.5)
            result["dropped_to_published_seconds"] = round(time.monotonic() - t0, 1)
            result["build_state"] = state
            result["loadavg_before"], result["loadavg_after"] = load, common.loadavg()
            runs[BUILD] = run_id
            for dag_id, rid in runs.items():
                wait(f"{dag_id} ended", lambda d=dag_id, r=rid: api.run_state(d, r) in ("success", "failed"), 300)
            ran = workers_by_task(settings, local.workers) if executor == "celery" else {}
            by = Counter()
            waits = []  # queued -> started, per task instance: the executor's own latency
            slots = []  # scheduled -> queued: waiting for a free executor slot (parallelism)
            per_dag: dict[str, dict[str, Any]] = {}
            for dag_id, rid in runs.items():
                tis = [t for t in api.task_instances(dag_id, rid) if t["state"] == "success"]
                first_start = min((t["start_date"] for t in tis if t["start_date"]), default=None)
                last_end = max((t["end_date"] for t in tis if t["end_date"]), default=None)
                per_dag[dag_id] = {"tasks": len(tis), "first_start": first_start, "last_end": last_end,
                                   "task_seconds": round(sum(t["duration"] or 0 for t in tis), 1)}
                for t in tis:
                    if t["queued_when"] and t["start_date"]:
                        waits.append(_ts(t["start_date"]) - _ts(t["queued_when"]))
                    if t["queued_when"] and t["scheduled_when"]:
                        slots.append(_ts(t["queued_when"]) - _ts(t["scheduled_when"]))
                    who = ran.get(t["id"], "not in any worker log") if executor == "celery" \
                        else "LocalExecutor (scheduler's own task processes)"
                    by[who] += 1
                    t["ran_on"] = who
                per_dag[dag_id]["ran_on"] = dict(Counter(t["ran_on"] for t in tis))
            result["queued_to_start_seconds"] = _stats(waits)
            result["scheduled_to_queued_seconds"] = _stats(slots)
            result["tasks_by_runner"] = dict(by)
            result["dags"] = per_dag
            result["queues"] = sorted({t["queue"] for dag_id, rid in runs.items()
                                       for t in api.task_instances(dag_id, rid) if t["state"] == "success"})
        finally:
            t0 = time.monotonic()
            airflow_local.down(settings)
            result["down_seconds"] = round(time.monotonic() - t0, 1)
            if keep:
                print(f"kept: {base}, databases {wh}, {meta}, {broker}")
            else:
                shutil.rmtree(base, ignore_errors=True)
    return result


def _stats(values: list[float]) -> dict[str, float | None]:
    values = sorted(values)
    if not values:
        return {"median": None, "mean": None, "max": None}
    return {"median": round(values[len(values) // 2], 2), "mean": round(sum(values) / len(values), 2),
            "max": round(values[-1], 2)}


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _published(settings: Any) -> str | None:
    import psycopg

    from ipb import warehouse

    with psycopg.connect(warehouse.admin_url(settings), autocommit=True) as conn:
        if not conn.execute("select to_regclass('audit.validation_runs') is not null").fetchone()[0]:
            return None
        row = conn.execute("select run_id from audit.validation_runs where published limit 1").fetchone()
    return row[0] if row else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=3000)
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", choices=("local", "celery"))
    ap.add_argument("--keep", action="store_true", help="keep the databases and temp folders (printed)")
    args = ap.parse_args()
    night = date.fromisoformat(args.date)
    os.environ.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    results = []
    for executor in [args.only] if args.only else ["local", "celery"]:
        print(f"--- {executor}: {args.people:,} people, night {night}", flush=True)
        r = one_night(executor, night, args.people, args.seed, args.workers, args.keep)
        results.append(r)
        print(f"  up {r.get('up_seconds')} s; files dropped -> published {r.get('dropped_to_published_seconds')} s "
              f"(build {r.get('build_state')}); down {r['down_seconds']} s; load {r.get('loadavg_before')} -> "
              f"{r.get('loadavg_after')}")
        print(f"  tasks by runner: {r.get('tasks_by_runner')}; queues {r.get('queues')}; queued -> started "
              f"{r.get('queued_to_start_seconds')} s; scheduled -> queued {r.get('scheduled_to_queued_seconds')} s")
        for dag_id, d in (r.get("dags") or {}).items():
            print(f"    {dag_id:<20} {d['tasks']:3d} tasks, {d['task_seconds']:7.1f} task-s, {d['ran_on']}")
    if len(results) == 2 and all("dropped_to_published_seconds" in r for r in results):
        local, celery = (r["dropped_to_published_seconds"] for r in results)
        print(f"celery / local wall time: {celery / local:.2f}")
    print(json.dumps({"bench": "executors", "people": args.people, "night": args.date,
                      "parallelism": os.environ["AIRFLOW__CORE__PARALLELISM"], "results": results}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
