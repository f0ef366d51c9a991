"""`ipb load FEED FILE`: the ingestion DAG's load, as a command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def load(
    feed: str = typer.Argument(..., help="nhs_phb, social_care, send, send_budget or national_opt_out"),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="the landed file: CSV, or the SEN2 XML return for send"),
) -> None:
    """Load one file into raw. Exit 0 when accepted (even with quarantined rows or persons), 1 when the file is
    rejected."""
    from ipb import config, feeds
    from ipb.ingest import load_file

    if feed not in feeds.LOADABLE:
        err.print(escape(f"error: unknown feed {feed!r}; expected one of {', '.join(sorted(feeds.LOADABLE))}"))
        raise typer.Exit(2)
    try:
        result = load_file(feed, file)
    except config.ConfigError as exc:
        err.print(f"error: {escape(str(exc))}")
        raise typer.Exit(2) from None
    if result.status == "rejected":
        # File names and headers come from senders: printed as they are, never read as Rich markup.
        err.print(f"rejected {result.file_name}: {result.reason_code}: {result.reason}", markup=False)
        raise typer.Exit(1)
    table = Table(title=escape(f"{result.file_name}: {result.status} (batch {result.batch_id})"), show_header=False)
    # SEN2's unit is a Person element (one raw row each).
    unit = "persons" if feed == "send" else "rows"
    table.add_row(f"{unit} in file", str(result.rows_in_file))
    table.add_row(f"{unit} loaded", str(result.rows_loaded))
    table.add_row(f"{unit} quarantined", str(result.rows_quarantined))
    if result.rows_set_aside:
        table.add_row("of loaded, set aside (not Service events)", str(result.rows_set_aside))
    for code, n in result.quarantine_reasons.items():
        table.add_row(escape(f"  quarantined: {code}"), str(n))
    if result.status == "duplicate":
        table.add_row("note", escape(result.reason or ""))
    console.print(table)
