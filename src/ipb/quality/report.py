"""`ipb report`: where the IG lead's outputs are, and the latest gate decision, read from the audit schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ipb import config, db


@dataclass
class LatestRun:
    run_id: str
    validated_at: str
    checkpoints: list[tuple[str, bool, int, int, str]]  # name, success, evaluated, failed, decision
    failed_checks: list[tuple[str, str, str]]  # checkpoint, check name, observed (locations and counts)

    @property
    def success(self) -> bool:
        return all(c[1] for c in self.checkpoints)


def latest_run() -> LatestRun | None:
    """The most recent gate run (its latest attempt per checkpoint), read as the IG lead."""
    with db.connect(role="ipb_ig_lead") as conn:
        head = conn.execute(
            "select run_id from audit.validation_runs order by validated_at desc, validation_run_id desc limit 1"
        ).fetchone()
        if head is None:
            return None
        rows = conn.execute(
            """select distinct on (checkpoint) validation_run_id, checkpoint, success, expectations_evaluated,
                   expectations_failed, decision, validated_at
               from audit.validation_runs where run_id = %s
               order by checkpoint, validated_at desc, validation_run_id desc""",
            (head[0],),
        ).fetchall()
        failed = conn.execute(
            """select r.checkpoint, v.check_name, coalesce(v.observed, '')
               from audit.validation_results as v join audit.validation_runs as r using (validation_run_id)
               where v.validation_run_id = any(%s) and not v.success order by r.checkpoint, v.check_name""",
            ([r[0] for r in rows],),
        ).fetchall()
    return LatestRun(
        run_id=head[0],
        validated_at=str(max(r[6] for r in rows)),
        checkpoints=[(r[1], r[2], r[3], r[4], r[5]) for r in rows],
        failed_checks=[(f[0], f[1], f[2]) for f in failed],
    )


def locations(settings: config.Settings | None = None) -> dict[str, Path]:
    out = (settings or config.load()).output_dir
    return {
        "validation report (latest run)": out / "data_docs" / "latest.html",
        "Data Docs (all runs)": out / "data_docs" / "index.html",
        "dbt docs": out / "dbt_docs" / "index.html",
        "published outputs": out / "published",
    }


def render() -> list[str]:
    lines = []
    for label, path in locations().items():
        lines.append(f"{label}: {path}" + ("" if path.exists() else "  (not built yet)"))
    run = latest_run()
    if run is None:
        lines.append("latest validation run: none recorded yet")
        return lines
    verdict = "PASSED" if run.success else "FAILED"
    lines.append(f"latest validation run: {run.run_id} at {run.validated_at}: {verdict}")
    for name, success, evaluated, failed, decision in run.checkpoints:
        lines.append(f"  {name}: {'passed' if success else 'failed'} ({evaluated - failed}/{evaluated} checks), "
                     f"decision {decision}")
    for checkpoint, check, observed in run.failed_checks:
        lines.append(f"  FAILED {check} ({checkpoint}): {observed}")
    return lines


def report() -> None:
    """Where the latest Data Docs, dbt docs and published outputs are, and the latest gate decision."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for line in render():
        console.print(line, markup=False)
