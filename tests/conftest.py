"""Shared fixtures: a real PostgreSQL (the embedded warehouse `make test` starts, or IPB_WAREHOUSE_URL),
one fresh database per test that needs one, and a local Airflow home under .ipb/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


def copy_expectations(settings: config.Settings, base: Path) -> Path:
    """A private copy of the GX context (the gate writes its suites and Data Docs there), without local state."""
    expectations = base / "expectations"
    shutil.copytree(settings.expectations_dir, expectations, ignore=shutil.ignore_patterns("uncommitted"))
    return expectations


@contextmanager
def isolated_world(settings: config.Settings, base: Path, db_prefix: str, key: str) -> Iterator[tuple[str, dict]]:
    """A night's own world for an `ipb` subprocess: a scratch warehouse database, its own Airflow home, outputs and a
    copy of the expectations under `base`, demo mode off with `key`. Yields (database name, environment)."""
    expectations = copy_expectations(settings, base)
    with warehouse.scratch_database(settings, db_prefix) as (name, db_env):
        env = {**os.environ, **db_env, "IPB_AIRFLOW_HOME": str(base / "airflow"), "IPB_OUTPUT_DIR": str(base / "out"),
               "IPB_EXPECTATIONS_DIR": str(expectations), "IPB_DEMO_MODE": "0", "IPB_PSEUDONYM_KEY": key}
        env.pop("IPB_DEBUG", None)
        yield name, env
