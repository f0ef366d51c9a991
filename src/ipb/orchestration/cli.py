"""`ipb run` (one night through Airflow) and `ipb demo` (what `make run` shows: two generated nights)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _say(msg: str) -> None:
    console.print(f"[dim]…[/dim] {msg}")


def _run_and_report(night: date, landing: Path | None, title: str) -> bool:
    from ipb.orchestration import summary
    from ipb.orchestration.night import run_night

    result = run_night(night, landing, progress=_say)
    build_run = None
    try:
        from airflow.models.dagrun import DagRun

        runs = DagRun.find(dag_id="build_warehouse")
        build_run = max(runs, key=lambda r: r.start_date or r.run_after).run_id if runs else None
    except Exception:  # noqa: BLE001 - the summary still reads the audit without the run id
        build_run = None
    s = summary.collect(result.started_at, build_run)
    console.print(summary.render(s, title, result.seconds, result.build_trigger))
    states = ", ".join(f"{k} {v}" for k, v in result.dag_states.items())
    console.print(f"dag runs:     {states}")
    return result.success


def run(
    night: str = typer.Option(None, "--date", help="the night's logical date, YYYY-MM-DD (default: yesterday)"),
    landing: Path = typer.Option(None, "--landing", help="the night's folder of landed files"),
) -> None:
    """Run one whole night locally through Airflow: ingest the three feeds, build, gate, publish, report."""
    from ipb import config

    d = date.fromisoformat(night) if night else date.today() - timedelta(days=1)
    try:
        ok = _run_and_report(d, landing, f"night {d.isoformat()}")
    except config.ConfigError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    if not ok:
        raise typer.Exit(1)


def demo(
    people: int = typer.Option(3000, help="synthetic people in the sample world"),
    seed: int = typer.Option(20261122, help="generator seed (same seed, same world)"),
    first_night: str = typer.Option("2026-11-22", help="the first night's date"),
) -> None:
    """Generate a sample night and run it, then the next day's (about 1% changed) as an incremental night."""
    from ipb import config
    from ipb.generate import generate_night

    settings = config.load()
    d1 = date.fromisoformat(first_night)
    ok = True
    for i, night in enumerate((d1, d1 + timedelta(days=1))):
        folder = settings.landing_dir / night.isoformat()
        _say(f"generating {people:,} synthetic people's feeds for {night.isoformat()} into {folder}")
        generate_night(night, people, folder, seed=seed)
        title = f"night {night.isoformat()}" + (" (next day, incremental)" if i else "")
        ok = _run_and_report(night, folder, title) and ok
    if not ok:
        raise typer.Exit(1)


def prepare() -> None:
    """Build-time preparation: the dbt manifest that Cosmos renders the warehouse DAG from."""
    from ipb.orchestration.manifest import ensure_manifest

    console.print(f"dbt manifest ready: {ensure_manifest()}")
