"""The Airflow API server and UI start from the project's environment, and its REST API lists the four DAGs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ipb import airflow_env, config

EXPECTED = {"ingest_nhs_phb", "ingest_social_care", "ingest_send", "build_warehouse"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - localhost only
        return resp.status, resp.read()


def test_api_server_lists_the_four_dags(settings: config.Settings, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, **airflow_env.environment(settings),
           "AIRFLOW_HOME": str(tmp_path / "airflow"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow' / 'airflow.db'}",
           # Local, single-user: every visitor is admin (the docker deployment uses real auth).
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}"}
    (tmp_path / "airflow").mkdir()
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    subprocess.run([*airflow, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=300)
    log = (tmp_path / "api.log").open("w")
    server = subprocess.Popen([*airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/api/v2/monitor/health")
                break
            except OSError:
                time.sleep(1)
        assert status == 200, (tmp_path / "api.log").read_text()[-3000:]
        status, body = _get(f"http://127.0.0.1:{port}/api/v2/dags?limit=100")
        assert status == 200
        dag_ids = {d["dag_id"] for d in json.loads(body)["dags"]}
        assert EXPECTED <= dag_ids
        status, page = _get(f"http://127.0.0.1:{port}/")  # the UI is served too
        assert status == 200 and b"<html" in page.lower()
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
