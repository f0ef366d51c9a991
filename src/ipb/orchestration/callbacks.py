"""The one on-failure callback every task uses: it records the failure in audit.pipeline_events (and is the
place to add a notifier). It must never raise, and never log row values."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def record_failure(context: dict) -> None:
    try:
        from ipb import db

        ti = context.get("task_instance") or context.get("ti")
        exc = context.get("exception")
        detail = f"{type(exc).__name__}: {exc}"[:1000] if exc else "failed"
        with db.connect(role=db.LOADER) as conn:
            conn.execute(
                "insert into audit.pipeline_events (run_id, dag_id, task_id, event, detail) values (%s,%s,%s,%s,%s)",
                (getattr(ti, "run_id", None), getattr(ti, "dag_id", None), getattr(ti, "task_id", None),
                 "task_failed", detail),
            )
    except Exception:  # noqa: BLE001 - a failing callback must not hide the task's own failure
        log.exception("could not record the task failure in the audit")
