"""Connections to the warehouse and the idempotent bootstrap of its zones and roles."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

from ipb import config, warehouse

# Pipeline components take their own group role, so a bug in one cannot write where it should not.
LOADER = "ipb_loader"
TRANSFORMER = "ipb_transformer"
VALIDATOR = "ipb_validator"
ROLES = ("ipb_loader", "ipb_transformer", "ipb_analyst", "ipb_ig_lead", "ipb_validator")


def url() -> str:
    """Admin URL of the running warehouse database; a clear error when it is not running."""
    return warehouse.require_running(config.load())


def connect(role: str | None = None, autocommit: bool = False) -> psycopg.Connection:
    """A connection to the warehouse, acting as `role` (SET ROLE) when given."""
    conn = psycopg.connect(url(), autocommit=autocommit)
    if role:
        if role not in ROLES:
            raise ValueError(f"unknown pipeline role {role!r}")
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        if not autocommit:
            conn.commit()
    return conn


def _ddl(name: str) -> str:
    return resources.files("ipb").joinpath(f"sql/{name}").read_text()


DDL_FILES = ("bootstrap.sql", "util.sql", "roles.sql")


def _ddl_version() -> str:
    import hashlib

    from ipb import feeds

    text = "".join(_ddl(n) for n in DDL_FILES) + repr(sorted((f.name, f.columns) for f in feeds.LOADABLE.values()))
    return hashlib.sha256(text.encode()).hexdigest()


def bootstrap(conn: psycopg.Connection | None = None) -> None:
    """Create the raw, quarantine and audit zones and the group roles if missing (safe every time)."""
    if conn is None:
        with psycopg.connect(url()) as own:
            _apply(own)
    else:
        _apply(conn)


def _apply(conn: psycopg.Connection) -> None:
    # Serialise concurrent bootstraps (three ingestion DAGs may start at once); roles are cluster-wide.
    conn.execute("select pg_advisory_xact_lock(hashtext('ipb.bootstrap'))")
    version = _ddl_version()
    # Already applied at this version: do nothing. Re-running DDL for every file would take locks on the raw
    # tables and deadlock with autovacuum (seen in the benchmarks).
    if conn.execute("select to_regclass('audit.bootstrap_version') is not null").fetchone()[0]:
        done = conn.execute("select 1 from audit.bootstrap_version where version = %s", (version,)).fetchone()
        if done:
            conn.commit()
            return
    for name in DDL_FILES:
        conn.execute(_ddl(name))
    db_name = conn.execute("select current_database()").fetchone()[0]
    conn.execute(
        sql.SQL("grant connect, create on database {} to ipb_transformer").format(sql.Identifier(db_name))
    )
    conn.execute(
        sql.SQL("grant connect on database {} to ipb_loader, ipb_analyst, ipb_ig_lead, ipb_validator").format(
            sql.Identifier(db_name)
        )
    )
    # Every raw table exists from the start (owned by the loader), so a night without, say, an opt-out file
    # still builds: dbt sees an empty table rather than a missing one.
    from ipb.raw_tables import ensure_raw_tables

    conn.execute("set role ipb_loader")
    ensure_raw_tables(conn)
    conn.execute("reset role")
    conn.execute("create table if not exists audit.bootstrap_version (version text primary key,"
                 " applied_at timestamptz not null default now())")
    conn.execute("delete from audit.bootstrap_version")
    conn.execute("insert into audit.bootstrap_version (version) values (%s)", (version,))
    conn.commit()
