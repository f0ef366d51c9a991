"""The on-failure callbacks every DAG uses: a failed task (`record_failure`) and a failed run
(`record_run_failure`) are recorded in audit.pipeline_events and, when `IPB_ALERT_WEBHOOK_URL` is set, POSTed to
that webhook as a small JSON document.

The callbacks must never raise (a failing callback would hide the task's own failure) and never carry row values
or identifiers: the audit detail and the alert name the failure by a reason code (the exception's type, and the
SQLSTATE of a database error), never by the database's message, which can quote a row. Our own messages (a
failed gate naming its checks, "dbt build failed") are kept in the audit detail, never in the alert.

The warehouse is bootstrapped (idempotently) before the failure is written, so a failure on a fresh install
(before any ingest created the audit schema and roles) is still recorded.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request

log = logging.getLogger(__name__)

WEBHOOK_ENV = "IPB_ALERT_WEBHOOK_URL"
WEBHOOK_TIMEOUT_SECONDS = 5.0


def reason_code(exc: BaseException | None) -> str:
    """A short code for a failure: the exception's type (with the SQLSTATE of a database error); never its text."""
    if exc is None:
        return "failed"
    code = type(exc).__name__
    state = getattr(getattr(exc, "diag", None), "sqlstate", None) or getattr(exc, "sqlstate", None)
    return f"{code}:{state}" if state else code


def _detail(exc: BaseException | None) -> str:
    """The audit's detail: the reason code, and the message only when our own code raised it (it quotes no row
    values); a database or library message is withheld because it can."""
    code = reason_code(exc)
    if exc is None:
        return code
    module = type(exc).__module__ or ""
    if (module.startswith("ipb") or type(exc) is RuntimeError) and str(exc).strip():
        return f"{code}: {' '.join(str(exc).split())}"[:1000]
    return code


def _record(run_id: str | None, dag_id: str | None, task_id: str | None, event: str, detail: str) -> None:
    from ipb import db

    db.bootstrap()  # idempotent: a failure on a fresh install still finds the audit schema and roles
    with db.connect(role=db.LOADER) as conn:
        conn.execute(
            "insert into audit.pipeline_events (run_id, dag_id, task_id, event, detail) values (%s,%s,%s,%s,%s)",
            (run_id, dag_id, task_id, event, detail),
        )


def notify(payload: dict) -> bool:
    """POST the alert to `IPB_ALERT_WEBHOOK_URL` (when set). Returns whether it was delivered; never raises."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return False
    if not url.startswith(("http://", "https://")):
        log.warning("%s is not an http(s) URL: alert not sent", WEBHOOK_ENV)
        return False
    body = json.dumps(payload, sort_keys=True).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "ipb-alert/1"})
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as resp:  # noqa: S310 - http(s) only
            return 200 <= resp.status < 300
    except Exception as exc:  # noqa: BLE001 - an unreachable receiver must not hide the failure itself
        log.warning("alert webhook not reached (%s)", type(exc).__name__)
        return False


def _alert(event: str, dag_id: str | None, run_id: str | None, task_id: str | None, reason: str) -> None:
    notify({"source": "ipb", "event": event, "dag_id": dag_id, "run_id": run_id, "task_id": task_id,
            "reason": reason})


def record_failure(context: dict) -> None:
    """Task on-failure callback (after the last retry)."""
    try:
        ti = context.get("task_instance") or context.get("ti")
        exc = context.get("exception")
        run_id, dag_id, task_id = (getattr(ti, "run_id", None), getattr(ti, "dag_id", None),
                                   getattr(ti, "task_id", None))
    except Exception:  # noqa: BLE001 - never raise from a callback
        log.exception("could not read the failed task's context")
        return
    try:
        _record(run_id, dag_id, task_id, "task_failed", _detail(exc))
    except Exception as err:  # noqa: BLE001 - a failing callback must not hide the task's own failure
        log.warning("could not record the task failure in the audit (%s)", reason_code(err))
    _alert("task_failed", dag_id, run_id, task_id, reason_code(exc))


def record_run_failure(context: dict) -> None:
    """DAG on-failure callback: the run ended failed (after its tasks' own callbacks)."""
    try:
        run = context.get("dag_run")
        run_id = getattr(run, "run_id", None) or context.get("run_id")
        dag = context.get("dag")
        dag_id = getattr(run, "dag_id", None) or getattr(dag, "dag_id", None)
        reason = str(context.get("reason") or "failed")[:200]
    except Exception:  # noqa: BLE001
        log.exception("could not read the failed run's context")
        return
    try:
        _record(run_id, dag_id, None, "run_failed", reason)
    except Exception as err:  # noqa: BLE001
        log.warning("could not record the run failure in the audit (%s)", reason_code(err))
    _alert("run_failed", dag_id, run_id, None, reason)
