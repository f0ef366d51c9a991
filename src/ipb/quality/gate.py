"""The publication gate: validate the night's build with GX, build Data Docs, record the decision.

    result = run_gate(run_id)       # never raises on failing checks; GateResult says what failed
    result.raise_for_failure()      # GateFailed names the failing checks (never identifying values)

Nothing here touches `marts` or `reports`: publication is ipb.publish.publish, called only after a pass.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from psycopg import sql

from ipb import config, db
from ipb.quality.audit import CheckOutcome, CheckpointOutcome

log = logging.getLogger(__name__)


class GateFailed(Exception):
    """The gate blocked publication; the message names the failed checks and counts only."""


@dataclass
class GateResult:
    run_id: str
    success: bool
    failed_checks: list[str]
    evaluated: int
    failed: int
    data_docs_path: Path
    checkpoints: list[CheckpointOutcome] = field(default_factory=list)

    def summary(self) -> str:
        if self.success:
            return f"gate passed: {self.evaluated} checks in {len(self.checkpoints)} checkpoints"
        failed = "; ".join(f"{c.check_name} [{c.observed[:300]}]" for o in self.checkpoints for c in o.failed)
        failed = failed or ", ".join(self.failed_checks)
        return (f"gate failed: {self.failed} of {self.evaluated} checks failed: {failed}"
                f" (report: {self.data_docs_path})")

    def raise_for_failure(self) -> None:
        if not self.success:
            raise GateFailed(self.summary())


# The one helper the checks need: run a query text and return its (location, n, detail, breach) rows. It runs with
# the caller's rights (SECURITY INVOKER), so the validator gains nothing by calling it.
RUNNER_DDL = """
create schema if not exists quality;
create or replace function quality.query_rows(query text)
returns table (location text, n bigint, detail text, breach boolean)
language plpgsql stable security invoker as $f$
begin
    return query execute query;
end
$f$;
grant usage on schema quality to ipb_validator;
grant execute on function quality.query_rows(text) to ipb_validator;
"""


def prepare() -> None:
    """Before validating: the check runner exists, and the validator may read the build it is about to check
    (dbt grants the build only to analysts and the IG lead)."""
    with db.connect(role=db.TRANSFORMER) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('ipb.quality.prepare'))")
        conn.execute(RUNNER_DDL)
        restricted = conn.execute(
            "select pg_has_role(nspowner, 'usage') from pg_namespace where nspname = 'restricted'").fetchone()
        if restricted and restricted[0]:
            # Usage only: the validator reads the validation views dbt grants it, no other restricted table.
            conn.execute("grant usage on schema restricted to ipb_validator")
        for schema in ("build_marts", "build_reports"):
            owned = conn.execute(
                "select pg_has_role(nspowner, 'usage') from pg_namespace where nspname = %s", (schema,)
            ).fetchone()
            if not owned or not owned[0]:
                continue  # missing or not ours: the "tables built and readable" check reports it
            ident = sql.Identifier(schema)
            conn.execute(sql.SQL("grant usage on schema {} to ipb_validator").format(ident))
            conn.execute(sql.SQL("grant select on all tables in schema {} to ipb_validator").format(ident))
        conn.commit()


def _errors(exception_info: dict | None) -> list[str]:
    """Exception messages of a result: GX keys them by metric when a metric failed, or puts one at the top."""
    if not exception_info:
        return []
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    return [str(i.get("exception_message") or "") for i in infos if isinstance(i, dict) and i.get("raised_exception")]


def _error_type(message: str) -> str:
    """`(psycopg.errors.UndefinedTable) relation ... does not exist` -> `psycopg.errors.UndefinedTable`: a database
    message may quote a value, its type never does."""
    match = re.match(r"\(([\w.]+)\)", message)
    return match.group(1) if match else "error"


def _scrub(context, checkpoint_result) -> None:
    """Replace the message and traceback of a check that raised with its error type, in the stored result too."""
    for key, vr in checkpoint_result.run_results.items():
        changed = False
        for er in vr.results:
            errors = _errors(er.exception_info)
            if errors:
                kind = _error_type(errors[0])
                er.exception_info = {"raised_exception": True, "exception_traceback": "(not kept: it may quote data)",
                                     "exception_message": f"the check's query failed ({kind}); see the gate's log"}
                changed = True
        if changed:
            context.validation_results_store.set(key, vr)


def _outcomes(checkpoint_name: str, result) -> CheckpointOutcome:
    from ipb.quality.expectation import summarise

    out = CheckpointOutcome(checkpoint=checkpoint_name, success=bool(result.success))
    for vr in result.run_results.values():
        for er in vr.results:
            cfg = er.expectation_config
            res = er.result or {}
            errors = _errors(er.exception_info)
            if errors:
                observed = f"error: the check could not run ({_error_type(errors[0])})"
                log.error("check %r could not run: %s", cfg.description, _error_type(errors[0]))
            else:
                observed = summarise(res)
            out.checks.append(CheckOutcome(
                suite=(cfg.meta or {}).get("suite", ""),
                expectation=cfg.type,
                check_name=cfg.description or cfg.type,
                success=bool(er.success) and not errors,
                element_count=(res.get("details") or {}).get("rows_returned"),
                unexpected_count=(res.get("details") or {}).get("breach_count"),
                observed=observed,
                check_key=(cfg.meta or {}).get("check_key", ""),
            ))
    out.success = out.success and all(c.success for c in out.checks)
    return out


def run_gate(run_id: str) -> GateResult:
    """Validate the build of night `run_id` (raw/audit, integration views, build_marts, build_reports)."""
    from great_expectations.core.run_identifier import RunIdentifier

    from ipb.quality import audit, context, docs, settings

    s = config.load()
    cfg = settings.load(s.expectations_dir)
    prepare()
    ctx = context.get_context(s)
    checkpoints = context.register(ctx, cfg)
    run_time = datetime.now(UTC)
    batches_before = audit.current_batches()
    # The checkpoints read different tables and wait on the warehouse, not on Python: run side by side. At national
    # scale the raw row rules and the analyst tables' identifier scans take about as long as each other, the batch
    # log checks about half that (25 s to 17 s for the gate, against the raw suites as one checkpoint).
    with ThreadPoolExecutor(max_workers=len(checkpoints), thread_name_prefix="gx-checkpoint") as pool:
        runs = {name: pool.submit(cp.run, run_id=RunIdentifier(run_name=run_id, run_time=run_time))
                for name, cp in checkpoints.items()}
        results = {name: future.result() for name, future in runs.items()}
    outcomes = []
    for name, result in results.items():
        outcomes.append(_outcomes(name, result))
        _scrub(ctx, result)
    context.prune_results(ctx, int(cfg.thresholds.get("keep_validation_results", 90)))
    ctx.build_data_docs(site_names=[context.SITE])
    latest = docs.write_latest(context.data_docs_dir(s), run_id, run_time, outcomes)
    audit.record(run_id, outcomes, str(latest))
    audit.record_checked_batches(run_id, outcomes, batches_before)
    failed = [c.check_name for o in outcomes for c in o.failed]
    result = GateResult(
        run_id=run_id,
        success=all(o.success for o in outcomes),
        failed_checks=failed,
        evaluated=sum(len(o.checks) for o in outcomes),
        failed=sum(len(o.failed) for o in outcomes),
        data_docs_path=latest,
        checkpoints=outcomes,
    )
    log.info(result.summary())
    return result
