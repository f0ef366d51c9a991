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
    from ipb.transform.dbt import WAREHOUSE_CONN_ID

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
    env[f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}"] = warehouse.admin_url(settings)
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


# --- Airflow run for real (`ipb airflow up`): scheduler, DAG processor, triggerer, API server ----------------------
#
# `ipb run` keeps the SQLite metadata above (dag.test() runs in one process; nothing else shares it). The real
# components run as separate processes that share the metadata, so they use the warehouse's PostgreSQL server, in
# a database of their own (`IPB_AIRFLOW_DB`, default `airflow`): never the warehouse database itself.

METADATA_DB_ENV = "IPB_AIRFLOW_DB"
DEFAULT_METADATA_DB = "airflow"
ADMIN_USER = "admin"


def metadata_database() -> str:
    return os.environ.get(METADATA_DB_ENV) or DEFAULT_METADATA_DB


def metadata_url(settings: Settings) -> str:
    """SQLAlchemy URL of the real Airflow's metadata database on the warehouse server (carries the password)."""
    from ipb import warehouse

    url = warehouse.admin_url(settings, metadata_database())
    return "postgresql+psycopg2://" + url.split("://", 1)[1]


def ensure_metadata_database(settings: Settings) -> None:
    """Create the metadata database on the warehouse server when it is missing (idempotent)."""
    ensure_database(settings, metadata_database())


def ensure_database(settings: Settings, name: str) -> None:
    """Create a database on the warehouse server when it is missing (idempotent)."""
    import psycopg
    from psycopg import sql

    from ipb import warehouse

    with psycopg.connect(warehouse.admin_url(settings, "postgres"), autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


# --- CeleryExecutor (`ipb airflow up --executor celery --workers N`) -------------------------------------------
#
# The scale-out path on the same engine: the scheduler queues each task in a broker and `airflow celery worker`
# processes (here on this machine; in production on other machines) run them. No broker service of its own: the
# broker is the warehouse's PostgreSQL server through kombu's SQLAlchemy transport (tables kombu_queue and
# kombu_message) and Celery's results go to the same database (celery_taskmeta), one of its own
# (`IPB_AIRFLOW_CELERY_DB`, default `<metadata database>_celery`), never Airflow's metadata or the warehouse.

EXECUTOR_ENV = "IPB_AIRFLOW_EXECUTOR"
CELERY_DB_ENV = "IPB_AIRFLOW_CELERY_DB"
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}


def executor_choice(executor: str | None = None) -> str:
    """`local` or `celery`: the argument, else `IPB_AIRFLOW_EXECUTOR`, else `local` (LocalExecutor stays the
    default). Airflow's class names (`LocalExecutor`, `CeleryExecutor`) are accepted too."""
    from ipb.config import ConfigError

    value = (executor or os.environ.get(EXECUTOR_ENV) or "local").strip().lower().removesuffix("executor")
    if value not in EXECUTORS:
        raise ConfigError(f"unknown Airflow executor {executor or os.environ.get(EXECUTOR_ENV)!r}: "
                          f"choose one of {', '.join(EXECUTORS)} (--executor or {EXECUTOR_ENV})")
    return value


def celery_database() -> str:
    return os.environ.get(CELERY_DB_ENV) or f"{metadata_database()}_celery"


def celery_urls(settings: Settings) -> tuple[str, str]:
    """(broker URL, result backend URL) on the warehouse server's Celery database (both carry the password):
    kombu's SQLAlchemy transport `sqla+postgresql+psycopg2://…` and Celery's database backend
    `db+postgresql+psycopg2://…`, the driver Airflow's own metadata connection uses."""
    from ipb import warehouse

    rest = warehouse.admin_url(settings, celery_database()).split("://", 1)[1]
    return f"sqla+postgresql+psycopg2://{rest}", f"db+postgresql+psycopg2://{rest}"


def ensure_celery_database(settings: Settings) -> None:
    """Create the Celery database, its tables (kombu's queue and message tables, Celery's result tables) and the
    workers' queue when missing, before any worker starts: workers starting together on an empty database race to
    create them, and one dies on a duplicate `CREATE SEQUENCE` or queue name."""
    from celery import Celery
    from kombu import Connection, Queue

    ensure_database(settings, celery_database())
    broker, backend = celery_urls(settings)
    with Connection(broker) as conn:
        channel = conn.default_channel
        # The SQLAlchemy transport declares its two tables on first use and creates them with its first session.
        _ = (channel.queue_cls, channel.message_cls)
        # The queue the workers consume (Airflow's [operators] default_queue) is a row of kombu's queue table:
        # two workers declaring it at once raced on its unique name, and one died.
        Queue(os.environ.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE") or "default", channel=channel).declare()
        channel.session.close()
    app = Celery("ipb-prepare", broker=broker, backend=backend)
    try:
        app.backend.ResultSession().close()  # the database backend creates its tables with its first session
    finally:
        app.close()


def _secret(settings: Settings, name: str) -> str:
    """A random secret kept in the Airflow home (0600), the same for every component and across restarts."""
    import secrets

    path = settings.airflow_home / name
    if not path.exists():
        make_private(settings.airflow_home)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def passwords_file(settings: Settings) -> Path:
    return settings.airflow_home / "simple_auth_manager_passwords.json.generated"


def admin_password(settings: Settings) -> str:
    """The local admin's password for Airflow's simple auth manager: generated once into its passwords file
    (0600, in the Airflow home), which the API server reads (it only adds users missing from it)."""
    import json
    import secrets

    path = passwords_file(settings)
    users = json.loads(path.read_text() or "{}") if path.exists() else {}
    if ADMIN_USER not in users:
        make_private(settings.airflow_home)
        users[ADMIN_USER] = secrets.token_urlsafe(12)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(users, fh)
        tmp.replace(path)
    return users[ADMIN_USER]


def real_environment(settings: Settings, port: int, executor: str = "local") -> dict[str, str]:
    """Everything the Airflow components share when run for real: the project's environment, metadata in
    PostgreSQL, LocalExecutor (or CeleryExecutor with its broker and results on the warehouse server) sized for a
    small machine, one API port that the execution API URL follows, one JWT secret (tasks' tokens are issued by
    the scheduler and checked by the API server), simple auth with one admin."""
    env = environment(settings)
    base = f"http://127.0.0.1:{port}"
    executor = executor_choice(executor)
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(settings),
        "AIRFLOW__CORE__EXECUTOR": EXECUTORS[executor],
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": os.environ.get("AIRFLOW__API__WORKERS", "1"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(settings, "jwt.secret"),
        "AIRFLOW__API__SECRET_KEY": _secret(settings, "api.secret"),
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
        # The components' own logs are files under the Airflow home: INFO unless overridden.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
    })
    if executor == "celery":
        broker, backend = celery_urls(settings)
        env.update({
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": backend,
            # Tasks each worker runs at once (its pool processes); parallelism caps the whole.
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", "2"),
        })
    for key, value in PRIVATE_LOG_PERMISSIONS.items():
        env.setdefault(key, os.environ.get(key, value))
    return env
