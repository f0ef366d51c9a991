"""Shared by the bench scripts: a fresh warehouse database per run, temp state folders, each phase timed in its
own (spawned) process so its peak RSS is its own, and the night's phases run directly (no Airflow) or through
`run_night`. Not a test: it prints figures."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import resource
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("IPB_DEMO_MODE", "1")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

# The phases of a night, in order; "pipeline" (everything but generate) is what the incremental goal compares.
PHASES = ("generate", "ingest", "dbt_build", "gx_gate", "publish", "outputs")


def _rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


@dataclass
class Measured:
    """One call run in a fresh process: its own wall time, its peak RSS (and that of any process it started)."""

    seconds: float
    peak_rss_mb: float
    start_rss_mb: float
    value: Any


def _child(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Measured:
    start = _rss_mb(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    secs = time.perf_counter() - t0
    peak = max(_rss_mb(resource.RUSAGE_SELF), _rss_mb(resource.RUSAGE_CHILDREN))
    return Measured(secs, peak, start, value)


def isolated(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Measured:
    """Run fn(*args) in a new spawned interpreter (environment inherited) and measure it there."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_child, fn, args, kwargs).result()


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class ServerMemory:
    """Samples (every `every` s) the RSS of the PostgreSQL backends serving one database: the largest single
    backend and the largest sum. RSS includes the shared buffers a backend touched, so the sum overstates."""

    def __init__(self, database: str, every: float = 0.5) -> None:
        self.database, self.every = database, every
        self.max_backend_mb = self.max_sum_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        total = biggest = 0.0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if not cmd.startswith("postgres:") or f" {self.database} " not in cmd:
                    continue
                status = (proc / "status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    mb = int(line.split()[1]) / 1024
                    total += mb
                    biggest = max(biggest, mb)
        self.max_backend_mb = max(self.max_backend_mb, biggest)
        self.max_sum_mb = max(self.max_sum_mb, total)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()

    def __enter__(self) -> ServerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def as_dict(self) -> dict[str, int]:
        return {"max_backend_rss_mb": round(self.max_backend_mb), "max_sum_backends_rss_mb": round(self.max_sum_mb)}


@contextlib.contextmanager
def fresh_database(keep: bool = False) -> Iterator[str]:
    """A new empty warehouse database (like tests/conftest.py fresh_db); IPB_WAREHOUSE_DB points at it, dropped
    afterwards unless keep."""
    from ipb import config, warehouse

    settings = config.load()
    warehouse.start(settings)
    with warehouse.scratch_database(settings, "ipb_bench", keep) as (name, env), config.temporary_environment(env):
        yield name


@contextlib.contextmanager
def temp_state(keep: bool = False, prefix: str = "ipb-bench-") -> Iterator[Path]:
    """A temp folder holding the night's landing, IPB_OUTPUT_DIR, IPB_AIRFLOW_HOME and dbt's target path."""
    from ipb import config

    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with config.temporary_environment({"IPB_OUTPUT_DIR": str(base / "outputs"),
                                           "IPB_AIRFLOW_HOME": str(base / "airflow")}):
            yield base
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def warehouse_size() -> dict[str, Any]:
    """pg_database_size of the current bench database and its largest tables."""
    from ipb import db

    with db.connect() as conn:
        total = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        top = conn.execute(
            """select n.nspname || '.' || c.relname, pg_total_relation_size(c.oid)
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind in ('r', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
               order by 2 desc limit 8""").fetchall()
    return {"bytes": total, "mb": round(total / 1e6), "largest_mb": {t: round(b / 1e6, 1) for t, b in top}}


# ------------------------------------------------------------------------------------------- loader profiling
def instrument_loader() -> dict[str, float]:
    """Wrap the loader's steps with timers (in this process only); returns the dict the timings accumulate in."""
    from ipb import db, reference
    from ipb.ingest import loader

    times: dict[str, float] = {}

    def wrap(owner: Any, attr: str, label: str) -> None:
        fn = getattr(owner, attr)

        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[label] = times.get(label, 0.0) + time.perf_counter() - t0

        setattr(owner, attr, timed)

    def wrap_context(owner: Any, attr: str, label: str) -> None:
        """A context manager's time until it yields."""
        fn = getattr(owner, attr)

        @contextlib.contextmanager
        def timed(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            with fn(*a, **k) as value:
                times[label] = times.get(label, 0.0) + time.perf_counter() - t0
                yield value

        setattr(owner, attr, timed)

    wrap(db, "bootstrap", "bootstrap")
    wrap(reference, "load", "reference_load")
    wrap_context(loader.landing, "snapshot", "snapshot (private copy, SHA-256, file scan)")
    wrap(loader.Scan, "facts", "file_checks (header, dates)")
    wrap(loader, "_ensure_raw_table", "ensure_raw_table")
    wrap(loader, "_copy", "copy")
    wrap(loader, "_quarantine_duplicates", "duplicate_keys")
    wrap(loader, "_quarantine_rule_failures", "row_rules + quarantine")
    wrap(loader, "_account", "accounting")
    return times


# --------------------------------------------------------------------------------------- the night's phases
def do_generate(night: str, people: int, landing: str, seed: int) -> dict[str, Any]:
    from ipb.generate import generate_night

    s = generate_night(night, people, Path(landing), seed=seed, progress=False)
    size = sum(f.stat().st_size for f in Path(landing).iterdir())
    return {"rows": s.rows, "files": len(s.files), "landing_mb": round(size / 1e6, 1)}


def _ingest_feed(feed: str, night: str, landing: str, run_id: str) -> dict[str, Any]:
    """load_file for each file of one feed, one at a time (the opt-out list with nhs_phb, as its DAG does)."""
    import psycopg

    from ipb import feeds
    from ipb.ingest import load_file
    from ipb.orchestration.ingestion import files_for_feed

    steps = instrument_loader()
    t0 = time.perf_counter()
    agg = {"files": 0, "loaded": 0, "rejected": 0, "duplicate": 0, "rows_loaded": 0, "rows_quarantined": 0,
           "deadlock_retries": 0}
    for path in files_for_feed(feed, night, landing):
        target = feeds.OPT_OUT.name if Path(path).name.startswith(feeds.OPT_OUT.name) else feed
        for attempt in range(3):
            try:
                r = load_file(target, path, run_id=run_id)
                break
            except psycopg.errors.DeadlockDetected:
                # load_file's per-file db.bootstrap() (create index if not exists on every raw table) can
                # deadlock with autovacuum; the Airflow task would retry, so does the bench (and counts it).
                agg["deadlock_retries"] += 1
                if attempt == 2:
                    raise
        agg["files"] += 1
        agg[r.status] += 1
        agg["rows_loaded"] += r.rows_loaded
        agg["rows_quarantined"] += r.rows_quarantined
    agg["seconds"] = round(time.perf_counter() - t0, 2)
    return {"feed": agg, "steps": steps}


def do_ingest(night: str, landing: str, run_id: str) -> dict[str, Any]:
    """The three feeds side by side, one process each, as the three ingestion DAGs run (all scheduled at 01:00,
    each loading its own files one at a time). Loader step times are summed over the feeds."""
    from ipb import feeds

    out: dict[str, Any] = {"feeds": {}, "steps_seconds": {}, "deadlock_retries": 0}
    with ProcessPoolExecutor(max_workers=len(feeds.FEEDS), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {feed: pool.submit(_ingest_feed, feed, night, landing, run_id) for feed in feeds.FEEDS}
        for feed, future in futures.items():
            done = future.result()
            out["deadlock_retries"] += done["feed"].pop("deadlock_retries")
            out["feeds"][feed] = done["feed"]
            for step, secs in done["steps"].items():
                out["steps_seconds"][step] = out["steps_seconds"].get(step, 0.0) + secs
    out["steps_seconds"] = {k: round(v, 2) for k, v in out["steps_seconds"].items()}
    return out


_DBT_OVERHEAD: dict[str, float] = {}
_RUNS: dict[str, int] = {}


def _dbt(args: list[str], target: str) -> dict[str, Any]:
    from ipb.transform.dbt import run_dbt

    # Our own target path: the shared dbt_project/target (Cosmos's manifest) is left alone.
    t0 = time.perf_counter()
    res = run_dbt([*args, "--target-path", target])
    wall = time.perf_counter() - t0
    results = Path(target) / "run_results.json"
    if results.exists():  # kept per invocation (run_results_build_1.json, ...): the next one overwrites it
        _RUNS[args[0]] = _RUNS.get(args[0], 0) + 1
        shutil.copy2(results, Path(target) / f"run_results_{args[0]}_{_RUNS[args[0]]}.json")
        elapsed = json.loads(results.read_text()).get("elapsed_time") or 0.0
        # dbt start-up and parse is what the invocation took beyond its own run.
        _DBT_OVERHEAD[args[0]] = round(wall - elapsed, 2)
    if not res.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {res.exception or 'see dbt log'}")
    return {"success": res.success}


def model_timings(target: str, top: int = 12) -> list[dict[str, Any]]:
    """The slowest nodes of the last dbt invocation, from run_results.json."""
    path = Path(target) / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())["results"]
    rows = [{"node": r["unique_id"].split(".", 1)[1], "seconds": round(r["execution_time"], 2),
             "status": r["status"]} for r in results]
    return sorted(rows, key=lambda r: -r["seconds"])[:top]


def dbt_totals(target: str) -> dict[str, float]:
    """Seconds of the last dbt invocation by resource type (model, test, snapshot, ...)."""
    path = Path(target) / "run_results.json"
    if not path.exists():
        return {}
    out: dict[str, float] = {}
    for r in json.loads(path.read_text())["results"]:
        kind = r["unique_id"].split(".", 1)[0]
        out[kind] = round(out.get(kind, 0.0) + r["execution_time"], 2)
    return out


def do_build(night: str, run_id: str, target: str) -> dict[str, Any]:
    """As build_warehouse: which feeds are fresh, then the night's build in its three steps (dbt before linkage,
    the linkage task, dbt after: ipb.orchestration.build.build_models). The slowest nodes and totals by type cover
    both dbt steps."""
    from ipb.orchestration.build import build_models, check_feeds

    feeds_state = check_feeds(run_id, night)
    timings: list[dict[str, Any]] = []
    totals: dict[str, float] = {}

    def run(args: list[str]):
        res = _dbt(args, target)
        timings.extend(model_timings(target, top=1000))
        for kind, seconds in dbt_totals(target).items():
            totals[kind] = round(totals.get(kind, 0.0) + seconds, 2)
        return type("Res", (), {"success": res["success"], "exception": None})()

    linked = build_models(["--quiet"], run=run)
    return {"stale_feeds": feeds_state["stale"], "slowest": sorted(timings, key=lambda r: -r["seconds"])[:12],
            "by_type_seconds": totals, "dbt_startup_parse_seconds": _DBT_OVERHEAD.get("build"),
            "linkage": linked["linkage"]}


def do_gate(run_id: str) -> dict[str, Any]:
    from ipb.quality.gate import run_gate

    r = run_gate(run_id)
    return {"success": r.success, "evaluated": r.evaluated, "failed": r.failed, "failed_checks": r.failed_checks}


def do_publish(run_id: str) -> dict[str, Any]:
    from ipb.publish import publish

    publish(run_id)
    return {"published": True}


def do_outputs(run_id: str, night: str, target: str) -> dict[str, Any]:
    """What the build DAG does after publishing: dbt docs (generated only when the project changed), then the
    published CSVs and chart."""
    from ipb.orchestration.build import dbt_docs
    from ipb.outputs import write_outputs

    t0 = time.perf_counter()
    dbt_docs()
    docs = time.perf_counter() - t0
    t0 = time.perf_counter()
    files = write_outputs(run_id, night)["files"]
    return {"dbt_docs_seconds": round(docs, 2), "write_outputs_seconds": round(time.perf_counter() - t0, 2),
            "files": len(files)}


@dataclass
class NightRun:
    night: str
    people: int
    mode: str
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)  # phase -> seconds, peak_rss_mb, detail
    wall_seconds: float = 0.0
    size: dict[str, Any] = field(default_factory=dict)

    @property
    def pipeline_seconds(self) -> float:
        return round(sum(p["seconds"] for k, p in self.phases.items() if k != "generate"), 2)

    @property
    def peak_rss_mb(self) -> float:
        return max((p["peak_rss_mb"] for p in self.phases.values()), default=0.0)

    @property
    def server_backend_mb(self) -> float:
        return max((p.get("server", {}).get("max_backend_rss_mb", 0) for p in self.phases.values()), default=0)

    def as_dict(self) -> dict[str, Any]:
        return {"night": self.night, "people": self.people, "mode": self.mode,
                "wall_seconds": round(self.wall_seconds, 2), "pipeline_seconds": self.pipeline_seconds,
                "peak_rss_mb": round(self.peak_rss_mb), "max_postgres_backend_rss_mb": self.server_backend_mb,
                "phases": self.phases, "warehouse": self.size}


def _record(run: NightRun, phase: str, fn: Callable[..., Any], *args: Any, say: Callable[[str], None]) -> None:
    with ServerMemory(os.environ.get("IPB_WAREHOUSE_DB", "")) as server:
        m = isolated(fn, *args)
    run.phases[phase] = {"seconds": round(m.seconds, 2), "peak_rss_mb": round(m.peak_rss_mb),
                         "server": server.as_dict(), "detail": m.value}
    say(f"  {phase:<10} {m.seconds:8.1f} s   peak RSS {m.peak_rss_mb:6.0f} MB   (largest PostgreSQL backend "
        f"{server.max_backend_mb:,.0f} MB)")


def _seed_partial_parse(target: Path) -> None:
    """Start from the project's partial-parse cache (a copy), as a deployed build would, so dbt's full parse of a
    new target folder is not counted against the night."""
    from ipb import config

    cached = config.load().dbt_project_dir / "target" / "partial_parse.msgpack"
    if cached.exists() and not (target / cached.name).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, target / cached.name)


def run_direct(night: str, people: int, base: Path, seed: int = 1, say: Callable[[str], None] = print) -> NightRun:
    """Every phase called directly, each in its own process: generate_night, load_file per file, one dbt build
    (seeds included), the GX gate, publish, dbt docs + published outputs."""
    landing = base / "landing" / night
    target = str(base / "dbt_target")
    run_id = f"bench__{night}__{uuid.uuid4().hex[:8]}"
    run = NightRun(night, people, "direct (phases called in-process, no Airflow)")
    _seed_partial_parse(Path(target))
    t0 = time.perf_counter()
    _record(run, "generate", do_generate, night, people, str(landing), seed, say=say)
    _record(run, "ingest", do_ingest, night, str(landing), run_id, say=say)
    _record(run, "dbt_build", do_build, night, run_id, target, say=say)
    _record(run, "gx_gate", do_gate, run_id, say=say)
    if run.phases["gx_gate"]["detail"]["success"]:
        _record(run, "publish", do_publish, run_id, say=say)
        _record(run, "outputs", do_outputs, run_id, night, target, say=say)
    else:
        say(f"  gate FAILED ({run.phases['gx_gate']['detail']['failed_checks']}): not published, no outputs")
    run.wall_seconds = time.perf_counter() - t0
    run.size = warehouse_size()
    return run


# --------------------------------------------------------------------------------------- through Airflow
def do_airflow_prepare() -> str:
    from ipb import airflow_env, config

    airflow_env.migrate(config.load())
    return "migrated"


def do_run_night(night: str, landing: str) -> dict[str, Any]:
    from datetime import date

    from ipb import airflow_env, config

    airflow_env.apply(config.load())  # before Airflow is imported
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"  # task logs stay in AIRFLOW_HOME/logs
    from ipb.orchestration.night import run_night

    r = run_night(date.fromisoformat(night), Path(landing))
    return {"dag_states": r.dag_states, "build_trigger": r.build_trigger, "success": r.success}


def _task_phase(dag_id: str, task_id: str) -> str:
    if dag_id.startswith("ingest_"):
        return "ingest"
    if task_id.startswith("dbt."):
        return "dbt_build"
    return {"quality_gate": "gx_gate", "publish": "publish",
            "dbt_docs": "outputs", "published_outputs": "outputs", "check_feeds": "check_feeds"}.get(task_id, "other")


def airflow_task_times(airflow_home: Path) -> dict[str, Any]:
    """Per-phase seconds from Airflow's own task instances (sum of task durations, and first start to last end)."""
    con = sqlite3.connect(airflow_home / "airflow.db")
    rows = con.execute("select dag_id, task_id, start_date, end_date, duration from task_instance").fetchall()
    con.close()
    phases: dict[str, dict[str, Any]] = {}
    dbt_tasks = []
    for dag_id, task_id, start, end, dur in rows:
        p = phases.setdefault(_task_phase(dag_id, task_id), {"tasks": 0, "task_seconds": 0.0, "start": start,
                                                             "end": end})
        p["tasks"] += 1
        p["task_seconds"] += dur or 0.0
        p["start"] = min(p["start"] or start, start or p["start"])
        p["end"] = max(p["end"] or end, end or p["end"])
        if task_id.startswith("dbt."):
            dbt_tasks.append({"task": task_id, "seconds": round(dur or 0.0, 2)})
    from datetime import datetime

    for p in phases.values():
        p["task_seconds"] = round(p["task_seconds"], 2)
        try:
            p["span_seconds"] = round((datetime.fromisoformat(str(p["end"])) -
                                       datetime.fromisoformat(str(p["start"]))).total_seconds(), 2)
        except (TypeError, ValueError):
            p["span_seconds"] = None
        del p["start"], p["end"]
    return {"phases": phases, "slowest_dbt_tasks": sorted(dbt_tasks, key=lambda t: -t["seconds"])[:10]}


def run_airflow(night: str, people: int, base: Path, seed: int = 1, say: Callable[[str], None] = print) -> NightRun:
    """generate_night, then the whole night through ipb.orchestration.night.run_night (Airflow dag.test(): three
    ingestion DAGs, build_warehouse with Cosmos, gate, publish, docs, outputs); phases from Airflow's task table."""
    landing = base / "landing" / night
    run = NightRun(night, people, "airflow (run_night: ingestion DAGs + build_warehouse via dag.test())")
    m = isolated(do_airflow_prepare)
    say(f"  airflow db migrate (not counted) {m.seconds:.1f} s")
    t0 = time.perf_counter()
    _record(run, "generate", do_generate, night, people, str(landing), seed, say=say)
    with ServerMemory(os.environ.get("IPB_WAREHOUSE_DB", "")) as server:
        m = isolated(do_run_night, night, str(landing))
    run.wall_seconds = time.perf_counter() - t0
    tasks = airflow_task_times(Path(os.environ["IPB_AIRFLOW_HOME"]))
    for phase, p in tasks["phases"].items():
        # Sum of the phase's task durations; the Airflow overhead between tasks shows in run_night's total.
        run.phases[phase] = {"seconds": p["task_seconds"], "peak_rss_mb": round(m.peak_rss_mb),
                             "server": server.as_dict(), "detail": p}
        say(f"  {phase:<10} {p['task_seconds']:8.1f} s   ({p['tasks']} tasks)")
    run.phases["run_night_total"] = {"seconds": 0.0, "peak_rss_mb": round(m.peak_rss_mb),
                                     "detail": {**m.value, "wall_seconds": round(m.seconds, 2),
                                                "slowest_dbt_tasks": tasks["slowest_dbt_tasks"]}}
    say(f"  run_night total {m.seconds:.1f} s, peak RSS {m.peak_rss_mb:.0f} MB, states {m.value['dag_states']}")
    run.size = warehouse_size()
    return run


def print_json(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, default=str))
