"""The dbt project on generated nights (ipb.generate -> ipb.ingest -> dbt build): linkage quality against the
generator's truth, and D -> D+1 history, at a small scale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ipb import db
from ipb.generate import generate_night
from ipb.ingest import load_file
from ipb.transform import run_dbt
from ipb.transform.linkage_quality import linkage_quality

FEED = re.compile(r"^(nhs_phb|social_care|send|national_opt_out)_")


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
    first = run_dbt(["build"])
    assert first.success, first.exception

    q = linkage_quality(tmp_path / "t1")
    assert q.compared_records > 500
    assert q.precision >= 0.999, q.rules
    assert q.recall >= 0.98, q.rules  # goal 99% at scale; a small night has few cross-feed pairs
    assert "nhs_number" in q.rules and any(r.startswith("demo_") for r in q.rules)

    # D+1 of the same world: the snapshot records changes, the build still passes
    generate_night("2026-11-23", 800, tmp_path / "d2", seed=11, truth_dir=tmp_path / "t2")
    _load(tmp_path / "d2")
    second = run_dbt(["build"])
    assert second.success, second.exception
    with db.connect() as conn:
        versions = conn.execute(
            "select count(*) filter (where version_number > 1), count(*) filter (where not is_current) "
            "from restricted.int_budget_component_history"
        ).fetchone()
    assert versions[0] > 0 and versions[1] > 0


# What a full build would hold, by record id (record numbers and key ids are the build's own labels).
_USABLE_KEYS = """select r.record_id, k.link_rule, k.link_key::text, k.block_size
                  from restricted.int_person_link_keys as k
                  inner join restricted.int_person_records as r on k.record_seq = r.record_seq"""
_CANDIDATES = """select r.record_id, k.rule_priority, k.link_key::text
                 from (select record_seq, rule_priority, link_key from restricted.int_person_link_keys_by_identifiers
                       union all
                       select record_seq, rule_priority, link_key from restricted.int_person_link_keys_by_names) as k
                 left join restricted.int_person_records as r on k.record_seq = r.record_seq"""
_PEOPLE = "select record_id, person_key, link_rule, person_n_records from restricted.int_person_index"
_LINKAGE = ["int_person_record_seqs", "int_person_records", "int_person_link_keys_by_identifiers",
            "int_person_link_keys_by_names", "int_person_link_keys", "int_person_labels", "int_person_index"]


def _linkage_state() -> dict[str, list]:
    with db.connect() as conn:
        return {name: sorted(conn.execute(query).fetchall())
                for name, query in (("usable", _USABLE_KEYS), ("candidates", _CANDIDATES), ("people", _PEOPLE))}


def _rewritten_share() -> float:
    """Share of the link key rows the latest build wrote (the rest were kept from an earlier night)."""
    with db.connect() as conn:
        return conn.execute(
            """select avg((applied_change_seq = (select max(change_seq) from restricted.int_person_record_seqs))::int)
               from (select applied_change_seq from restricted.int_person_link_keys_by_identifiers
                     union all
                     select applied_change_seq from restricted.int_person_link_keys_by_names) as k""").fetchone()[0]


def _relabelled_share() -> float:
    """Share of the person labels the latest build wrote."""
    with db.connect() as conn:
        return conn.execute(
            """select avg((applied_change_seq = (select max(change_seq) from restricted.int_person_record_seqs))::int)
               from restricted.int_person_labels""").fetchone()[0]


def test_next_nights_relink_only_what_changed_and_equal_a_full_build(
        fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Night D builds the link keys and labels in full; D+1 and D+2 (new, changed and withdrawn records) recompute
    only the blocks their changed records touch and relabel only the people those reach, keep every record's
    number, and end with the same candidate keys, usable keys and people as a full rebuild of the same night."""
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", "incremental-linkage-test-key-0123456789")
    db.bootstrap()
    generate_night("2026-11-22", 1500, tmp_path / "d0", seed=5, defects=0.01)
    _load(tmp_path / "d0")
    assert run_dbt(["build"]).success
    assert _rewritten_share() == 1.0 and _relabelled_share() == 1.0
    with db.connect() as conn:
        seqs_d = dict(conn.execute("select record_id, record_seq from restricted.int_person_record_seqs").fetchall())

    for i, night in enumerate(("2026-11-23", "2026-11-24"), start=1):
        generate_night(night, 1500, tmp_path / f"d{i}", seed=5, defects=0.01)
        _load(tmp_path / f"d{i}")
        res = run_dbt(["build"])
        assert res.success, res.exception
        share, relabelled = _rewritten_share(), _relabelled_share()
        assert 0 < share < 0.5 and 0 < relabelled < 0.5, (share, relabelled)  # a delta, not a rebuild
    with db.connect() as conn:
        seqs, withdrawn, new = conn.execute(
            """select array_agg(record_id || '=' || record_seq), count(*) filter (where not is_current),
                      count(*) filter (where record_seq > %s)
               from restricted.int_person_record_seqs""", (max(seqs_d.values()),)).fetchone()
    kept = dict(s.rsplit("=", 1) for s in seqs)
    assert all(int(kept[r]) == s for r, s in seqs_d.items()), "a record changed its number"
    assert withdrawn > 0 and new > 0, (withdrawn, new)  # the nights exercised both
    incremental = _linkage_state()

    # Rerunning the night changes nothing.
    assert run_dbt(["run", "--select", *_LINKAGE]).success
    assert _linkage_state() == incremental

    full = run_dbt(["run", "--full-refresh", "--select", *_LINKAGE])
    assert full.success, full.exception
    assert _rewritten_share() == 1.0 and _relabelled_share() == 1.0
    rebuilt = _linkage_state()
    assert all(record_id for record_id, _, _ in incremental["candidates"]), "keys of a record no longer current"
    for name in ("candidates", "usable", "people"):
        assert incremental[name] == rebuilt[name], name
    assert len(rebuilt["usable"]) > 100 and len({p for _, p, _, _ in rebuilt["people"]}) < len(rebuilt["people"])
