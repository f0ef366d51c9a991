"""`ipb linkage run` (the nightly task by hand) and `ipb linkage train --truth DIR` (write model.json)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Person linkage (docs/linkage.md)", no_args_is_help=True)


@app.command("run")
def run() -> None:
    """Link tonight's int_person_records and swap the linkage tables in (after `dbt build` of the link input)."""
    from ipb.linkage import run_linkage

    typer.echo(run_linkage().summary())


@app.command("train")
def train(
    truth: Path = typer.Option(..., "--truth", exists=True, file_okay=False, help="the generator's --truth folder"),
    link: float = typer.Option(None, "--link", help="link threshold (match weight); default: keep the current"),
    review: float = typer.Option(None, "--review", help="review threshold; default: keep the current"),
) -> None:
    """Estimate m and u from a built night and its truth and write src/ipb/linkage/model.json for review."""
    from ipb.linkage.train import train as do_train

    out = do_train(truth, link, review)
    typer.echo(f"model written: {out['version']} ({out['profiles']:,} profiles, {out['true_pairs']:,} true pairs,"
               f" prior {out['prior']:.3g}); review the diff of model.json before committing it")
