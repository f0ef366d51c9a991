"""`ipb generate`: a synthetic night of feeds (and its truth). Imports nothing heavy until it runs."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def generate(
    date: str = typer.Option(..., "--date", help="extract date, YYYY-MM-DD"),
    people: int = typer.Option(..., "--people", help="population size; 1270000 = national (~200k/850k/580k rows)"),
    out: Path = typer.Option(..., "--out", help="landing folder to write the night's files into"),
    seed: int = typer.Option(1, "--seed", help="same seed and arguments give byte-identical files"),
    defects: float = typer.Option(0.0, "--defects", help="rate of EACH row defect class; >0 adds file defects"),
    truth: Path | None = typer.Option(None, "--truth", help="folder for the answer key (not the landing folder)"),
    hard_cases: bool = typer.Option(True, "--hard-cases/--no-hard-cases",
                                    help="linkage hard cases (twins, wrong NHS numbers, ...), listed in the truth"),
) -> None:
    """Generate one night of nhs_phb, social_care (CLD), send (SEN2 XML) and send_budget files plus the national
    opt-out list."""
    from rich.console import Console
    from rich.markup import escape

    from ipb.generate.night import GenerateError, generate_night
    from ipb.generate.params import Params

    console = Console(highlight=False, soft_wrap=True)
    try:
        params = Params() if hard_cases else Params(twin=0.0, hard_case=0.0, many_events=0.0)
        s = generate_night(date, people, out, seed=seed, defects=defects, truth_dir=truth, params=params)
    except GenerateError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    console.print(f"wrote {len(s.files)} files to {s.out_dir}: " + ", ".join(f"{k} {v} rows" for k, v in s.rows.items())
                  + f", {s.opted_out} opted out", markup=False)
    if s.row_defects or s.file_defects:
        console.print(f"defects: {sum(s.row_defects.values())} rows in {len(s.row_defects)} classes, "
                      f"{len(s.file_defects)} file-level")
    if s.truth_dir:
        console.print(f"truth in {s.truth_dir}", markup=False)
    print(json.dumps({"rows": s.rows, "files": len(s.files), "row_defects": sum(s.row_defects.values()),
                      "hard_cases": sum(s.hard_cases.values())}))
