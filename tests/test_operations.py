"""Operations: the embedded server's scrubbed environment, `ipb run` stopping cleanly on SIGTERM, one clear line
(no traceback) for expected faults, a private Airflow home, and file names that look like Rich markup."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ipb import config, warehouse
from tests.conftest import isolated_world

NIGHT = date(2026, 11, 22)
KEY = "operations-test-key-5d2c81f07e4b9a36"


def _ipb(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ipb.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_clear_line(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/<pid>/environ (Linux)")
def test_embedded_server_starts_with_a_scrubbed_environment(tmp_path: Path) -> None:
    """A second embedded server (own data dir and port) started from an environment holding the key, an Airflow
    connection and a password: none of them reaches the server processes."""
    secrets = {"IPB_PSEUDONYM_KEY": "scrub-marker-key-91c3e7", "AIRFLOW_CONN_SCRUB": "postgresql://a:scrub-pw@x/y",
               "SCRUB_PASSWORD": "scrub-marker-pw-4f2a"}
    env = {**os.environ, **secrets, "IPB_STATE_DIR": str(tmp_path / "state"), "IPB_WAREHOUSE_PORT": str(_free_port())}
    env.pop("IPB_WAREHOUSE_URL", None)
    started = _ipb("warehouse", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        with config.temporary_environment({k: env[k] for k in ("IPB_STATE_DIR", "IPB_WAREHOUSE_PORT")}):
            settings = config.load()
            pid = warehouse._postmaster_pid(settings)
        assert pid
        import psutil

        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        assert len(procs) > 1  # the postmaster and its background processes
        for proc in procs:
            environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
            for name, value in secrets.items():
                assert name.encode() not in environ and value.encode() not in environ, (proc.pid, name)
            names = {item.split(b"=", 1)[0].decode() for item in environ.split(b"\0") if item}
            allowed = {"PATH", "HOME", "PGDATA", "LANG", "LANGUAGE", "TZ", "TZDIR", "TMPDIR", "PWD",
                       "PGSYSCONFDIR", "PGLOCALEDIR", "PG_GRANDPARENT_PID"}  # the last three set by PostgreSQL
            assert names - allowed <= {n for n in names if n.startswith("LC_")}, names
        mode = (tmp_path / "state").stat().st_mode & 0o777
        assert mode & 0o066 == 0, oct(mode)  # the state folder: no read/write for group or other
        assert (tmp_path / "state" / "warehouse.secret").stat().st_mode & 0o077 == 0
    finally:
        stopped = _ipb("warehouse", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr


def test_a_new_embedded_warehouse_has_no_data_checksums_and_reads_in_its_backends(tmp_path: Path) -> None:
    """initdb without data checksums (PostgreSQL 18 turns them on): with them, reading each page dbt has just
    built logs the whole page again to set its hint bits. And reads are not handed to I/O workers, which made a
    load's hash join over the previous snapshot five times slower (README, External PostgreSQL)."""
    env = {**os.environ, "IPB_STATE_DIR": str(tmp_path / "state"), "IPB_WAREHOUSE_PORT": str(_free_port())}
    env.pop("IPB_WAREHOUSE_URL", None)
    started = _ipb("warehouse", "start", env=env)
    try:
        assert started.returncode == 0, started.stderr
        with config.temporary_environment({k: env[k] for k in ("IPB_STATE_DIR", "IPB_WAREHOUSE_PORT")}):
            url = warehouse.admin_url(config.load())
        with psycopg.connect(url) as conn:
            assert conn.execute("show data_checksums").fetchone()[0] == "off"
            assert conn.execute("show io_method").fetchone()[0] == "sync"
    finally:
        stopped = _ipb("warehouse", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr


def test_expected_faults_print_one_clear_line(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IPB_", "AIRFLOW"))}
    closed = {**base, "IPB_DEMO_MODE": "1", "IPB_WAREHOUSE_URL": f"postgresql://u:p@127.0.0.1:{_free_port()}/x",
              "IPB_STATE_DIR": str(tmp_path / "state")}
    landed = tmp_path / "nhs_phb.csv"
    landed.write_text("a,b\n1,2\n")
    for args in (["run", "--date", "2026-11-22"], ["load", "nhs_phb", str(landed)], ["report"],
                 ["warehouse", "start"]):
        line = _one_clear_line(_ipb(*args, env=closed, timeout=60), "error:")
        assert "127.0.0.1" in line and ":p@" not in line, line
    no_key = {**base, "IPB_DEMO_MODE": "0", "IPB_STATE_DIR": str(tmp_path / "state")}
    result = _ipb("run", "--date", "2026-11-22", env=no_key, timeout=60)
    _one_clear_line(result, "IPB_PSEUDONYM_KEY is not set")
    assert result.returncode == 2
    demo = {**os.environ, "IPB_DEMO_MODE": "1"}
    _one_clear_line(_ipb("run", "--date", "2026-11-22", "--landing", str(tmp_path / "missing"), env=demo),
                    "landing folder", "does not exist")
    _one_clear_line(_ipb("run", "--date", "22/11/2026", env=demo), "--date")
    _one_clear_line(_ipb("linkage-quality", "--truth", str(tmp_path), env=demo), "no records.csv")
    # IPB_DEBUG=1 shows the traceback behind the same fault.
    debug = _ipb("linkage-quality", "--truth", str(tmp_path), env={**demo, "IPB_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_markup_like_text_in_a_rejection_is_printed_not_parsed(fresh_db: str, tmp_path: Path) -> None:
    """A rejection reason names odd header cells by position, in brackets ("[column 13]"): Rich would read that as
    a style tag and drop it (or crash on a stray closing tag). `ipb load` prints it as it is."""
    from ipb import feeds

    header = [*feeds.LOADABLE["nhs_phb"].columns, "9[/]"]
    landed = tmp_path / "nhs_phb_QKS_20261117.csv"
    landed.write_text(",".join(header) + "\n" + ",".join("1" for _ in header) + "\n")
    result = _ipb("load", "nhs_phb", str(landed), env=dict(os.environ))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"rejected {landed.name}" in result.stderr and f"[column {len(header)}]" in result.stderr, result.stderr


@pytest.fixture(scope="module")
def night_env(tmp_path_factory: pytest.TempPathFactory):
    from ipb.generate import generate_night

    settings = config.load()
    warehouse.start(settings)
    base = tmp_path_factory.mktemp("ops_night")
    folder = base / "landing" / NIGHT.isoformat()
    generate_night(NIGHT, 200, folder, seed=7)
    with isolated_world(settings, base, "ipb_test_ops", KEY) as (name, env):
        yield base, folder, env, warehouse.admin_url(settings, name)


def _query(url: str, q: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(q).fetchall()


@pytest.mark.scenario
def test_sigterm_stops_a_run_within_seconds_and_the_rerun_publishes(night_env) -> None:
    import psutil

    base, folder, env, url = night_env
    out, errf = (base / "run.out").open("w+"), (base / "run.err").open("w+")
    args = [sys.executable, "-m", "ipb.cli", "run", "--date", NIGHT.isoformat(), "--landing", str(folder)]
    proc = subprocess.Popen(args, env=env, stdout=out, stderr=errf, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        # Stop it inside the warehouse build (dbt running), the longest and busiest part of a night.
        while "running build_warehouse" not in (base / "run.out").read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, (base / "run.out").read_text() + (base / "run.err").read_text()
            time.sleep(0.5)
        time.sleep(4)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        seconds = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stdout, stderr = (base / "run.out").read_text(), (base / "run.err").read_text()
    print(f"SIGTERM to exit: {seconds:.2f} s")
    assert code == 128 + signal.SIGTERM and seconds < 10
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "stopped by SIGTERM" in lines[0] and "re-running the night is safe" in lines[0]
    time.sleep(0.5)
    leftovers = [p.pid for p in psutil.process_iter(["cmdline"]) if str(folder) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []  # the worker and anything it started are gone
    assert _query(url, "select count(*) from audit.pipeline_events where event = 'run_stopped'") == [(1,)]
    assert _query(url, "select count(distinct run_id) from audit.validation_runs where published") == [(0,)]
    assert _query(url, "select count(*) from pg_stat_activity where datname = current_database()"
                       " and pid <> pg_backend_pid() and backend_type = 'client backend'") == [(0,)]

    rerun = _ipb("run", "--date", NIGHT.isoformat(), "--landing", str(folder), env=env, timeout=1200)
    assert "Traceback" not in rerun.stdout + rerun.stderr and "[warning" not in rerun.stdout  # noise in the run log
    assert "ingest_nhs_phb success, ingest_social_care success, ingest_send success" in rerun.stdout, rerun.stdout
    if rerun.returncode == 0:
        assert "published:    yes" in rerun.stdout
        assert _query(url, "select count(distinct run_id) from audit.validation_runs where published") == [(1,)]
    else:
        # A build that fails on its own (the dbt project is edited alongside) must fail cleanly: one clear line,
        # nothing published.
        lines = [line for line in rerun.stderr.splitlines() if line.strip()]
        assert rerun.returncode == 1 and len(lines) == 1 and "build_warehouse failed" in lines[0], rerun.stderr
        assert "published:    NO" in rerun.stdout


@pytest.mark.scenario
def test_airflow_home_is_private_after_a_run(night_env) -> None:
    base, _, _, _ = night_env
    home = base / "airflow"
    assert (home / "airflow.db").is_file() and list((home / "logs" / "ipb").glob("run-*.log"))
    assert home.stat().st_mode & 0o777 == 0o700
    readable = [str(p) for p in (home, *home.rglob("*")) if p.lstat().st_mode & 0o077]
    assert readable == []
