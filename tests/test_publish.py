"""Write-audit-publish: the swap is gated, all-or-nothing, and keeps exactly one previous state."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ipb import publish
from ipb.quality import audit
from tests.test_quality_gate import build_night, published_fingerprint


def _record(run_id: str, success: bool) -> None:
    outcome = audit.CheckpointOutcome("ipb_analyst_ig", success, [
        audit.CheckOutcome("analyst_ig", "expect_no_breaches", "No NHS numbers in analyst tables", success, 1,
                           0 if success else 1, "ok" if success else "1 breach(es)")])
    audit.record(run_id, [outcome], "latest.html")


def _schemas(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("select nspname from pg_namespace")}


@pytest.fixture
def night(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IPB_OUTPUT_DIR", str(tmp_path / "outputs"))
    build_night(fresh_db)
    return fresh_db


def test_publish_refused_without_a_passing_gate(night: str) -> None:
    before = published_fingerprint(night)
    with pytest.raises(publish.PublishRefused):
        publish.publish("never-validated")
    _record("failed-night", success=False)
    with pytest.raises(publish.PublishRefused):
        publish.publish("failed-night")
    # A passing first attempt does not count once a later attempt of the same run failed.
    _record("retried-night", success=True)
    _record("retried-night", success=False)
    with pytest.raises(publish.PublishRefused):
        publish.publish("retried-night")
    assert published_fingerprint(night) == before
    assert {"build_marts", "build_reports"} <= _schemas(night)


def test_publish_swaps_and_keeps_one_previous_state(night: str) -> None:
    _record("night-1", success=True)
    publish.publish("night-1")
    first = published_fingerprint(night)
    assert {"marts", "reports", "marts_previous", "reports_previous"} <= _schemas(night)
    with psycopg.connect(night) as conn:
        conn.execute("set role ipb_transformer")
        for schema in ("build_marts", "build_reports"):  # the next night's build
            conn.execute(f"create schema {schema}")
            conn.execute(f"create table {schema}.t_{schema} (n int)")
        conn.commit()
        assert conn.execute("select published, decision from audit.validation_runs where run_id = 'night-1'"
                            ).fetchone() == (True, "published")
    _record("night-2", success=True)
    publish.publish("night-2")
    assert published_fingerprint(night) != first
    with psycopg.connect(night) as conn:
        tables = {r[0] for r in conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('marts', 'marts_previous', 'reports', 'reports_previous')")}
        assert "marts.t_build_marts" in tables and "reports.t_build_reports" in tables
        assert "marts_previous.dim_person" in tables  # night 1's marts; the older previous was dropped
        assert conn.execute("select has_schema_privilege('ipb_ig_lead', 'reports', 'usage')").fetchone()[0]
        assert not conn.execute("select has_schema_privilege('ipb_analyst', 'marts_previous', 'usage')").fetchone()[0]


def test_publish_is_all_or_nothing(night: str) -> None:
    """A failure half-way (the old previous state cannot be dropped) rolls the whole swap back."""
    with psycopg.connect(night) as conn:
        conn.execute("create schema reports_previous")  # owned by the superuser: the transformer cannot drop it
        conn.commit()
    before = published_fingerprint(night)
    _record("night-x", success=True)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        publish.publish("night-x")
    assert published_fingerprint(night) == before
    assert {"build_marts", "build_reports", "marts", "reports"} <= _schemas(night)
    assert "marts_previous" not in _schemas(night)
    with psycopg.connect(night) as conn:
        assert conn.execute("select bool_or(published) from audit.validation_runs where run_id = 'night-x'"
                            ).fetchone()[0] is False
