"""The dbt manifest Cosmos renders the warehouse DAG from, prepared at build time (`make setup`, `ipb run`),
so that parsing a DAG never runs dbt."""

from __future__ import annotations

from pathlib import Path

from ipb import config


def manifest_path(settings: config.Settings | None = None) -> Path:
    return (settings or config.load()).dbt_project_dir / "target" / "manifest.json"


def _newest_source(project: Path) -> float:
    newest = 0.0
    for folder in ("models", "macros", "seeds", "snapshots", "tests"):
        for p in (project / folder).rglob("*"):
            if p.is_file():
                newest = max(newest, p.stat().st_mtime)
    for name in ("dbt_project.yml", "packages.yml"):
        if (project / name).exists():
            newest = max(newest, (project / name).stat().st_mtime)
    return newest


def ensure_manifest(force: bool = False) -> Path:
    """`dbt parse` when the manifest is missing or older than any project file. No database needed."""
    from ipb.transform.dbt import run_dbt

    settings = config.load()
    path = manifest_path(settings)
    if not force and path.exists() and path.stat().st_mtime >= _newest_source(settings.dbt_project_dir):
        return path
    # Parsing needs the profile's variables but never the pseudonym key (image builds have none).
    res = run_dbt(["parse", "--quiet"], settings, with_key=False)
    if not res.success:
        raise RuntimeError(f"dbt parse failed: {res.exception}")
    return path
