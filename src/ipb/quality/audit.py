"""The gate's trail in the audit schema (IG.md promise 7), written as ipb_transformer (GX itself only reads)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ipb import db


@dataclass
class CheckOutcome:
    suite: str
    expectation: str
    check_name: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    observed: str
    check_key: str = ""  # ipb.quality.checks.Check.key, from the expectation's meta


@dataclass
class CheckpointOutcome:
    checkpoint: str
    success: bool
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.success]


def record(run_id: str, outcomes: list[CheckpointOutcome], data_docs_path: str, published: bool = False) -> None:
    """One audit.validation_runs row per checkpoint and one audit.validation_results row per check."""
    decision = "approved" if all(o.success for o in outcomes) else "blocked"
    with db.connect(role=db.TRANSFORMER) as conn:
        for o in outcomes:
            run_pk = conn.execute(
                """insert into audit.validation_runs (run_id, checkpoint, success, expectations_evaluated,
                       expectations_failed, published, decision, data_docs_path)
                   values (%s, %s, %s, %s, %s, %s, %s, %s) returning validation_run_id""",
                (run_id, o.checkpoint, o.success, len(o.checks), len(o.failed), published, decision, data_docs_path),
            ).fetchone()[0]
            with conn.cursor() as cur:
                cur.executemany(
                    """insert into audit.validation_results (validation_run_id, suite, expectation, check_name,
                           success, element_count, unexpected_count, observed)
                       values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    [(run_pk, c.suite, c.expectation, c.check_name, c.success, c.element_count, c.unexpected_count,
                      c.observed[:4000]) for c in o.checks],
                )
        conn.commit()


def mark_published(run_id: str, conn) -> int:
    """Within the publication transaction: the run's rows now say published. Returns rows updated."""
    cur = conn.execute(
        """update audit.validation_runs set published = true, decision = 'published'
           where validation_run_id in (
               select distinct on (checkpoint) validation_run_id from audit.validation_runs where run_id = %s
               order by checkpoint, validated_at desc, validation_run_id desc)""",
        (run_id,),
    )
    return cur.rowcount


def current_batches() -> dict[int, str]:
    """batch id -> feed of every sender's current snapshot (audit.current_batches)."""
    with db.connect(role=db.TRANSFORMER) as conn:
        return dict(conn.execute("select batch_id, feed from audit.current_batches").fetchall())


def record_checked_batches(run_id: str, outcomes: list[CheckpointOutcome], before: dict[int, str]) -> int:
    """For each raw-row check that passed: the current batches it checked, with its rules' fingerprint, so that the
    next gate checks only the rows of a new batch that differ from them. Only batches current both before and after
    the checks count (a file loaded meanwhile was not necessarily checked). Returns the rows recorded."""
    from ipb.quality import checks

    passed = {c.check_key for o in outcomes for c in o.checks if c.success}
    still_current = {b: f for b, f in current_batches().items() if before.get(b) == f}
    rows = [
        (key, checks.rules_fingerprint(feed, rules[feed]), batch_id, run_id)
        for key, rules in checks.raw_row_checks().items() if key in passed
        for batch_id, feed in sorted(still_current.items()) if feed in rules
    ]
    with db.connect(role=db.TRANSFORMER) as conn, conn.cursor() as cur:
        cur.executemany(
            """insert into audit.gate_checked_batches (check_key, rules_fingerprint, batch_id, run_id)
               values (%s, %s, %s, %s) on conflict do nothing""",
            rows,
        )
        conn.commit()
    return len(rows)
