"""`ipb linkage-quality --truth DIR`: precision and recall of the linkage against the generator's truth."""

from __future__ import annotations

from pathlib import Path

import typer


def linkage_quality(
    truth: Path = typer.Option(..., "--truth", exists=True, file_okay=False, help="the generator's --truth folder"),
) -> None:
    """Print pairwise precision/recall per linkage rule and overall (goal: precision >= 99.95%, recall >= 99.5%).
    Exit 1 when the goal is missed or no record of the truth is in the person index."""
    from rich.console import Console
    from rich.table import Table

    from ipb.transform.linkage_quality import linkage_quality as measure

    q = measure(truth)
    table = Table(title="Linkage quality (pairwise)")
    for col in ("rule", "records", "precision", "recall"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for r in q.rules.values():
        table.add_row(r.rule, f"{r.records:,}", f"{r.precision:.4%}", f"{r.recall:.4%}")
    table.add_row("overall", f"{q.compared_records:,}", f"{q.precision:.4%}", f"{q.recall:.4%}", style="bold")
    console = Console(highlight=False)
    console.print(table)
    console.print(
        f"pairs: predicted {q.predicted_pairs:,}, true {q.true_pairs:,}, correct {q.correct_pairs:,}; "
        f"truth rows not in the index (quarantined/rejected/not current): {q.unmatched_truth_rows:,}"
    )
    console.print(f"recall of the {q.linkable_pairs:,} true pairs the rules can link at all: {q.linkable_recall:.4%}")
    ok = q.meets_goal()
    if not q.compared_records:
        console.print("no record of the truth is in the person index: nothing was compared (wrong --truth folder,"
                      " or the night was not built)")
    console.print("goal met" if ok else "goal NOT met (precision >= 99.95%, recall >= 99.5%)")
    if not ok:
        raise typer.Exit(1)
