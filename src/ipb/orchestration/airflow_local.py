"""`ipb airflow up | down | status`: Airflow run for real on this machine, as a data engineer runs it.

`up` starts the warehouse (bootstrapped: roles, zones, audit), prepares the dbt manifest, creates Airflow's
metadata database on the warehouse server (`IPB_AIRFLOW_DB`, default `airflow`), migrates it, and starts the four
Airflow 3 components as background processes: API server (UI and REST API), scheduler (LocalExecutor), DAG
processor and triggerer. Their pids and logs live under the Airflow home (`<home>/run/`, `<home>/logs/*.log`).
`--executor celery --workers N` (or `IPB_AIRFLOW_EXECUTOR=celery`, `IPB_AIRFLOW_WORKERS`) runs the scheduler
with the CeleryExecutor and starts N `airflow celery worker` processes besides (`celery-worker-1` …); broker and
results are a database of their own on the same server (see `ipb.airflow_env.celery_urls`), so no other service.
The API port is a free one unless `--port` / `IPB_AIRFLOW_PORT` says; the execution API URL follows it. Login:
user `admin`, password generated once into the simple auth manager's passwords file in the Airflow home.

`down` stops every process `up` started (the process groups and any descendant) and leaves none behind.
`status` says what runs and how the latest night ended; it exits 1 when the latest night failed (so a cron job or
a monitoring probe can alert without opening the UI), 3 when the night is fine but Airflow is not running.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ipb import config

PORT_ENV = "IPB_AIRFLOW_PORT"
WORKERS_ENV = "IPB_AIRFLOW_WORKERS"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
WORKER_PREFIX = "celery-worker-"
STATE_FILE = "airflow-local.json"

app = typer.Typer(help="Run Airflow for real locally: scheduler, DAG processor, triggerer, API server and UI.",
                  no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def run_dir(settings: config.Settings) -> Path:
    return settings.airflow_home / "run"


def log_path(settings: config.Settings, component: str) -> Path:
    return settings.airflow_home / "logs" / f"{component}.log"


def _state_path(settings: config.Settings) -> Path:
    return run_dir(settings) / STATE_FILE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Local:
    """What `up` started (read back from the state file)."""

    port: int
    pids: dict[str, int]
    create_times: dict[str, float]
    metadata_db: str
    started_at: float
    executor: str = "local"
    alive: dict[str, bool] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return bool(self.alive) and all(self.alive.values())

    @property
    def workers(self) -> list[str]:
        """The Celery worker processes' names (none under LocalExecutor)."""
        return [name for name in self.pids if name.startswith(WORKER_PREFIX)]


def _same_process(pid: int, create_time: float):
    """The psutil process with this pid if it is still the one we started (not a reused pid), else None."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE:
            return proc
    except psutil.Error:
        pass
    return None


def read_state(settings: config.Settings) -> Local | None:
    path = _state_path(settings)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    local = Local(port=data["port"], pids=data["pids"], create_times=data["create_times"],
                  metadata_db=data["metadata_db"], started_at=data["started_at"],
                  executor=data.get("executor", "local"))
    local.alive = {name: _same_process(pid, local.create_times[name]) is not None
                   for name, pid in local.pids.items()}
    return local


def _write_state(settings: config.Settings, local: Local) -> None:
    path = _state_path(settings)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"port": local.port, "pids": local.pids, "create_times": local.create_times,
                   "metadata_db": local.metadata_db, "started_at": local.started_at,
                   "executor": local.executor}, fh)
    for name, pid in local.pids.items():
        (run_dir(settings) / f"{name}.pid").write_text(f"{pid}\n")


def _http_json(url: str, method: str = "GET", body: dict | None = None, token: str | None = None,
               timeout: float = 10.0) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - localhost API only
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def token(settings: config.Settings, base_url: str) -> str:
    """A REST API token for the local admin (simple auth manager: POST /auth/token)."""
    from ipb import airflow_env

    status, body = _http_json(f"{base_url}/auth/token", "POST",
                              {"username": airflow_env.ADMIN_USER, "password": airflow_env.admin_password(settings)})
    if status not in (200, 201) or not isinstance(body, dict):
        raise RuntimeError(f"the Airflow API refused the local admin's login (HTTP {status})")
    return body["access_token"]


def health(base_url: str) -> dict:
    """/api/v2/monitor/health: each component's status ('healthy' / 'unhealthy' / None), or {} when it does not
    answer."""
    try:
        status, body = _http_json(f"{base_url}/api/v2/monitor/health", timeout=5)
    except OSError:
        return {}
    if status != 200 or not isinstance(body, dict):
        return {}
    return {k: (v or {}).get("status") for k, v in body.items() if isinstance(v, dict)}


def _migrate(settings: config.Settings, env: dict[str, str]) -> None:
    """`airflow db migrate` on the metadata database (idempotent; skipped when this Airflow version migrated it)."""
    from importlib.metadata import version

    from ipb import airflow_env

    airflow_version = version("apache-airflow-core")
    marker = settings.airflow_home / f".migrated-{airflow_env.metadata_database()}"
    if marker.exists() and marker.read_text().strip() == airflow_version:
        return
    out = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                         text=True, umask=0o077, timeout=900)
    if out.returncode:
        log = log_path(settings, "db-migrate")
        log.write_text(out.stdout + out.stderr)
        raise RuntimeError(f"`airflow db migrate` failed (exit {out.returncode}); its output is in {log}")
    marker.write_text(airflow_version + "\n")


def worker_count(workers: int | None = None) -> int:
    """Celery workers to start: the argument, else `IPB_AIRFLOW_WORKERS`, else 2."""
    value = workers if workers is not None else int(os.environ.get(WORKERS_ENV) or 2)
    if value < 1:
        raise config.ConfigError(f"--workers / {WORKERS_ENV} must be 1 or more, not {value}")
    return value


def _worker_args(settings: config.Settings, name: str, index: int) -> list[str]:
    """`airflow celery worker` for worker `index`: its own Celery node name (`ipb-worker-<i>@<host>`) and pid file,
    no log server (the workers share this machine's task log folder, which the API server reads directly; N
    workers would otherwise all want the one `worker_log_server_port`), no mingle/gossip chatter on the broker."""
    return ["celery", "worker", "--celery-hostname", f"ipb-worker-{index}@%h", "--skip-serve-logs",
            "--without-mingle", "--without-gossip", "--pid", str(run_dir(settings) / f"{name}.airflow.pid")]


def up(settings: config.Settings | None = None, port: int | None = None, timeout: float = 240.0,
       progress=None, executor: str | None = None, workers: int | None = None) -> Local:
    """Start the four components, and with the CeleryExecutor its workers (nothing when they already run).
    Returns what runs, once the API answers, the scheduler, DAG processor and triggerer report healthy and every
    Celery worker says it is ready."""
    from ipb import airflow_env, db, warehouse
    from ipb.orchestration.manifest import ensure_manifest

    settings = settings or config.load()
    say = progress or (lambda msg: None)
    executor = airflow_env.executor_choice(executor)
    n_workers = worker_count(workers) if executor == "celery" else 0
    settings.pseudonym_key()  # refuse at once without a usable key: every build task needs it
    existing = read_state(settings)
    if existing and existing.running:
        if existing.executor != executor or len(existing.workers) != n_workers:
            raise config.ConfigError(
                f"Airflow already runs at {existing.url} with the {existing.executor} executor"
                f"{f' and {len(existing.workers)} workers' if existing.workers else ''}: "
                f"stop it first (`ipb airflow down`)")
        say(f"Airflow already runs at {existing.url}")
        return existing
    if existing:  # a component died: stop what is left before starting afresh
        down(settings)
    say("warehouse: starting and bootstrapping (roles, zones, audit)")
    warehouse.start(settings)
    db.bootstrap()
    say("dbt manifest: checking")
    ensure_manifest()
    if port is None:
        port = int(os.environ[PORT_ENV]) if os.environ.get(PORT_ENV) else free_port()
    if not _port_free(port):
        raise config.ConfigError(f"port {port} on 127.0.0.1 is already in use: choose another with --port or "
                                 f"{PORT_ENV}=<port>")
    # The Airflow home private to this user (as `ipb run` keeps it); this process's own environment untouched.
    if settings.airflow_home.is_relative_to(settings.state_dir):
        warehouse.secure_state_dir(settings)
    airflow_env.make_private(settings.airflow_home)
    airflow_env.ensure_metadata_database(settings)
    if executor == "celery":
        airflow_env.ensure_celery_database(settings)
    airflow_env.admin_password(settings)
    env = {**os.environ, **airflow_env.real_environment(settings, port, executor)}
    say(f"Airflow metadata: migrating database {airflow_env.metadata_database()!r} on the warehouse server")
    _migrate(settings, env)
    run_dir(settings).mkdir(parents=True, exist_ok=True, mode=0o700)
    (settings.airflow_home / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
    import psutil

    local = Local(port=port, pids={}, create_times={}, metadata_db=airflow_env.metadata_database(),
                  started_at=time.time(), executor=executor)
    processes = [(name, ["api-server", "--host", "127.0.0.1", "--port", str(port)] if name == "api-server"
                  else [name]) for name in COMPONENTS]
    workers_names = [f"{WORKER_PREFIX}{i}" for i in range(1, n_workers + 1)]
    processes += [(name, _worker_args(settings, name, i)) for i, name in enumerate(workers_names, 1)]
    # Where each worker's log stands now: its "ready" line must come after (the logs are appended to).
    offsets = {name: log_path(settings, name).stat().st_size if log_path(settings, name).exists() else 0
               for name in workers_names}
    try:
        for name, args in processes:
            fd = os.open(log_path(settings, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                # A Celery worker's SIGTERM is a warm shutdown (waits for its running tasks, then 30 s of `down`
                # before the SIGKILL): remapped to Celery's cold shutdown, `down` stops it as it stops the
                # LocalExecutor's scheduler, tasks ended at once.
                penv = {**env, "REMAP_SIGTERM": "SIGQUIT"} if name.startswith(WORKER_PREFIX) else env
                proc = subprocess.Popen([sys.executable, "-m", "airflow", *args], env=penv, stdin=subprocess.DEVNULL,
                                        stdout=fd, stderr=subprocess.STDOUT, start_new_session=True, umask=0o077,
                                        cwd=str(settings.home))
            finally:
                os.close(fd)
            local.pids[name] = proc.pid
            local.create_times[name] = psutil.Process(proc.pid).create_time()
            _write_state(settings, local)
        say(f"started {', '.join(local.pids)}; waiting for them to report healthy")
        deadline = time.monotonic() + timeout
        while True:
            current = read_state(settings)
            dead = [n for n, ok in (current.alive if current else {}).items() if not ok]
            if dead:
                raise RuntimeError(f"Airflow's {', '.join(dead)} stopped while starting: see "
                                   f"{log_path(settings, dead[0])}")
            h = health(local.url)
            waiting = [n for n in workers_names if not _worker_ready(settings, n, offsets[n])]
            if h and all(h.get(k) == "healthy" for k in ("metadatabase", "scheduler", "triggerer",
                                                           "dag_processor")) and not waiting:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Airflow did not report healthy within {timeout:.0f} s ({h or 'no answer'}"
                                   f"{f'; not ready: {waiting}' if waiting else ''}): "
                                   f"see the logs in {settings.airflow_home / 'logs'}")
            time.sleep(2)
    except BaseException:
        down(settings)
        raise
    local.alive = {n: True for n in local.pids}
    return local


def _worker_ready(settings: config.Settings, name: str, offset: int) -> bool:
    """Whether the Celery worker logged "<node> ready." since `offset` (it consumes from the broker from then)."""
    try:
        with open(log_path(settings, name), "rb") as fh:
            fh.seek(offset)
            return b" ready." in fh.read()
    except OSError:
        return False


def _descendants(proc) -> list:
    import psutil

    try:
        return proc.children(recursive=True)
    except psutil.Error:
        return []


def down(settings: config.Settings | None = None, timeout: float = 30.0) -> list[str]:
    """Stop every process `up` started: SIGTERM to each component's process group and descendants, SIGKILL to
    whatever is left after `timeout`. Returns the components that were running."""
    import psutil

    settings = settings or config.load()
    path = _state_path(settings)
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    procs = []
    stopped = []
    for name, pid in data["pids"].items():
        proc = _same_process(pid, data["create_times"][name])
        if proc is None:
            continue
        stopped.append(name)
        procs.append(proc)
        procs.extend(_descendants(proc))
    # API server first (no new logins or triggers), then the scheduler, processor and triggerer.
    for proc in procs:
        try:
            if proc.pid in data["pids"].values():
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.terminate()
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    # Children started meanwhile (a task process forked while stopping) are found again before the kill.
    for proc in list(alive):
        alive.extend(p for p in _descendants(proc) if p not in alive)
    for pid in data["pids"].values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=10)
    path.unlink(missing_ok=True)
    for name in data["pids"]:
        (run_dir(settings) / f"{name}.pid").unlink(missing_ok=True)
    return stopped


# --- the latest night, from the warehouse's audit ------------------------------------------------------------


@dataclass
class NightStatus:
    state: str  # "none", "published", "skipped", "running", "failed"
    detail: str
    when: object = None

    @property
    def failed(self) -> bool:
        return self.state == "failed"


def latest_night(settings: config.Settings | None = None) -> NightStatus:
    """How the latest night ended, from audit.pipeline_events and audit.validation_runs: `failed` when a task or a
    run failed (or a run was stopped) after the latest publication or skipped build; otherwise the latest good
    outcome. Reads counts, codes and run ids only."""
    from ipb import db

    settings = settings or config.load()
    with db.connect() as conn:
        if not conn.execute("select to_regclass('audit.pipeline_events') is not null").fetchone()[0]:
            return NightStatus("none", "no night has run yet (the warehouse is not bootstrapped)")
        failure = conn.execute(
            "select recorded_at, coalesce(dag_id, '-'), coalesce(task_id, '-'), run_id, event, detail"
            " from audit.pipeline_events where event in ('task_failed', 'run_failed', 'run_stopped')"
            " order by recorded_at desc, event_id desc limit 1").fetchone()
        published = conn.execute(
            "select validated_at, run_id from audit.validation_runs where published"
            " order by validated_at desc limit 1").fetchone()
        skipped = conn.execute(
            "select recorded_at, run_id, detail from audit.pipeline_events where event = 'build_skipped'"
            " order by recorded_at desc limit 1").fetchone()
        started = conn.execute(
            "select recorded_at, run_id from audit.pipeline_events where task_id = 'check_feeds'"
            " and event in ('feeds_fresh', 'feeds_stale') order by recorded_at desc limit 1").fetchone()
    good = max((x for x in (published, skipped) if x), key=lambda x: x[0], default=None)
    if failure and (good is None or failure[0] > good[0]):
        when, dag_id, task_id, run_id, event, detail = failure
        reason = (detail or "").split(":", 1)[0] if event == "task_failed" else (detail or event)[:80]
        return NightStatus("failed", f"{event}: {dag_id}.{task_id} in run {run_id} ({reason}) at {when:%Y-%m-%d %H:%M}",
                           when)
    if started and (good is None or started[0] > good[0]):
        return NightStatus("running", f"build {started[1]} started at {started[0]:%Y-%m-%d %H:%M}, not published yet",
                           started[0])
    if good is None:
        return NightStatus("none", "no night has been built yet")
    if good is published:
        return NightStatus("published", f"published by {published[1]} at {published[0]:%Y-%m-%d %H:%M}", published[0])
    return NightStatus("skipped", f"latest build run {skipped[1]} skipped: {skipped[2]}", skipped[0])


# --- the commands --------------------------------------------------------------------------------------------


def _say(msg: str) -> None:
    console.print(f"[dim]…[/dim] {escape(msg)}")


@app.command("up")
def up_command(
    port: int = typer.Option(None, "--port", help=f"API server / UI port (default: {PORT_ENV} or a free port)"),
    executor: str = typer.Option(None, "--executor",
                                 help="local (LocalExecutor, the default) or celery (CeleryExecutor with workers; "
                                      "default: IPB_AIRFLOW_EXECUTOR or local)"),
    workers: int = typer.Option(None, "--workers", help=f"Celery workers to start (default: {WORKERS_ENV} or 2)"),
) -> None:
    """Start Airflow for real: API server + UI, scheduler, DAG processor, triggerer (background processes), and
    with `--executor celery` the Celery workers."""
    from ipb import airflow_env

    settings = config.load()
    local = up(settings, port, progress=_say, executor=executor, workers=workers)
    console.print(f"Airflow UI:   {local.url}   (user {airflow_env.ADMIN_USER}, password "
                  f"{airflow_env.admin_password(settings)}; kept in {airflow_env.passwords_file(settings)})",
                  markup=False)
    console.print(f"REST API:     {local.url}/api/v2   (token: POST {local.url}/auth/token)", markup=False)
    console.print(f"metadata:     database {local.metadata_db!r} on the warehouse server", markup=False)
    if local.executor == "celery":
        console.print(f"executor:     CeleryExecutor, {len(local.workers)} workers ({', '.join(local.workers)}); "
                      f"broker and results: database {airflow_env.celery_database()!r} on the warehouse server",
                      markup=False)
    else:
        console.print("executor:     LocalExecutor (tasks run under the scheduler)", markup=False)
    console.print(f"logs, pids:   {settings.airflow_home / 'logs'}, {run_dir(settings)}", markup=False)
    console.print("stop with:    ipb airflow down", markup=False)


@app.command("down")
def down_command() -> None:
    """Stop every Airflow process `ipb airflow up` started."""
    stopped = down(config.load())
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "Airflow was not running", markup=False)


@app.command("status")
def status_command() -> None:
    """What runs, and how the latest night ended. Exit 1 when the latest night failed, 3 when Airflow is not
    running (and the night did not fail), 0 otherwise."""
    settings = config.load()
    local = read_state(settings)
    if local is None:
        console.print("airflow:      not running (start it with `ipb airflow up`)", markup=False)
    else:
        parts = ", ".join(f"{n} {'up' if ok else 'DOWN'} (pid {local.pids[n]})" for n, ok in local.alive.items())
        console.print(f"airflow:      {local.url}  ({local.executor} executor)  {parts}", markup=False)
    night = latest_night(settings)
    console.print(f"latest night: {night.state.upper()}: {night.detail}", markup=False)
    if night.failed:
        raise typer.Exit(1)
    if local is None or not local.running:
        raise typer.Exit(3)
