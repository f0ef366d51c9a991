"""Every DAG in dags/ imports cleanly, quickly, and the nightly DAGs are all there."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ipb import airflow_env, config

EXPECTED = {"ingest_nhs_phb", "ingest_social_care", "ingest_send", "build_warehouse"}

_PROBE = """
import json, time
t = time.monotonic()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
                  "seconds": time.monotonic() - t}))
"""


def _dagbag() -> dict:
    s = config.load()
    env = {**os.environ, **airflow_env.environment(s)}
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dagbag_imports_every_dag_without_errors(settings: config.Settings) -> None:
    bag = _dagbag()
    assert bag["errors"] == {}
    assert EXPECTED <= set(bag["dags"])
    # Loose bound: only fails when something heavy (dbt ls, a database call) runs at parse time.
    assert bag["seconds"] < 60
