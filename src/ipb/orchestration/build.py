"""What the warehouse build's own tasks do (the dbt tasks are Cosmos's), and the night's build in its three steps
for every driver outside Airflow (bench/, tests): dbt before linkage, the linkage task, dbt after linkage."""

from __future__ import annotations

import logging
import shutil

from psycopg import sql

from ipb import config, db, feeds

log = logging.getLogger(__name__)


TIMEZONE = "Europe/London"

# The night's dbt in two parts around the linkage task (docs/linkage.md): seeds, staging and the link input
# int_person_records first; everything else after (the person layer reads the linkage tables as sources). With
# cautious indirect selection on both sides a test runs with the part that builds all it reads, so the two parts
# split the project's nodes exactly (none lost, none twice). As keyword arguments of Cosmos's DbtBuildLocalOperator.
LINK_INPUT = "+int_person_records"
DBT_BEFORE_LINKAGE: dict = {"select": LINK_INPUT, "indirect_selection": "cautious"}
DBT_AFTER_LINKAGE: dict = {"exclude": LINK_INPUT, "indirect_selection": "cautious"}


def dbt_args(part: dict) -> list[str]:
    """A part's selection as dbt command-line arguments (for run_dbt)."""
    args = []
    for key in ("select", "exclude"):
        if part.get(key):
            args += [f"--{key}", part[key]]
    return [*args, "--indirect-selection", part["indirect_selection"]]


def link_people() -> dict:
    """The linkage task: int_person_records -> people, conflicts and review list (restricted). Counts only."""
    from ipb.linkage import run_linkage

    r = run_linkage()
    return {"records": r.records, "people": r.people, "comparisons": r.comparisons, "by_rule": r.by_rule,
            "conflicts": r.conflicts, "review": r.review, "seconds": r.seconds}


def run_build(extra: list[str] | None = None, settings: config.Settings | None = None):
    """build_models for tests and scripts that check dbt's result themselves: returns the first failing dbt step's
    DbtResult, else the last one's (the linkage task raises on its own failure)."""
    from ipb.transform.dbt import run_dbt

    results = []

    def run(args: list[str]):
        results.append(run_dbt(args, settings))
        return results[-1]

    try:
        build_models(extra, settings, run)
    except RuntimeError:
        if not results or results[-1].success:
            raise  # not a dbt step's failure
    return results[-1]


def build_models(extra: list[str] | None = None, settings: config.Settings | None = None, run=None) -> dict:
    """The whole dbt build of a night as build_warehouse runs it: dbt before linkage, the linkage task, dbt after.
    `extra` is added to both dbt commands (e.g. ["--quiet"], ["--target-path", dir]); `run` replaces run_dbt
    (same signature) for callers that time each invocation. Raises on the first failing step."""
    from ipb.transform.dbt import run_dbt

    run = run or (lambda args: run_dbt(args, settings))
    before = run(["build", *dbt_args(DBT_BEFORE_LINKAGE), *(extra or [])])
    if not getattr(before, "success", True):
        raise RuntimeError(f"dbt build (before linkage) failed: {getattr(before, 'exception', None) or 'see dbt log'}")
    linkage = link_people()
    after = run(["build", *dbt_args(DBT_AFTER_LINKAGE), *(extra or [])])
    if not getattr(after, "success", True):
        raise RuntimeError(f"dbt build (after linkage) failed: {getattr(after, 'exception', None) or 'see dbt log'}")
    return {"linkage": linkage}


def night_of(context) -> str:
    """The night a build run is for (YYYY-MM-DD). An asset-triggered run has no logical date (Airflow 3): its night
    is the latest one the triggering ingest runs loaded (each says so in its Asset event's extra); a scheduled or
    manual run's is its logical date's day in UK time; otherwise the day the run was queued for, in UK time."""
    import pendulum

    nights = []
    events = context.get("triggering_asset_events") or {}
    try:
        for batch in events.values():
            for event in batch:
                night = (getattr(event, "extra", None) or {}).get("night")
                if night:
                    nights.append(str(night))
    except Exception:  # noqa: BLE001 - the events are a convenience: fall back to the run's own dates
        nights = []
    if nights:
        return max(nights)
    when = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    if when is None:
        return pendulum.now(TIMEZONE).date().isoformat()
    return pendulum.instance(when).in_timezone(TIMEZONE).date().isoformat()


def _last_published_build_start(conn) -> object | None:
    """When the build that made the current publication started (its check_feeds event), or None."""
    row = conn.execute(
        "select min(e.recorded_at) from audit.pipeline_events e where e.task_id = 'check_feeds' and e.run_id ="
        " (select run_id from audit.validation_runs where published order by validation_run_id desc limit 1)"
    ).fetchone()
    return row[0] if row else None


def check_feeds(run_id: str, night: str, force: bool = False) -> dict | None:
    """Which feeds loaded tonight, and which the build will take from their last good snapshot; None (skip the
    build) when no feed has loaded anything since the build that made the current publication started (a deadline
    run after the asset-triggered build, or one on a fresh install before any file arrived): rebuilding the same
    data changes nothing. `force` builds anyway. Recorded in audit.pipeline_events so that the summary, `ipb
    airflow status` and the IG lead see it. Bootstraps the warehouse first (idempotent), so that a build that
    starts before any ingest on a fresh install finds its roles and audit schema."""
    db.bootstrap()
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
        since = _last_published_build_start(conn)
        # The feeds that loaded anything since then: new data to build, and the raw tables to analyze.
        loaded_since = [f for (f,) in conn.execute(
            "select distinct feed from audit.batches where status = 'loaded'"
            " and (%s::timestamptz is null or coalesce(loaded_at, started_at) >= %s::timestamptz) order by feed",
            (since, since)).fetchall()]
    new_data = bool(loaded_since)
    stale = [f for f, ok in tonight.items() if not ok]
    build = new_data or force
    if not build:
        event = "build_skipped"
        detail = (f"night {night}: no feed has loaded new data since the last publication: nothing to build"
                  if since else f"night {night}: no feed has loaded any data yet: nothing to build")
    else:
        event = "feeds_stale" if stale else "feeds_fresh"
        detail = "all feeds fresh" if not stale else "built on last good snapshot for: " + ", ".join(
            f"{f} (latest extract {latest.get(f) or 'none'})" for f in stale)
        if force and not new_data:
            detail += " (forced: no new data)"
    with db.connect(role=db.LOADER) as loader:
        loader.execute(
            "insert into audit.pipeline_events (run_id, dag_id, task_id, event, detail)"
            " values (%s, 'build_warehouse', 'check_feeds', %s, %s)",
            (run_id, event, detail),
        )
    (log.warning if build and stale else log.info)(detail)
    if not build:
        return None
    analyze_raw(loaded_since)
    return {"night": night, "fresh": [f for f, ok in tonight.items() if ok], "stale": stale, "detail": detail}


def analyze_raw(tables: list[str]) -> None:
    """Fresh planner statistics for the raw tables that loaded since the last build, before dbt reads them.
    Autoanalyze gets to a table that just took a million rows only after its naptime, often while the staging model
    reading it is already running on a plan made without them (stg_social_care__events: 31 s against 15 s at
    national scale). About 1.5 s for the four feeds at national scale; run as their owner, the loader."""
    known = [t for t in tables if t in feeds.LOADABLE]
    if not known:
        return
    with db.connect(role=db.LOADER) as conn:
        for table in known:
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier("raw", table)))


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
    # Its own target path: never the project's target/, whose manifest the DAG is rendered from. --static also
    # writes one self-contained page (static_index.html) that opens from disk without a server.
    target = settings.state_dir / "dbt_docs_target"
    res = run_dbt(["docs", "generate", "--quiet", "--static", "--target-path", str(target)], settings)
    if not res.success:
        raise RuntimeError(f"dbt docs generate failed: {res.exception}")
    out.mkdir(parents=True, exist_ok=True)
    for name in (*names, "static_index.html"):
        if (target / name).exists():
            shutil.copy2(target / name, out / name)
    stamp.write_text(fingerprint + "\n")
    return str(out / "index.html")
