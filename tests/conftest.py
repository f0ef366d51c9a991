"""Shared fixtures: a real PostgreSQL (the embedded warehouse `make test` starts, or IPB_WAREHOUSE_URL),
one fresh database per test that needs one, and a local Airflow home under .ipb/."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("IPB_DEMO_MODE", "1")
os.environ["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] = "False"
os.environ["GX_ANALYTICS_ENABLED"] = "false"

from ipb import config, warehouse  # noqa: E402


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    s = config.load()
    warehouse.start(s)
    return s


@pytest.fixture
def fresh_db(settings: config.Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new, empty warehouse database for this test; IPB_WAREHOUSE_DB points at it. Returns its URL."""
    with warehouse.scratch_database(settings, "ipb_test") as (_, env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield warehouse.admin_url(config.load())
