"""Airflow DAG `build_warehouse`: the night's warehouse build, triggered by data.

It runs when every raw-feed Asset has been updated (or, at the latest, at the build deadline, so that a
feed that never arrives cannot block the others: the build then uses that feed's last good snapshot and says
so). Steps: check which feeds are fresh (and skip the run when no feed loaded anything since the last
publication) -> dbt through Cosmos in two steps around the linkage task (from the manifest prepared at build
time): `dbt_build` (seeds, staging and the link input int_person_records, with their tests) -> `link_people`
(NHS number and UPN passes, local ids, Splink on in-process DuckDB, clustering with a guard; src/ipb/linkage,
docs/linkage.md) -> `dbt_build_people` (the person layer, snapshot, marts, reports, validation and their tests) ->
Great Expectations gate -> publication (atomic schema swap) -> dbt docs -> published outputs (CSV returns with
suppression applied, board chart).

A failed task fails the run: every later task is `upstream_failed` at once, nothing waits, the failure is in
audit.pipeline_events (and sent to IPB_ALERT_WEBHOOK_URL when set), and the next night's run starts as usual.
Trigger it by hand with `{"force": true}` to rebuild when no new data arrived.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, AssetAll, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task
from cosmos import ProfileConfig
from cosmos.constants import InvocationMode
from cosmos.operators.local import DbtBuildLocalOperator
from cosmos.profiles import PostgresUserPasswordProfileMapping

from ipb.feeds import FEEDS
from ipb.orchestration.assets import raw_asset_name, raw_asset_uri
from ipb.orchestration.build import DBT_AFTER_LINKAGE, DBT_BEFORE_LINKAGE
from ipb.orchestration.callbacks import record_failure, record_run_failure
from ipb.transform.dbt import PROFILE_ARGS, WAREHOUSE_CONN_ID

PROJECT = Path(os.environ.get("IPB_HOME", Path(__file__).resolve().parents[1])) / "dbt_project"
# The latest a build waits for a missing feed (the grace period), as a cron in UK time.
DEADLINE_CRON = os.environ.get("IPB_BUILD_DEADLINE_CRON", "0 7 * * *")
# Retries of each build task (a transient warehouse fault); IPB_BUILD_RETRIES=0 fails a run at its first fault.
RETRIES = int(os.environ.get("IPB_BUILD_RETRIES", "1"))


def _pseudonym_key(context, operator) -> None:
    """Cosmos interceptor, run after the task's fields were rendered: the pseudonym key joins this dbt
    invocation's environment only (libpq's PGOPTIONS), so it is never rendered into task fields, XCom, dbt's
    target/ or a log, and never set in the worker's environment by us."""
    from ipb.transform.dbt import key_options

    operator.env = {**(operator.env or {}), **key_options()}


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
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "on_failure_callback": record_failure,
    },
    on_failure_callback=record_run_failure,
    params={"force": Param(False, type="boolean",
                           description="build even when no feed loaded new data since the last publication")},
    tags=["ipb", "warehouse"],
    doc_md=__doc__,
)
def build_warehouse():
    @task.short_circuit
    def check_feeds(run_id=None, params=None, **context) -> dict | None:
        from ipb.orchestration.build import check_feeds as check
        from ipb.orchestration.build import night_of

        # None skips the rest of the run (nothing new to build): the run ends successful, recorded as skipped.
        return check(run_id, night_of(context), force=bool((params or {}).get("force")))

    # dbt through Cosmos in two tasks around the linkage task (each a single `dbt build` of its part of the
    # project on dbt's threads, with the part's data and unit tests; dbt's own log is the task's log). The two
    # selections split the project exactly (ipb.orchestration.build.DBT_BEFORE_LINKAGE / DBT_AFTER_LINKAGE).
    # Not Cosmos's watcher mode: its node sensors wait for their producer in the triggerer and never end when the
    # producer is upstream_failed, and a retried producer skips itself and makes every sensor run dbt alone.
    dbt_common = {
        "project_dir": str(PROJECT),
        # dbt reaches the warehouse through the Airflow connection `ipb_warehouse`, as Cosmos documents it (the
        # password travels in an environment variable of the dbt invocation, never in a rendered profile).
        "profile_config": ProfileConfig(
            profile_name="ipb", target_name="warehouse",
            profile_mapping=PostgresUserPasswordProfileMapping(conn_id=WAREHOUSE_CONN_ID, profile_args=PROFILE_ARGS),
        ),
        "invocation_mode": InvocationMode.DBT_RUNNER,
        "install_deps": False,
        "emit_datasets": False,
        "should_store_compiled_sql": False,  # the project's SQL is not a task field worth rendering
        "interceptors": [_pseudonym_key],
    }
    dbt_build = DbtBuildLocalOperator(task_id="dbt_build", **DBT_BEFORE_LINKAGE, **dbt_common)
    dbt_build_people = DbtBuildLocalOperator(task_id="dbt_build_people", **DBT_AFTER_LINKAGE, **dbt_common)

    @task
    def link_people() -> dict:
        from ipb.orchestration.build import link_people as link

        return link()

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
    def published_outputs(feeds: dict, run_id=None) -> dict:
        from ipb.outputs import write_outputs

        return write_outputs(run_id, feeds["night"])

    feeds = check_feeds()
    feeds >> dbt_build >> link_people() >> dbt_build_people >> quality_gate() >> publish() >> dbt_docs() \
        >> published_outputs(feeds)


build_warehouse()
