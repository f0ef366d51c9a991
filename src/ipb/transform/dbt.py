"""Run dbt in-process against the warehouse.

profiles.yml reads only environment variables; `dbt_env` builds them. The pseudonym key travels to every
PostgreSQL session as the custom setting `ipb.pseudonym_key_hex` through libpq's PGOPTIONS, so it is never
rendered into compiled SQL, dbt's target/ or its logs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ipb import config, warehouse

# dbtRunner is not re-entrant and the environment is process-wide: one dbt invocation at a time.
_LOCK = threading.Lock()


def dbt_env(settings: config.Settings | None = None, threads: int = 2, with_key: bool = True) -> dict[str, str]:
    """Environment variables for profiles.yml (connection, threads) and PGOPTIONS carrying the key as hex.
    `with_key=False` is for commands that never pseudonymise (parse): they must work without the secret."""
    settings = settings or config.load()
    parts = urlsplit(warehouse.admin_url(settings))
    return {
        "IPB_DBT_HOST": parts.hostname or "127.0.0.1",
        "IPB_DBT_PORT": str(parts.port or 5432),
        "IPB_DBT_USER": unquote(parts.username or ""),
        "IPB_DBT_PASSWORD": unquote(parts.password or ""),
        "IPB_DBT_DBNAME": parts.path.lstrip("/") or settings.database,
        "IPB_DBT_THREADS": str(threads),
        **key_options(settings, with_key=with_key),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }


def key_options(settings: config.Settings | None = None, with_key: bool = True) -> dict[str, str]:
    """PGOPTIONS carrying the pseudonym key (hex) as the session setting `ipb.pseudonym_key_hex`: the one way the
    key reaches dbt's sessions, from the command line (dbt_env) and from Airflow (the DAG's interceptor)."""
    settings = settings or config.load()
    key_hex = settings.pseudonym_key().encode("utf-8").hex() if with_key else ""
    return {"PGOPTIONS": f"-c ipb.pseudonym_key_hex={key_hex}" if key_hex else ""}


# The Airflow connection to the warehouse (ipb.airflow_env sets it; the Docker deployment too).
WAREHOUSE_CONN_ID = "ipb_warehouse"
# The dbt target's settings besides the connection: profiles.yml (command line and tests) and the Airflow
# connection's profile (dags/build_warehouse.py) both connect as the warehouse's admin acting as ipb_transformer.
PROFILE_ARGS: dict[str, object] = {"schema": "restricted", "role": "ipb_transformer", "connect_timeout": 10,
                                   "keepalives_idle": 0, "threads": 2}


@dataclass
class DbtResult:
    success: bool
    result: Any  # dbt's own result object (RunExecutionResult, Manifest, ...)
    exception: BaseException | None


def run_dbt(
    args: list[str], settings: config.Settings | None = None, env: Mapping[str, str] | None = None,
    with_key: bool = True,
) -> DbtResult:
    """Invoke dbt (e.g. ["build"]) with --project-dir/--profiles-dir of the repository's dbt project."""
    from dbt.cli.main import dbtRunner

    settings = settings or config.load()
    project = str(settings.dbt_project_dir)
    values = {**dbt_env(settings, with_key=with_key), **(env or {})}
    full = [*args, "--project-dir", project, "--profiles-dir", project]
    with _LOCK, config.temporary_environment(values):
        res = dbtRunner().invoke(full)
    return DbtResult(bool(res.success), res.result, res.exception)
