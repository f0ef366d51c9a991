"""Airflow ingestion DAGs: one per feed (ingest_nhs_phb, ingest_social_care, ingest_send), made by one factory.

Each nightly run finds the feed's files for its logical date in the landing zone, loads each one (file checks,
COPY into raw, quarantine, audit) and, when the feed loaded, updates the feed's raw-table Asset so that the
warehouse build is triggered by data, not by the clock (the event's extra names the night). Every task that touches
the warehouse bootstraps it first (idempotently, `ipb.db.bootstrap()` in the loader), so the first run on a fresh
install needs nothing set up by hand. Heavy imports stay inside the tasks.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, task

from ipb.feeds import FEEDS
from ipb.orchestration.assets import raw_asset_name, raw_asset_uri
from ipb.orchestration.callbacks import record_failure


def make_ingest_dag(feed: str):
    @dag(
        dag_id=f"ingest_{feed}",
        description=f"Load the nightly {feed} files from the landing zone into raw.{feed}",
        schedule="0 1 * * *",
        start_date=pendulum.datetime(2026, 1, 1, tz="Europe/London"),
        catchup=False,
        max_active_runs=1,
        default_args={
            "retries": 2,
            "retry_delay": timedelta(seconds=30),
            "retry_exponential_backoff": True,
            "max_retry_delay": timedelta(minutes=10),
            "on_failure_callback": record_failure,
        },
        params={"landing_dir": Param(None, type=["null", "string"], description="override the night's folder")},
        tags=["ipb", "ingest"],
        doc_md=__doc__,
    )
    def ingest():
        @task
        def find_files(params=None, ds=None) -> list[str]:
            from ipb.orchestration.ingestion import files_for_feed

            return files_for_feed(feed, ds, (params or {}).get("landing_dir"))

        # Loads of one feed run one at a time (they share the feed's raw table and checksum registry).
        @task(max_active_tis_per_dag=1)
        def load(path: str, run_id=None) -> dict:
            from ipb.orchestration.ingestion import load_one

            return load_one(feed, path, run_id)

        raw = Asset(name=raw_asset_name(feed), uri=raw_asset_uri(feed))

        @task(outlets=[raw])
        def feed_loaded(results: list[dict], ds=None, outlet_events=None) -> dict:
            from ipb.orchestration.ingestion import summarise

            # The night travels with the Asset event: an asset-triggered build has no logical date of its own.
            if outlet_events is not None and ds:
                outlet_events[raw].extra = {"night": ds}
            # Index by length: iterating the lazy XCom sequence probes past its end and logs a false error.
            return summarise(feed, [results[i] for i in range(len(results))])

        feed_loaded(load.expand(path=find_files()))

    return ingest()


for _feed in FEEDS:
    make_ingest_dag(_feed)
