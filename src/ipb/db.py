"""Connections to the warehouse and the idempotent bootstrap of its zones."""

from __future__ import annotations

from importlib import resources

import psycopg

from ipb import config, warehouse


def url() -> str:
    """URL of the running warehouse database; a clear error when it is not running."""
    return warehouse.require_running(config.load())


def connect(autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(url(), autocommit=autocommit)


def bootstrap(conn: psycopg.Connection | None = None) -> None:
    """Create the raw, quarantine and audit zones if missing (safe to run every time)."""
    ddl = resources.files("ipb").joinpath("sql/bootstrap.sql").read_text()
    if conn is None:
        with connect() as own:
            _apply(own, ddl)
    else:
        _apply(conn, ddl)


def _apply(conn: psycopg.Connection, ddl: str) -> None:
    # Serialise concurrent bootstraps (three ingestion DAGs may start at once).
    conn.execute("select pg_advisory_xact_lock(hashtext('ipb.bootstrap'))")
    conn.execute(ddl)
    conn.commit()
