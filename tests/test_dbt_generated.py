"""The dbt project on generated nights (ipb.generate -> ipb.ingest -> the night's build in three steps): linkage
quality against the generator's truth, and D -> D+1 history, at a small scale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ipb import db
from ipb.generate import generate_night
from ipb.ingest import load_file
from ipb.orchestration.build import run_build
from ipb.transform.linkage_quality import linkage_quality

FEED = re.compile(r"^(nhs_phb|social_care|send_budget|send|national_opt_out)_")


def _load(folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        match = FEED.match(path.name)
        if match:
            load_file(match.group(1), path)


def test_generated_nights_link_and_build(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", "generated-night-test-key-0123456789")
    db.bootstrap()
    generate_night("2026-11-22", 800, tmp_path / "d1", seed=11, defects=0.01, truth_dir=tmp_path / "t1")
    _load(tmp_path / "d1")
    first = run_build()
    assert first.success, first.exception

    q = linkage_quality(tmp_path / "t1")
    assert q.compared_records > 500
    assert q.precision >= 0.999, q.rules
    assert q.recall >= 0.98, q.rules  # goal 99% at scale; a small night has few cross-feed pairs
    assert "nhs_number" in q.rules and "splink" in q.rules

    # D+1 of the same world: the snapshot records changes, the build still passes
    generate_night("2026-11-23", 800, tmp_path / "d2", seed=11, truth_dir=tmp_path / "t2")
    _load(tmp_path / "d2")
    second = run_build()
    assert second.success, second.exception
    with db.connect() as conn:
        versions = conn.execute(
            "select count(*) filter (where version_number > 1), count(*) filter (where not is_current) "
            "from restricted.int_budget_component_history"
        ).fetchone()
    assert versions[0] > 0 and versions[1] > 0
