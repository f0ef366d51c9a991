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


def load_reference_data() -> str:
    """All seeds in one dbt invocation (one task each would cost a dbt start-up per small CSV)."""
    from ipb.transform.dbt import run_dbt

    res = run_dbt(["seed", "--quiet"])
    if not res.success:
        raise RuntimeError(f"dbt seed failed: {res.exception or 'see the dbt log'}")
    return "reference data loaded"


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


def dbt_docs() -> str:
    """`dbt docs generate` into the outputs folder (the catalog holds column names and types, not values)."""
    from ipb.transform.dbt import run_dbt

    settings = config.load()
    res = run_dbt(["docs", "generate", "--quiet"], settings)
    if not res.success:
        raise RuntimeError(f"dbt docs generate failed: {res.exception}")
    target = settings.dbt_project_dir / "target"
    out = settings.output_dir / "dbt_docs"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "manifest.json", "catalog.json"):
        if (target / name).exists():
            shutil.copy2(target / name, out / name)
    return str(out / "index.html")
