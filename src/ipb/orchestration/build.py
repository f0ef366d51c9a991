"""What the warehouse build's own tasks do (the dbt tasks are Cosmos's)."""

from __future__ import annotations

import logging
import shutil

from ipb import config, db, feeds

log = logging.getLogger(__name__)


def check_feeds(run_id: str, night: str) -> dict:
    """Which feeds loaded tonight, and which the build will take from their last good snapshot. Recorded in
    audit.pipeline_events so that the summary and the IG lead see it."""
    with db.connect(role=db.TRANSFORMER) as conn:
        latest = dict(conn.execute(
            "select feed, max(extract_date)::text from audit.batches where status = 'loaded' group by feed"
        ).fetchall())
        tonight = {
            feed: bool(conn.execute(
                "select 1 from audit.batches where feed = %s and status = 'loaded' and extract_date = %s::date",
                (feed, night)).fetchone())
            for feed in feeds.FEEDS
        }
        stale = [f for f, ok in tonight.items() if not ok]
        detail = "all feeds fresh" if not stale else "built on last good snapshot for: " + ", ".join(
            f"{f} (latest extract {latest.get(f) or 'none'})" for f in stale)
        with db.connect(role=db.LOADER) as loader:
            loader.execute(
                "insert into audit.pipeline_events (run_id, dag_id, task_id, event, detail)"
                " values (%s, 'build_warehouse', 'check_feeds', %s, %s)",
                (run_id, "feeds_stale" if stale else "feeds_fresh", detail),
            )
    if stale:
        log.warning(detail)
    return {"fresh": [f for f, ok in tonight.items() if ok], "stale": stale, "detail": detail}


def gate(run_id: str) -> dict:
    from ipb.quality.gate import run_gate

    result = run_gate(run_id)
    log.info(result.summary())
    result.raise_for_failure()
    return {"success": result.success, "evaluated": result.evaluated, "failed": result.failed,
            "data_docs": str(result.data_docs_path)}


def publish(run_id: str) -> dict:
    from ipb.publish import publish as do_publish

    do_publish(run_id)
    return {"published": True}


DOCS_FINGERPRINT = "fingerprint.txt"


def docs_fingerprint(settings: config.Settings) -> str:
    """What the docs depend on: the dbt project's files, the dbt version and the warehouse database. Column
    types follow from the project (marts are contracted), so the same fingerprint means the same documentation."""
    import hashlib

    from dbt.version import __version__ as dbt_version

    project = settings.dbt_project_dir
    from urllib.parse import urlsplit

    # Which warehouse (never its password): the catalog documents that database's relations.
    where = urlsplit(settings.external_url) if settings.external_url else None
    warehouse = (f"{where.hostname}:{where.port}{where.path}" if where
                 else f"embedded:{settings.port}/{settings.database}")
    sha = hashlib.sha256(f"{dbt_version}|{warehouse}".encode())
    files = [p for folder in ("models", "macros", "seeds", "snapshots", "tests", "docs")
             for p in (project / folder).rglob("*") if p.is_file()]
    files += [project / n for n in ("dbt_project.yml", "packages.yml") if (project / n).exists()]
    for path in sorted(files):
        sha.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def dbt_docs() -> str:
    """`dbt docs generate` into the outputs folder (the catalog holds column names and types, not values).
    Skipped when the project is unchanged since the docs there were generated (about 8 s saved a night)."""
    from ipb.transform.dbt import run_dbt

    settings = config.load()
    out = settings.output_dir / "dbt_docs"
    fingerprint = docs_fingerprint(settings)
    stamp = out / DOCS_FINGERPRINT
    names = ("index.html", "manifest.json", "catalog.json")
    if stamp.exists() and stamp.read_text().strip() == fingerprint and all((out / n).exists() for n in names):
        log.info("dbt docs unchanged (same project): not regenerated")
        return str(out / "index.html")
    res = run_dbt(["docs", "generate", "--quiet"], settings)
    if not res.success:
        raise RuntimeError(f"dbt docs generate failed: {res.exception}")
    target = settings.dbt_project_dir / "target"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (target / name).exists():
            shutil.copy2(target / name, out / name)
    stamp.write_text(fingerprint + "\n")
    return str(out / "index.html")
