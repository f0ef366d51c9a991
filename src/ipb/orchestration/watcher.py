"""Cosmos watcher mode inside a DbtTaskGroup: the node sensors start once the producer's `dbt build` has ended.

Cosmos only links the producer to the root sensors in a DbtDag; in a task group the sensors are meant to run
beside the producer on parallel workers. When tasks run one at a time (`dag.test()`, `ipb run`, a one-slot
executor) a sensor picked first would wait for a build that can never start. Making the producer the upstream
of the root sensors with `all_done` keeps every node's own task and outcome, on any executor.
"""

from __future__ import annotations

from typing import Any

from cosmos.constants import PRODUCER_WATCHER_DONE_TASK_ID, PRODUCER_WATCHER_TASK_ID


def _tasks(group: Any) -> list[Any]:
    """Every task in a task group, nested groups included."""
    out = []
    for child in group.children.values():
        out.extend(_tasks(child) if hasattr(child, "children") else [child])
    return out


def sensors_after_producer(group: Any) -> Any:
    """Put the producer upstream of the group's root sensors (trigger rule `all_done`: they report each node's
    result whether the build passed or failed). Returns the group."""
    tasks = _tasks(group)
    by_id = {t.task_id: t for t in tasks}
    producer = next(t for t in tasks if t.task_id.rsplit(".", 1)[-1] == PRODUCER_WATCHER_TASK_ID)
    special = {producer.task_id, *(t.task_id for t in tasks
                                   if t.task_id.rsplit(".", 1)[-1] == PRODUCER_WATCHER_DONE_TASK_ID)}
    for task in tasks:
        if task.task_id in special or set(task.upstream_task_ids) & set(by_id):
            continue
        producer >> task
        task.trigger_rule = "all_done"
    return group
