"""`ipb linkage-quality --truth DIR`: precision and recall of the linkage against the generator's truth."""

from __future__ import annotations

from pathlib import Path

import typer


def linkage_quality(
    truth: Path = typer.Option(..., "--truth", exists=True, file_okay=False, help="the generator's --truth folder"),
) -> None:
    """Print pairwise precision/recall per linkage rule and overall, and per hard-case class (goal: precision >=
    99.95%, recall of the pairs the rules may link >= 99.5%, no false merge among the hard cases). Exit 1 when the
    goal is missed or no record of the truth is in the person index."""
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
    console.print(f"recall of the {q.linkable_pairs:,} true pairs the rules may link: {q.linkable_recall:.4%}"
                  f" (the goal); of all true pairs: {q.recall:.4%}, at best {q.best_recall:.4%} (the rest join a"
                  " record without names to records sharing no identifier with it: docs/linkage.md)")
    if q.hard_cases:
        hard = Table(title="Hard cases (generator's hard_cases.csv)")
        for col in ("case class", "records", "false merges", "recall"):
            hard.add_column(col, justify="left" if col == "case class" else "right")
        for h in q.hard_cases.values():
            hard.add_row(h.case_class, f"{h.records:,}", f"{h.false_merges:,}", f"{h.recall:.4%}",
                         style="bold red" if h.false_merges else None)
        console.print(hard)
    ok = q.meets_goal()
    if not q.compared_records:
        console.print("no record of the truth is in the person index: nothing was compared (wrong --truth folder,"
                      " or the night was not built)")
    console.print("goal met" if ok else "goal NOT met (precision >= 99.95%, recall of the linkable pairs >= 99.5%,"
                  " no false merge among the hard cases)")
    if not ok:
        raise typer.Exit(1)
