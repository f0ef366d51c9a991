"""Write-audit-publish: swap the validated build into place in ONE transaction (IG.md promise 6).

    build_marts -> marts -> marts_previous (the old previous is dropped), the same for reports,
    usage granted to ipb_analyst and ipb_ig_lead, and the run's validation rows marked published.

Runs as ipb_transformer, which owns the schemas dbt creates. Any error rolls everything back, so analysts see
either the old published state or the new one, never a mix.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from ipb import db
from ipb.quality import audit

log = logging.getLogger(__name__)
SWAPS = (("build_marts", "marts"), ("build_reports", "reports"))
READERS = ("ipb_analyst", "ipb_ig_lead")


class PublishRefused(RuntimeError):
    """Publication was not allowed (the gate did not pass for this run, or the build is missing)."""


def _schema_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("select 1 from pg_namespace where nspname = %s", (name,)).fetchone() is not None


def _gate_passed(conn: psycopg.Connection, run_id: str) -> bool:
    """The latest gate attempt for this run id passed on every checkpoint."""
    rows = conn.execute(
        """select distinct on (checkpoint) success from audit.validation_runs where run_id = %s
           order by checkpoint, validated_at desc, validation_run_id desc""",
        (run_id,),
    ).fetchall()
    return bool(rows) and all(r[0] for r in rows)


def publish(run_id: str) -> None:
    """Publish the build validated by run `run_id`; raises PublishRefused unless its gate passed."""
    with db.connect(role=db.TRANSFORMER) as conn:
        # One publication at a time; a second waits and then finds no build to publish.
        conn.execute("select pg_advisory_xact_lock(hashtext('ipb.publish'))")
        if not _gate_passed(conn, run_id):
            raise PublishRefused(f"run {run_id}: the publication gate has not passed; nothing published")
        for build, _live in SWAPS:
            if not _schema_exists(conn, build):
                raise PublishRefused(f"run {run_id}: schema {build} does not exist; nothing published")
        for build, live in SWAPS:
            previous = f"{live}_previous"
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(previous)))
            if _schema_exists(conn, live):
                conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(live),
                                                                           sql.Identifier(previous)))
                # The previous state is kept for rollback by engineers, not for analysts.
                conn.execute(sql.SQL("revoke usage on schema {} from ipb_analyst").format(sql.Identifier(previous)))
            conn.execute(sql.SQL("alter schema {} rename to {}").format(sql.Identifier(build), sql.Identifier(live)))
            readers = sql.SQL(", ").join(sql.Identifier(r) for r in READERS)
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(live), readers))
            conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(sql.Identifier(live), readers))
        audit.mark_published(run_id, conn)
        conn.commit()
    log.info("run %s published: marts and reports swapped in", run_id)
