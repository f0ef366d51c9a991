"""`ipb run`: one whole night locally, through Airflow itself.

This is the quick in-process path (no scheduler): the three ingestion DAGs run with `dag.test()` for the night's
logical date in Airflow's SQLite metadata under the Airflow home; the Asset events their runs record (read, never
written by hand) stand for the scheduler's AssetAll condition. When every feed is updated the build runs;
when one is missing it runs after the grace period on that feed's last good snapshot, and says so. Then a
summary a person reads in ten seconds. The real scheduler, triggerer and UI run with `ipb airflow up`
(docs/airflow.md), on the same DAGs.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from ipb import config, db, feeds

log = logging.getLogger(__name__)
INGEST_DAGS = [f"ingest_{feed}" for feed in feeds.FEEDS]
BUILD_DAG = "build_warehouse"


@dataclass
class NightResult:
    night: date
    started_at: datetime
    dag_states: dict[str, str] = field(default_factory=dict)
    queued_feeds: list[str] = field(default_factory=list)
    build_trigger: str = ""
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return all(s == "success" for s in self.dag_states.values())


def _prepare(settings: config.Settings) -> None:
    from ipb import airflow_env, warehouse
    from ipb.orchestration.manifest import ensure_manifest

    settings.pseudonym_key()  # refuse early, with a clear message, without a usable key
    warehouse.start(settings)
    db.bootstrap()
    airflow_env.migrate(settings)
    ensure_manifest()


def _updated_assets(since) -> list[str]:
    """Feeds whose raw Asset the ingestion runs updated since `since`, read (never written) from Airflow's asset
    events: what the scheduler's AssetAll condition would see."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from ipb.orchestration.assets import raw_asset_name

    names = {raw_asset_name(f): f for f in feeds.FEEDS}
    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .where(AssetEvent.timestamp >= since, AssetEvent.source_dag_id.in_(INGEST_DAGS))
        ).scalars().all()
    return sorted({names[n] for n in rows if n in names})


def run_night(night: date, landing: Path | None = None, grace_seconds: float | None = None,
              progress=None) -> NightResult:
    """Run one night. `landing` is the night's folder (default `<IPB_LANDING_DIR>/<YYYY-MM-DD>`)."""
    import pendulum

    settings = config.load()
    say = progress or (lambda msg: log.info(msg))
    t0 = time.monotonic()
    with db.connect() as conn:
        started = conn.execute("select now()").fetchone()[0]
    result = NightResult(night, started)
    say("preparing: warehouse, Airflow metadata, dbt manifest")
    _prepare(settings)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(settings.dags_folder))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {sorted(bag.import_errors)}")
    logical = pendulum.datetime(night.year, night.month, night.day, tz="UTC")
    conf = {"landing_dir": str(landing)} if landing else {}
    since = pendulum.now("UTC")
    for dag_id in INGEST_DAGS:
        say(f"running {dag_id}")
        run = bag.get_dag(dag_id).test(logical_date=logical, run_conf=conf)
        result.dag_states[dag_id] = str(getattr(run.state, "value", run.state))
    result.queued_feeds = _updated_assets(since)
    missing = [f for f in feeds.FEEDS if f not in result.queued_feeds]
    if missing:
        grace = float(os.environ.get("IPB_GRACE_SECONDS", "0")) if grace_seconds is None else grace_seconds
        say(f"waiting {grace:.0f}s grace for missing feed(s): {', '.join(missing)}")
        deadline = time.monotonic() + grace
        while missing and time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            result.queued_feeds = _updated_assets(since)
            missing = [f for f in feeds.FEEDS if f not in result.queued_feeds]
        result.build_trigger = "deadline (missing: " + ", ".join(missing) + ")" if missing else "assets"
    else:
        result.build_trigger = "assets (every feed updated)"
    say(f"running {BUILD_DAG} (triggered by {result.build_trigger})")
    build = bag.get_dag(BUILD_DAG).test(logical_date=logical)
    result.dag_states[BUILD_DAG] = str(getattr(build.state, "value", build.state))
    result.seconds = time.monotonic() - t0
    return result


def night_folder(landing_root: Path, night: date) -> Path:
    return landing_root / night.isoformat()


def previous(night: date) -> date:
    return night - timedelta(days=1)
