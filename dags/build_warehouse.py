"""Airflow DAG `build_warehouse`: the night's warehouse build, triggered by data.

It runs when all three raw-feed Assets have been updated (or, at the latest, at the build deadline, so that a
feed that never arrives cannot block the others: the build then uses that feed's last good snapshot and says
so). Steps: check which feeds are fresh -> dbt through Cosmos (a DbtTaskGroup rendered from the manifest
prepared at build time, in watcher mode: one `dbt build`, one sensor task per dbt node) -> Great Expectations
gate -> publication (atomic schema swap) -> dbt docs -> published outputs (CSV returns with suppression
applied, board chart).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, AssetAll, AssetOrTimeSchedule, CronTriggerTimetable, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from ipb.feeds import FEEDS
from ipb.orchestration.assets import raw_asset_name, raw_asset_uri
from ipb.orchestration.callbacks import record_failure
from ipb.orchestration.watcher import sensors_after_producer

PROJECT = Path(os.environ.get("IPB_HOME", Path(__file__).resolve().parents[1])) / "dbt_project"
# The latest a build waits for a missing feed (the grace period), as a cron in UK time.
DEADLINE_CRON = os.environ.get("IPB_BUILD_DEADLINE_CRON", "0 7 * * *")


def _dbt_environment(context) -> None:
    """Before each dbt task: connection and pseudonym key into this process's environment only, so they are
    never rendered into task fields, XCom or dbt's target/."""
    from ipb.transform.dbt import dbt_env

    os.environ.update(dbt_env())


@dag(
    dag_id="build_warehouse",
    description="Link people, build marts and reports, gate them with GX, publish, write the outputs",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(DEADLINE_CRON, timezone="Europe/London"),
        assets=AssetAll(*(Asset(name=raw_asset_name(feed), uri=raw_asset_uri(feed)) for feed in FEEDS)),
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/London"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "on_failure_callback": record_failure,
    },
    tags=["ipb", "warehouse"],
    doc_md=__doc__,
)
def build_warehouse():
    @task
    def check_feeds(run_id=None, ds=None) -> dict:
        from ipb.orchestration.build import check_feeds as check

        return check(run_id, ds)

    # Watcher mode: one task runs a single `dbt build` of the whole project (reference seeds, snapshot, models
    # and their data and unit tests, on dbt's threads); one light sensor task per dbt node reports that node's
    # own outcome from the producer's events, so the graph, the logs and a retry stay per model. One dbt
    # invocation instead of one per model (about 50 start-ups a night).
    dbt_build = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=PROJECT,
            manifest_path=PROJECT / "target" / "manifest.json",
            install_dbt_deps=False,
        ),
        profile_config=ProfileConfig(
            profile_name="ipb", target_name="warehouse", profiles_yml_filepath=PROJECT / "profiles.yml"
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER, invocation_mode=InvocationMode.DBT_RUNNER
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.AFTER_EACH,  # tests run inside the one build; a sensor per test node
            emit_datasets=False,
        ),
        operator_args={"install_deps": False, "pre_execute": _dbt_environment},
    )
    sensors_after_producer(dbt_build)  # the sensors start once the build has ended (any executor)

    @task
    def quality_gate(run_id=None) -> dict:
        from ipb.orchestration.build import gate

        return gate(run_id)

    @task
    def publish(run_id=None) -> dict:
        from ipb.orchestration.build import publish as do_publish

        return do_publish(run_id)

    @task
    def dbt_docs() -> str:
        from ipb.orchestration.build import dbt_docs as docs

        return docs()

    @task
    def published_outputs(run_id=None, ds=None) -> dict:
        from ipb.outputs import write_outputs

        return write_outputs(run_id, ds)

    feeds = check_feeds()
    gated = quality_gate()
    feeds >> dbt_build >> gated >> publish() >> dbt_docs() >> published_outputs()


build_warehouse()
