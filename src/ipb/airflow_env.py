"""Airflow configured for local work inside the repository, through environment variables only.

Call `apply()` before importing anything from Airflow: Airflow reads its configuration at import.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from ipb.config import Settings


def environment(settings: Settings) -> dict[str, str]:
    """The variables a local Airflow needs. The warehouse is exposed as the connection `ipb_warehouse`."""
    from ipb import warehouse

    env = {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Asset events only queue runs of unpaused DAGs: locally the pipeline's DAGs start active.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES_REGEXP": r"(airflow|ipb)\..*",
        # Quiet consoles for `ipb run`; task logs keep their own files. Override to INFO when debugging.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "GX_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{settings.airflow_home / 'airflow.db'}",
        "IPB_HOME": str(settings.home),
        "IPB_STATE_DIR": str(settings.state_dir),
        "IPB_LANDING_DIR": str(settings.landing_dir),
        "IPB_OUTPUT_DIR": str(settings.output_dir),
        "IPB_WAREHOUSE_PORT": str(settings.port),
        "IPB_WAREHOUSE_DB": settings.database,
    }
    # The connection URL carries the local password: it lives only in this process's environment.
    env["AIRFLOW_CONN_IPB_WAREHOUSE"] = warehouse.admin_url(settings)
    return env


# Local only (not in `environment()`, which the Docker deployment mirrors; its containers own their volumes):
# task log folders and files Airflow creates are private to the user running the pipeline.
PRIVATE_LOG_PERMISSIONS = {
    "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
    "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
}


def make_private(folder: Path) -> None:
    """Create `folder` 0700 and take group/other permissions off everything already in it (metadata DB, logs)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (folder, *folder.rglob("*")):
        try:
            st = path.lstat()
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
                path.chmod(stat.S_IMODE(st.st_mode) & 0o700)
        except OSError:  # vanished meanwhile, or not ours: nothing to tighten
            continue


def apply(settings: Settings) -> None:
    """Airflow's environment into this process; its home (SQLite metadata, logs) private to this user."""
    from ipb import warehouse

    if settings.airflow_home.is_relative_to(settings.state_dir):
        warehouse.secure_state_dir(settings)
    make_private(settings.airflow_home)
    os.environ.update(environment(settings))
    for key, value in PRIVATE_LOG_PERMISSIONS.items():
        os.environ.setdefault(key, value)


def migrate(settings: Settings) -> None:
    """Create or upgrade the SQLite metadata database (idempotent, ~5 s the first time)."""
    apply(settings)
    marker = settings.airflow_home / ".migrated"
    db = settings.airflow_home / "airflow.db"
    if marker.exists() and db.exists():
        return
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        umask=0o077,  # airflow.db and its first logs: 0600
    )
    marker.write_text("ok\n")
    make_private(settings.airflow_home)
