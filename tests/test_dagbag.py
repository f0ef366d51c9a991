"""Every DAG in dags/ imports cleanly, quickly, and the nightly DAGs are all there."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ipb import airflow_env, config

EXPECTED = {"ingest_nhs_phb", "ingest_social_care", "ingest_send", "ingest_send_budget", "build_warehouse"}

_PROBE = """
import json, time
t = time.monotonic()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
seconds = time.monotonic() - t
build = bag.dags.get("build_warehouse")
dbt = {task.task_id: {"conn_id": getattr(task.profile_config.profile_mapping, "conn_id", None),
                      "profiles_yml": task.profile_config.profiles_yml_filepath is not None,
                      "pre_execute": task._pre_execute_hook is not None,
                      "interceptors": [i.__name__ for i in task.interceptors]}
       for task in (build.tasks if build else []) if task.task_id in ("dbt_build", "dbt_build_people")}
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
                  "seconds": seconds, "dbt": dbt}))
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
    # dbt in the DAG reaches the warehouse through the Airflow connection (Cosmos's profile mapping), and the key
    # through an interceptor on the invocation: no profiles.yml of ours, no hook mutating the worker's environment.
    expected = {"conn_id": "ipb_warehouse", "profiles_yml": False, "pre_execute": False,
                "interceptors": ["_pseudonym_key"]}
    assert bag["dbt"] == {"dbt_build": expected, "dbt_build_people": expected}
