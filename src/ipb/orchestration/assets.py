"""Names of the Airflow Assets: one per feed's raw table. Downstream DAGs are triggered by data, not clock."""

from __future__ import annotations


def raw_asset_uri(feed: str) -> str:
    # Airflow normalises postgres URIs (adds the default port): spell it normalised so names compare equal.
    return f"postgres://ipb-warehouse:5432/ipb/raw/{feed}"


def raw_asset_name(feed: str) -> str:
    return f"raw_{feed}"
