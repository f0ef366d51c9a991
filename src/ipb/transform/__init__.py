"""dbt for the warehouse: the environment profiles.yml reads, an in-process runner, and linkage quality."""

from ipb.transform.dbt import DbtResult, dbt_env, run_dbt

__all__ = ["DbtResult", "dbt_env", "run_dbt"]
