"""Shared fixtures: a real PostgreSQL (the embedded warehouse `make test` starts, or IPB_WAREHOUSE_URL),
one fresh database per test that needs one, and a local Airflow home under .ipb/."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

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
    name = f"ipb_test_{uuid.uuid4().hex[:10]}"
    admin = warehouse.admin_url(settings, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    monkeypatch.setenv("IPB_WAREHOUSE_DB", name)
    if settings.external_url:
        monkeypatch.setenv("IPB_WAREHOUSE_URL", warehouse.admin_url(settings, name))
    yield warehouse.admin_url(config.load())
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
