"""`ipb run` (one night through Airflow) and `ipb demo` (what `make run` shows: two generated nights).

Both run their night in a worker process and supervise it from the command the engineer started:

- SIGTERM or Ctrl-C stops the night within seconds. Airflow's task runner catches SIGTERM and carries on (it
  retries the task), so the supervisor kills the worker's whole process group (dbt, any subprocess), ends the
  worker's warehouse sessions (their open transactions roll back), records the stop in audit.pipeline_events and
  prints one line. A load is one transaction and publication is one schema swap, so nothing is left half-loaded
  or half-published and re-running the night is safe.
- The console shows the pipeline's own progress, summary and errors. Airflow's and dbt's console output goes to
  the run's log file under the Airflow home (0600), unless IPB_DEBUG=1; repeated lines are collapsed.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

WORKER_ENV = "IPB_RUN_WORKER"
RUN_LOG_ENV = "IPB_RUN_LOG"


def _say(msg: str) -> None:
    console.print(f"[dim]…[/dim] {escape(msg)}")


def _run_and_report(night: date, landing: Path | None, title: str) -> bool:
    from ipb.orchestration import summary
    from ipb.orchestration.night import run_night

    result = run_night(night, landing, progress=_say)
    build_run = None
    try:
        from airflow.models.dagrun import DagRun

        runs = DagRun.find(dag_id="build_warehouse")
        build_run = max(runs, key=lambda r: r.start_date or r.run_after).run_id if runs else None
    except Exception:  # noqa: BLE001 - the summary still reads the audit without the run id
        build_run = None
    s = summary.collect(result.started_at, build_run)
    # File names in the summary come from the landing zone: printed as they are, never read as markup.
    console.print(summary.render(s, title, result.seconds, result.build_trigger), markup=False)
    states = ", ".join(f"{k} {v}" for k, v in result.dag_states.items())
    console.print(f"dag runs:     {states}", markup=False)
    if not result.success:
        failed = ", ".join(k for k, v in result.dag_states.items() if v != "success")
        state = ("it published, but a step after publication failed" if s.published
                 else "the previous published state is kept")
        err.print(f"[red]error:[/red] {escape(title)} did not complete ({escape(failed)} failed): {state}. The "
                  f"failed tasks are in audit.pipeline_events{escape(_log_hint())}; fix the cause and run the "
                  f"night again (safe).")
    return result.success


# --- the worker: the night itself, its libraries' console noise diverted to the run log -----------------------


def _log_hint() -> str:
    path = os.environ.get(RUN_LOG_ENV)
    return f", details in {path}" if path and os.environ.get(WORKER_ENV) else ""


def _become_worker() -> None:
    """In the worker: our consoles keep the pipe to the supervisor; fds 1 and 2 (Airflow, dbt, warnings, any
    subprocess) go to the run log. Files this process creates are private to the user (umask 077)."""
    from ipb import terminal

    os.umask(0o077)
    if terminal.debug_enabled() or not os.environ.get(RUN_LOG_ENV):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")
    error = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    fd = os.open(os.environ[RUN_LOG_ENV], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    for c in (console, terminal.console):
        c.file = out
    for c in (err, terminal.err):
        c.file = error
    terminal.stderr_is_run_log = True


# --- the supervisor ------------------------------------------------------------------------------------------


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_TIMESTAMP = re.compile(rb"^\s*\[?\d{4}-\d\d-\d\d[T ][\d:.,]+Z?\]?\s*")


class _Forward:
    """Copies a worker stream to ours line by line, collapsing a line repeated many times into one note."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.partial = b""
        self.last: bytes | None = None
        self.repeats = 0

    def _emit(self, line: bytes) -> None:
        key = _TIMESTAMP.sub(b"", line)  # Airflow's retry loop repeats one warning with a new time each second
        if key == self.last:
            self.repeats += 1
            return
        self._note_repeats()
        self.last = key
        self.stream.buffer.write(line)
        self.stream.flush()

    def _note_repeats(self) -> None:
        if self.repeats:
            self.stream.write(f"  (previous line repeated {self.repeats} more times)\n")
            self.stream.flush()
            self.repeats = 0

    def feed(self, data: bytes) -> None:
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            self._emit(line + b"\n")

    def close(self) -> None:
        if self.partial:
            self._emit(self.partial + b"\n")
            self.partial = b""
        self._note_repeats()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the worker gets SIGKILL if the supervisor itself is killed, so no night runs on unsupervised."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort (not Linux)
        pass


def _kill_worker(pid: int) -> set[int]:
    """SIGKILL the worker, its process group and any descendant that left it. Returns the local TCP ports of
    their connections (to end the matching warehouse sessions)."""
    import signal

    import psutil

    procs = []
    try:
        top = psutil.Process(pid)
        procs = [top, *top.children(recursive=True)]
    except psutil.Error:
        pass
    ports: set[int] = set()
    for p in procs:
        try:
            ports |= {c.laddr.port for c in p.net_connections(kind="tcp") if c.raddr}
        except psutil.Error:
            continue
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            continue
    return ports


def _end_sessions_and_record(ports: set[int], since: datetime, detail: str) -> str:
    """End the killed worker's warehouse sessions (rolling back what they had open) and record the stop in
    audit.pipeline_events. Returns a note for the console when either could not be done."""
    try:
        import psycopg

        from ipb import config, warehouse

        settings = config.load()
        with psycopg.connect(warehouse.admin_url(settings), autocommit=True, connect_timeout=3) as conn:
            if ports:
                conn.execute(
                    "select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid()"
                    " and client_port = any(%s) and backend_start >= %s - interval '5 seconds'",
                    (sorted(ports), since))
            if conn.execute("select to_regclass('audit.pipeline_events') is not null").fetchone()[0]:
                conn.execute("set role ipb_loader")
                conn.execute(
                    "insert into audit.pipeline_events (run_id, dag_id, task_id, event, detail)"
                    " values (%s, null, null, 'run_stopped', %s)",
                    (f"ipb-run-{since:%Y%m%dT%H%M%S}", detail))
        return ""
    except Exception:  # noqa: BLE001 - the stop itself has happened; say the audit could not be written
        return " (the stop could not be recorded in audit.pipeline_events: the warehouse did not answer)"


def _run_log_path() -> Path:
    from ipb import airflow_env, config

    folder = config.load().airflow_home / "logs" / "ipb"
    airflow_env.make_private(folder)
    return folder / f"{sys.argv[1] if len(sys.argv) > 1 else 'run'}-{datetime.now():%Y%m%dT%H%M%S}-{os.getpid()}.log"


def _supervise() -> None:
    """Run this same command in a worker process; stop it cleanly on SIGTERM / Ctrl-C."""
    import selectors
    import shutil
    import signal
    import subprocess

    from ipb import terminal

    env = {**os.environ, WORKER_ENV: "1", "COLUMNS": os.environ.get("COLUMNS", str(shutil.get_terminal_size().columns))}
    log_path = None
    if not terminal.debug_enabled():
        log_path = _run_log_path()
        env[RUN_LOG_ENV] = str(log_path)
    command = "ipb " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    started = datetime.now().astimezone()
    t0 = time.monotonic()

    def on_signal(signum, frame):
        raise _Stop(signum)

    proc = subprocess.Popen(
        [sys.executable, "-m", "ipb.cli", *sys.argv[1:]], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if terminal.debug_enabled() else subprocess.PIPE,
        start_new_session=True,  # its own process group: Ctrl-C reaches the supervisor, which stops it all
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    previous: dict = {}
    forwards = {proc.stdout: _Forward(sys.stdout)}
    if proc.stderr is not None:
        forwards[proc.stderr] = _Forward(sys.stderr)
    sel = selectors.DefaultSelector()
    try:
        previous.update({s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)})
        for stream in forwards:
            sel.register(stream, selectors.EVENT_READ)
        while sel.get_map():
            for key, _ in sel.select():
                data = os.read(key.fd, 65536)
                if data:
                    forwards[key.fileobj].feed(data)
                else:
                    sel.unregister(key.fileobj)
                    forwards[key.fileobj].close()
        code = proc.wait()
    except _Stop as stop:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        name = signal.Signals(stop.signum).name
        ports = _kill_worker(proc.pid)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        seconds = time.monotonic() - t0
        detail = (f"`{command}` stopped by {name} after {seconds:.0f} s: its open transactions were rolled back; "
                  f"loads and publication are all-or-nothing; re-running the night is safe")
        note = _end_sessions_and_record(ports, started, detail)
        for forward in forwards.values():
            forward.partial = b""
        sys.stdout.flush()
        print(f"stopped by {name} after {seconds:.0f} s: nothing is half-loaded or half-published (loads and "
              f"publication are all-or-nothing); re-running the night is safe: {command}{note}",
              file=sys.stderr, flush=True)
        raise typer.Exit(128 + stop.signum) from None
    finally:
        sel.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code < 0:
        err.print(f"[red]error:[/red] the night's worker process ended by signal {-code}; "
                  f"re-running the night is safe" + (f"; details in {escape(str(log_path))}" if log_path else ""))
        raise typer.Exit(1)
    if code:
        raise typer.Exit(code)


def _in_worker() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def run(
    night: str = typer.Option(None, "--date", help="the night's logical date, YYYY-MM-DD (default: yesterday)"),
    landing: Path = typer.Option(None, "--landing", help="the night's folder of landed files"),
) -> None:
    """Run one whole night locally through Airflow: ingest the feeds, build, gate, publish, report.
    SIGTERM or Ctrl-C stops it within seconds, leaving nothing half-done; re-running the night is safe."""
    from ipb import config

    try:
        d = date.fromisoformat(night) if night else date.today() - timedelta(days=1)
    except ValueError:
        raise config.ConfigError(f"--date must be a date like 2026-11-22, got {night!r}") from None
    if landing is not None and not landing.is_dir():
        raise config.ConfigError(f"the landing folder {landing} does not exist: pass the night's folder of files "
                                 f"(for example .ipb/landing/{d.isoformat()})")
    if not _in_worker():
        config.load().pseudonym_key()  # refuse at once, with the clear message, before starting anything
        _supervise()
        return
    _become_worker()
    if not _run_and_report(d, landing, f"night {d.isoformat()}"):
        raise typer.Exit(1)


def demo(
    people: int = typer.Option(3000, help="synthetic people in the sample world"),
    seed: int = typer.Option(20261122, help="generator seed (same seed, same world)"),
    first_night: str = typer.Option("2026-11-22", help="the first night's date"),
) -> None:
    """Generate a sample night and run it, then the next day's (about 1% changed) as an incremental night."""
    from ipb import config
    from ipb.generate import generate_night

    if not _in_worker():
        config.load().pseudonym_key()
        _supervise()
        return
    _become_worker()
    settings = config.load()
    d1 = date.fromisoformat(first_night)
    ok = True
    for i, night in enumerate((d1, d1 + timedelta(days=1))):
        folder = settings.landing_dir / night.isoformat()
        _say(f"generating {people:,} synthetic people's feeds for {night.isoformat()} into {folder}")
        generate_night(night, people, folder, seed=seed)
        title = f"night {night.isoformat()}" + (" (next day, incremental)" if i else "")
        ok = _run_and_report(night, folder, title) and ok
    if not ok:
        raise typer.Exit(1)


def prepare() -> None:
    """Build-time preparation: the dbt manifest that Cosmos renders the warehouse DAG from."""
    from ipb.orchestration.manifest import ensure_manifest

    console.print(f"dbt manifest ready: {escape(str(ensure_manifest()))}")
