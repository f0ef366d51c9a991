"""A load killed with SIGKILL at any point leaves no partial batch; the rerun gives the same warehouse as one
clean run (IG promise 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from ipb import config, warehouse
from ipb.ingest import load_file
from tests import feedrows as fr

ROWS = 150_000
STATE_SQL = """
    select (select count(*) from raw.nhs_phb),
           (select md5(string_agg(t::text, '|' order by _row_number)) from (
                select _row_number, _file_name, _file_checksum, _sender_code, _extract_date,
                       phb_id, nhs_number, notional_gbp from raw.nhs_phb) t),
           (select count(*) from quarantine.rows),
           (select string_agg(row_number || ':' || reason_code, ',' order by row_number) from quarantine.rows),
           (select string_agg(status || ':' || rows_in_file || ':' || rows_loaded || ':' || rows_quarantined, ','
                              order by batch_id) from audit.batches)
"""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [fr.phb(i) for i in range(1, ROWS + 1)]
    rows[10] = fr.phb(11, notional_gbp="-1")  # one rule failure, so the rules pass has work to move
    path = tmp_path_factory.mktemp("kill") / "nhs_phb_QKS_20261122.csv"
    path.write_text(fr.csv_text("nhs_phb", rows))
    return path


def _state(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(STATE_SQL).fetchone()


def _clean_run_state(settings: config.Settings, path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple:
    with warehouse.scratch_database(settings, "ipb_test_clean") as (_, env), monkeypatch.context() as m:
        for key, value in env.items():
            m.setenv(key, value)
        load_file("nhs_phb", path)
        return _state(warehouse.admin_url(config.load()))


@pytest.mark.parametrize("phase", ['copy "raw"', "create temp table ipb_failing"])
def test_sigkill_mid_load_then_rerun_equals_clean_run(fresh_db: str, settings: config.Settings, big_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch, phase: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from ipb.ingest import load_file; load_file('nhs_phb', {str(big_file)!r})"],
        env=os.environ.copy(),
    )
    killed = False
    deadline = time.monotonic() + 120
    with psycopg.connect(fresh_db, autocommit=True) as watch:
        while time.monotonic() < deadline and proc.poll() is None:
            active = watch.execute(
                "select count(*) from pg_stat_activity where datname = current_database() and state = 'active'"
                " and query ilike %s", (f"%{phase}%",)).fetchone()[0]
            if active:
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    proc.wait(timeout=60)
    assert killed, f"the load finished before reaching the {phase!r} phase; make the file bigger"
    # The server notices the dead client and rolls its transaction back.
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for _ in range(200):
            busy = conn.execute("select count(*) from pg_stat_activity where datname = current_database()"
                                " and pid <> pg_backend_pid() and backend_type = 'client backend'").fetchone()[0]
            if not busy:
                break
            time.sleep(0.05)
        raw_exists = conn.execute("select to_regclass('raw.nhs_phb') is not null").fetchone()[0]
        leftovers = conn.execute("select count(*) from raw.nhs_phb").fetchone()[0] if raw_exists else 0
        batches = conn.execute("select count(*) from audit.batches").fetchone()[0]
    assert leftovers == 0 and batches == 0  # nothing partial survived the kill

    rerun = load_file("nhs_phb", big_file)
    assert rerun.status == "loaded" and rerun.rows_in_file == ROWS
    assert _state(fresh_db) == _clean_run_state(settings, big_file, monkeypatch)
