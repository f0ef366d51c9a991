"""The `ipb` command: one front door for data engineers."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ipb import config

app = typer.Typer(help="Integrated personal budgets warehouse.", no_args_is_help=True, add_completion=False)
warehouse_app = typer.Typer(help="Start, stop and locate the warehouse PostgreSQL.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")
console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the warehouse (harmless when it already runs)."""
    from ipb import warehouse

    try:
        st = warehouse.start(config.load())
    except (warehouse.WarehouseError, config.ConfigError) as exc:
        _fail(str(exc))
    console.print(f"warehouse running at {st.where} ({st.detail})")


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded warehouse."""
    from ipb import warehouse

    try:
        st = warehouse.stop(config.load())
    except warehouse.WarehouseError as exc:
        _fail(str(exc))
    console.print(f"warehouse stopped ({st.detail})" if not st.running else f"warehouse: {st.detail}")


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Say whether the warehouse runs and where (exit 1 when it does not)."""
    from ipb import warehouse

    st = warehouse.status(config.load())
    console.print(f"warehouse {'running' if st.running else 'not running'} at {st.where} ({st.detail})")
    if not st.running:
        raise typer.Exit(1)


@warehouse_app.command("url")
def warehouse_url() -> None:
    """Print the connection URL (for psql, dbt, GX). It carries the local password: do not paste it."""
    from ipb import warehouse

    print(warehouse.url(config.load()))


from ipb.ingest.cli import load  # noqa: E402
from ipb.orchestration.cli import demo, prepare, run  # noqa: E402

app.command("load")(load)
from ipb.generate.cli import generate  # noqa: E402

app.command("generate")(generate)
app.command("run")(run)
app.command("demo")(demo)
app.command("prepare")(prepare)


from ipb.quality.report import report  # noqa: E402

app.command("report")(report)


app.command("linkage-quality")(__import__("ipb.transform.cli", fromlist=["cli"]).linkage_quality)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
