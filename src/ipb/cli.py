"""The `ipb` command: one front door for data engineers.

An expected fault (warehouse not running or unreachable, no pseudonym key, a missing folder, a failed dbt step)
ends the command with one line saying what is wrong and what to do, and a non-zero exit code; never a Python
traceback. `IPB_DEBUG=1` shows the full traceback (and, for `ipb run`, Airflow's and dbt's own console output).
Messages never quote row values: an unexpected error names its type and place, not its text (which may quote data).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from rich.markup import escape

from ipb import config, terminal
from ipb.terminal import DEBUG_ENV, console, debug_enabled, err


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame of the project's own code (or the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f"{os.sep}ipb{os.sep}" in f.filename or f"{os.sep}dags{os.sep}" in f.filename]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return "unknown place"
    parts = frame.filename.replace(os.sep, "/").split("/")
    short = "/".join(parts[parts.index("ipb"):]) if "ipb" in parts else parts[-1]
    return f"{short}:{frame.lineno}"


def _raised_by_us(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and f"{os.sep}ipb{os.sep}" in frames[-1].filename


def explain(exc: BaseException) -> tuple[str, int]:
    """One line for an exception that ended a command, and the exit code: what went wrong and what to do."""
    import subprocess

    from ipb import warehouse

    if isinstance(exc, config.ConfigError):
        return str(exc), 2
    if isinstance(exc, warehouse.WarehouseError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{first} (see `ipb warehouse status`)", 1
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        psycopg = None
    if psycopg is not None and isinstance(exc, psycopg.OperationalError):
        where = "the warehouse"
        try:
            settings = config.load()
            where = f"the warehouse at {warehouse.status(settings).where}"
            hint = "start it with `ipb warehouse start`" if settings.is_embedded else "check IPB_WAREHOUSE_URL"
        except Exception:  # noqa: BLE001 - the message is what matters here
            hint = "check `ipb warehouse status`"
        return f"lost or could not open a connection to {where}: {hint}, then run the command again.", 1
    if psycopg is not None and isinstance(exc, psycopg.Error):
        state = getattr(getattr(exc, "diag", None), "sqlstate", None) or "?"
        return (f"the warehouse refused a statement ({type(exc).__name__}, SQLSTATE {state}) at {_where(exc)}; "
                f"its text is not shown because it can quote row values. Run again with {DEBUG_ENV}=1 on a "
                f"secure terminal for the details."), 1
    if isinstance(exc, subprocess.CalledProcessError):
        cmd = exc.cmd if isinstance(exc.cmd, str) else " ".join(str(c) for c in exc.cmd[1:4])
        return f"`{cmd}` failed with exit code {exc.returncode}; run again with {DEBUG_ENV}=1 for its output.", 1
    if isinstance(exc, OSError) and exc.filename and not isinstance(exc, ConnectionError):
        return f"{exc.strerror or type(exc).__name__}: {exc.filename}", 1
    if isinstance(exc, (RuntimeError, ValueError, OSError)) and _raised_by_us(exc) and str(exc).strip():
        # The project's own messages (e.g. "dbt parse failed: ...", "no records.csv in ...") quote no row values.
        return str(exc).strip().splitlines()[0][:500], 1
    return (f"unexpected {type(exc).__name__} at {_where(exc)} (its message is not shown: it may quote data). "
            f"Run again with {DEBUG_ENV}=1 on a secure terminal for the traceback."), 1


class _App(typer.Typer):
    """Typer with one clear line instead of a traceback for faults (tracebacks with IPB_DEBUG=1)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if debug_enabled():
                raise
            message, code = explain(exc)
            if terminal.stderr_is_run_log:
                # Inside `ipb run`'s worker the process's own stderr is the run log: the traceback goes there.
                traceback.print_exc(file=sys.stderr)
            err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}")
            sys.exit(code)


app = _App(help="Integrated personal budgets warehouse.", no_args_is_help=True, add_completion=False,
           pretty_exceptions_enable=False)
warehouse_app = typer.Typer(help="Start, stop and locate the warehouse PostgreSQL.", no_args_is_help=True)
app.add_typer(warehouse_app, name="warehouse")


def _fail(message: str, code: int = 1) -> None:
    """One line (a server's multi-line message joined), never read as markup."""
    err.print(f"[red]error:[/red] {escape(' '.join(message.split()))}")
    raise typer.Exit(code)


@warehouse_app.command("start")
def warehouse_start() -> None:
    """Start the warehouse (harmless when it already runs)."""
    from ipb import warehouse

    try:
        st = warehouse.start(config.load())
    except (warehouse.WarehouseError, config.ConfigError) as exc:
        _fail(str(exc))
    console.print(f"warehouse running at {st.where} ({st.detail})", markup=False)


@warehouse_app.command("stop")
def warehouse_stop() -> None:
    """Stop the embedded warehouse."""
    from ipb import warehouse

    try:
        st = warehouse.stop(config.load())
    except warehouse.WarehouseError as exc:
        _fail(str(exc))
    console.print(f"warehouse stopped ({st.detail})" if not st.running else f"warehouse: {st.detail}", markup=False)


@warehouse_app.command("status")
def warehouse_status() -> None:
    """Say whether the warehouse runs and where (exit 1 when it does not)."""
    from ipb import warehouse

    st = warehouse.status(config.load())
    console.print(f"warehouse {'running' if st.running else 'not running'} at {st.where} ({st.detail})", markup=False)
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
app.add_typer(__import__("ipb.orchestration.airflow_local", fromlist=["app"]).app, name="airflow")


from ipb.quality.report import report  # noqa: E402

app.command("report")(report)


app.command("linkage-quality")(__import__("ipb.transform.cli", fromlist=["cli"]).linkage_quality)
app.add_typer(__import__("ipb.linkage.cli", fromlist=["app"]).app, name="linkage")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    # `python -m ipb.cli`: run the package's own module (not this __main__ copy), so that the commands and the
    # error handler share one set of consoles.
    from ipb.cli import main as _main

    _main()
