"""Names of the Airflow Assets: one per feed's raw table. Downstream DAGs are triggered by data, not clock."""

from __future__ import annotations


def raw_asset_uri(feed: str) -> str:
    return f"postgres://ipb-warehouse/ipb/raw/{feed}"
