"""Foundation: configuration defaults, the embedded warehouse lifecycle, the zones bootstrap."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ipb import config, db, warehouse

REPO = Path(__file__).resolve().parents[1]


def _ipb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ipb.cli", *args], capture_output=True, text=True, env=env, timeout=180
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.fast
def test_configuration_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("IPB_STATE_DIR", "IPB_WAREHOUSE_URL", "IPB_WAREHOUSE_PORT", "IPB_WAREHOUSE_DB",
                "IPB_LANDING_DIR", "IPB_OUTPUT_DIR", "IPB_PSEUDONYM_KEY", "IPB_DEMO_MODE", "IPB_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(REPO)
    s = config.load()
    assert s.home == REPO
    assert s.state_dir == REPO / ".ipb"
    assert s.pgdata == REPO / ".ipb" / "pgdata"
    assert s.airflow_home == REPO / ".ipb" / "airflow"
    assert s.dags_folder == REPO / "dags"
    assert s.port == config.DEFAULT_PORT
    assert s.database == "ipb"
    assert s.is_embedded
    assert s.landing_dir == REPO / ".ipb" / "landing"


@pytest.mark.fast
def test_external_url_switches_off_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_WAREHOUSE_URL", "postgresql://u:secret@db.example:5433/wh")
    s = config.load()
    assert not s.is_embedded
    assert warehouse.admin_url(s) == "postgresql://u:secret@db.example:5433/wh"
    assert "secret" not in warehouse.redact(warehouse.admin_url(s))


@pytest.mark.fast
def test_pseudonym_key_refused_outside_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPB_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("IPB_DEMO_MODE", "0")
    with pytest.raises(config.ConfigError, match="IPB_PSEUDONYM_KEY is not set"):
        config.load().pseudonym_key()
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", config.DEMO_PSEUDONYM_KEY)
    with pytest.raises(config.ConfigError, match="demo key"):
        config.load().pseudonym_key()
    monkeypatch.setenv("IPB_DEMO_MODE", "1")
    assert config.load().pseudonym_key() == config.DEMO_PSEUDONYM_KEY


def test_embedded_warehouse_lifecycle(tmp_path: Path) -> None:
    """start, start again (harmless), status, url works with psycopg, stop; also as root."""
    port = _free_port()
    env = {**os.environ, "IPB_STATE_DIR": str(tmp_path / "state"), "IPB_WAREHOUSE_PORT": str(port)}
    env.pop("IPB_WAREHOUSE_URL", None)
    first = _ipb("warehouse", "start", env=env)
    assert first.returncode == 0, first.stderr
    try:
        again = _ipb("warehouse", "start", env=env)
        assert again.returncode == 0, again.stderr
        st = _ipb("warehouse", "status", env=env)
        assert st.returncode == 0 and "running" in st.stdout and str(port) in st.stdout
        url = _ipb("warehouse", "url", env=env).stdout.strip()
        with psycopg.connect(url) as conn:
            assert conn.execute("select current_database()").fetchone() == ("ipb",)
            assert conn.execute("show listen_addresses").fetchone() == ("127.0.0.1",)
        # The password is in the URL only: not in the status line.
        assert url.split(":")[2].split("@")[0] not in st.stdout
    finally:
        stopped = _ipb("warehouse", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    after = _ipb("warehouse", "status", env=env)
    assert after.returncode == 1 and "not running" in after.stdout
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


@pytest.mark.fast
def test_port_in_use_gives_clear_message(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        env = {**os.environ, "IPB_STATE_DIR": str(tmp_path / "s"), "IPB_WAREHOUSE_PORT": str(port)}
        env.pop("IPB_WAREHOUSE_URL", None)
        result = _ipb("warehouse", "start", env=env)
    assert result.returncode != 0
    assert f"port {port}" in result.stderr and "IPB_WAREHOUSE_PORT" in result.stderr


def test_bootstrap_creates_zones_idempotently(fresh_db: str) -> None:
    db.bootstrap()
    db.bootstrap()
    with psycopg.connect(fresh_db) as conn:
        schemas = {r[0] for r in conn.execute("select schema_name from information_schema.schemata")}
        assert {"raw", "quarantine", "audit"} <= schemas
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "insert into audit.batches (feed, file_name, checksum, status, rows_in_file, rows_loaded,"
                " rows_quarantined) values ('nhs_phb', 'f.csv', 'x', 'loaded', 10, 9, 0)"
            )
