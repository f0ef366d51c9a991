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
_PEOPLE = """select record_id, feed, sender_code, person_key, link_rule, person_n_records,
                     (select record_id from restricted.int_person_records as r where r.record_seq = i.person_seq)
              from restricted.int_person_index as i"""
_DEMOGRAPHICS = """select person_key, birth_date, sex_code, postcode_district, la_gss_code, icb_code, feeds, n_records,
                          is_linked, is_opted_out,
                          (select record_id from restricted.int_person_records as r where r.record_seq = d.person_seq)
                   from restricted.int_person_demographics as d"""
_LINKAGE = ["int_person_record_seqs", "int_person_records", "int_person_link_keys_by_identifiers",
            "int_person_link_keys_by_names", "int_person_link_keys", "int_person_labels", "int_person_index",
            "int_person_demographics"]


def _linkage_state() -> dict[str, list]:
    with db.connect() as conn:
        return {name: sorted(conn.execute(query).fetchall(), key=repr)
                for name, query in (("usable", _USABLE_KEYS), ("candidates", _CANDIDATES), ("people", _PEOPLE),
                                    ("demographics", _DEMOGRAPHICS))}


def _rewritten_share() -> float:
    """Share of the link key rows the latest build wrote (the rest were kept from an earlier night)."""
    with db.connect() as conn:
        return conn.execute(
            """select avg((applied_change_seq = (select max(change_seq) from restricted.int_person_record_seqs))::int)
               from (select applied_change_seq from restricted.int_person_link_keys_by_identifiers
                     union all
                     select applied_change_seq from restricted.int_person_link_keys_by_names) as k""").fetchone()[0]


def _written_share(table: str) -> float:
    """Share of the rows of a restricted incremental person model (labels, index, demographics) the latest build
    wrote."""
    with db.connect() as conn:
        return conn.execute(
            f"""select avg((applied_change_seq = (select max(change_seq) from restricted.int_person_record_seqs))::int)
                from restricted.{table}""").fetchone()[0]


_PERSON_MODELS = ("int_person_labels", "int_person_index", "int_person_demographics")


def _opt_out(folder: Path, nhs_number: str) -> None:
    """Add an NHS number to the night's national data opt-out list."""
    (path,) = folder.glob("national_opt_out_*.csv")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(nhs_number + "\n")


def _is_opted_out(nhs_number: str) -> bool:
    with db.connect() as conn:
        (flags,) = conn.execute(
            """select array_agg(distinct d.is_opted_out)
               from restricted.int_person_records as r
               inner join restricted.int_person_index as i on r.record_seq = i.record_seq
               inner join restricted.int_person_demographics as d on i.person_seq = d.person_seq
               where r.nhs_number = %s""", (nhs_number,)).fetchone()
    assert flags is not None and len(flags) == 1, flags
    return flags[0]


def test_next_nights_relink_only_what_changed_and_equal_a_full_build(
        fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Night D builds the link keys, labels, person index and demographics in full; D+1 and D+2 (new, changed and
    withdrawn records, people opting out and back in) recompute only the blocks their changed records touch and
    rewrite only the people those reach, keep every record's number, and end with the same candidate keys, usable
    keys, people and demographics as a full rebuild of the same night; a new opt-out list alone rewrites only the
    people on the old or new list."""
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", "incremental-linkage-test-key-0123456789")
    db.bootstrap()
    generate_night("2026-11-22", 1500, tmp_path / "d0", seed=5, defects=0.01)
    _load(tmp_path / "d0")
    assert run_dbt(["build"]).success
    assert _rewritten_share() == 1.0 and all(_written_share(t) == 1.0 for t in _PERSON_MODELS)
    with db.connect() as conn:
        seqs_d = dict(conn.execute("select record_id, record_seq from restricted.int_person_record_seqs").fetchall())
        # Two people not opted out on D: one opts out on D+1 only, the other on D+2 (a list equal to an earlier
        # one would be a duplicate file, so D+2's list differs from D's).
        opting_out = [n for (n,) in conn.execute(
            """select distinct r.nhs_number from restricted.int_person_records as r
               where r.nhs_number is not null
                 and r.nhs_number not in (select nhs_number from restricted.stg_audit__national_opt_out)
               order by r.nhs_number limit 2""")]
    assert len(opting_out) == 2 and not any(_is_opted_out(n) for n in opting_out)

    for i, night in enumerate(("2026-11-23", "2026-11-24"), start=1):
        generate_night(night, 1500, tmp_path / f"d{i}", seed=5, defects=0.01)
        _opt_out(tmp_path / f"d{i}", opting_out[i - 1])
        _load(tmp_path / f"d{i}")
        res = run_dbt(["build"])
        assert res.success, res.exception
        shares = [_rewritten_share(), *(_written_share(t) for t in _PERSON_MODELS)]
        assert all(0 < share < 0.5 for share in shares), shares  # a delta, not a rebuild
        assert [_is_opted_out(n) for n in opting_out] == [i == 1, i == 2]
    # Next, only a new opt-out list arrives (no record changes): the second person and the first person of the
    # generated list withdraw their opt-out (without the latter, the list would equal D's, a duplicate file). The
    # demographics rewrite only the people on the old or new list.
    (d2_list,) = (tmp_path / "d2").glob("national_opt_out_*.csv")
    header, first, *rest = d2_list.read_text(encoding="utf-8").splitlines()
    lines = [header, *(line for line in rest if line != opting_out[1])]
    (tmp_path / "d3").mkdir()
    (tmp_path / "d3" / "national_opt_out_20261125.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _load(tmp_path / "d3")
    assert run_dbt(["build"]).success
    assert [_is_opted_out(n) for n in opting_out] == [False, False] and not _is_opted_out(first)
    with db.connect() as conn:
        rewritten, opted_out_before = conn.execute(
            # (applied_change_seq stays: the record map did not change. The rows the build wrote are the rows of
            # its transaction.)
            """select count(*) filter (where xmin::text::bigint = (select max(xmin::text::bigint)
                                                                 from restricted.int_person_demographics)),
                      count(*) filter (where is_opted_out) + 2
               from restricted.int_person_demographics""").fetchone()
    assert rewritten == opted_out_before, (rewritten, opted_out_before)
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
    assert _rewritten_share() == 1.0 and all(_written_share(t) == 1.0 for t in _PERSON_MODELS)
    rebuilt = _linkage_state()
    assert all(record_id for record_id, _, _ in incremental["candidates"]), "keys of a record no longer current"
    for name in ("candidates", "usable", "people", "demographics"):
        assert incremental[name] == rebuilt[name], name

    # A new block size on a night without changed records: the halves rebuild themselves (their rules version),
    # and the labels, index and demographics follow through their versions, not the record map.
    small_blocks = ["--vars", "{linkage_max_block_size: 2}"]
    assert run_dbt(["run", "--select", *_LINKAGE, *small_blocks]).success
    after_rule_change = _linkage_state()
    assert after_rule_change["usable"] != rebuilt["usable"] and after_rule_change["people"] != rebuilt["people"]
    assert run_dbt(["run", "--full-refresh", "--select", *_LINKAGE, *small_blocks]).success
    assert _linkage_state() == after_rule_change
    assert len(rebuilt["usable"]) > 100 and len({row[3] for row in rebuilt["people"]}) < len(rebuilt["people"])


def test_a_warehouse_from_before_the_incremental_models_upgrades_itself(
        fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables built by the earlier code (link key halves without versions, labels without build_version; index and
    demographics as plain tables, the index with its lineage columns and a view on them) are rebuilt in full by the
    next build, with the new columns."""
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", "upgrade-test-key-0123456789")
    db.bootstrap()
    generate_night("2026-11-22", 300, tmp_path / "d0", seed=7)
    _load(tmp_path / "d0")
    assert run_dbt(["build"]).success
    expected = _linkage_state()
    with db.connect() as conn:
        # (cascade: the view int_person_budgets_as_at selects every index column; the build recreates it)
        conn.execute("alter table restricted.int_person_labels drop column build_version")
        for half in ("int_person_link_keys_by_identifiers", "int_person_link_keys_by_names"):
            conn.execute(f"alter table restricted.{half} drop column rules_version cascade,"
                         " drop column applied_change_seq cascade")
        for table in ("int_person_index", "int_person_demographics"):
            conn.execute(f"alter table restricted.{table} drop column applied_change_seq cascade,"
                         " drop column build_version cascade")
        conn.execute("alter table restricted.int_person_index add column source_file_name text,"
                     " add column source_row_number bigint")
        conn.execute("update restricted.int_person_index set person_key = 'stale', source_file_name = 'old'")
        # the old views selected the old columns: a rebuild must not need to drop them
        conn.execute("create or replace view restricted.old_lineage as"
                     " select source_file_name from restricted.int_person_index")
    res = run_dbt(["build"])
    assert res.success, res.exception
    assert _linkage_state() == expected
    with db.connect() as conn:
        columns = {(t, c) for t, c in conn.execute(
            """select table_name, column_name from information_schema.columns
               where table_schema = 'restricted'
                 and table_name in ('int_person_labels', 'int_person_index', 'int_person_demographics')""")}
        old_values = conn.execute("select count(source_file_name) from restricted.int_person_index").fetchone()[0]
    assert {("int_person_labels", "build_version"), ("int_person_index", "build_version"),
            ("int_person_demographics", "build_version")} <= columns
    assert old_values == 0  # the index was rebuilt: the column it no longer writes stays, empty
