"""The gate on a real night: the dbt sample files loaded by the real loader, a real `dbt build` (incl. the
validation views), the gate, and publication."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from ipb import db, publish
from ipb.orchestration.build import run_build
from ipb.quality import gate
from tests import dbt_sample


def test_dbt_night_gate_blocks_opted_out_then_publishes(fresh_db: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_OUTPUT_DIR", str(tmp_path / "outputs"))
    db.bootstrap()
    dbt_sample.load_night(tmp_path / "landing", "20261122")
    built = run_build(["--quiet", "--threads", "2"])
    assert built.success, built.exception

    with psycopg.connect(fresh_db) as conn:
        # The gate's role reads the validation views, never the linkage layer's identifiers.
        conn.execute("set role ipb_validator")
        assert conn.execute("select count(*) from restricted.validation_opted_out_people").fetchone()[0] == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select surname from restricted.int_person_records")
        conn.rollback()
        # Put the opted-out person back into a mart: the gate must see it.
        conn.execute("set role ipb_transformer")
        key = conn.execute("select person_key from restricted.validation_opted_out_people").fetchone()[0]
        conn.execute("create temp table extra as select * from build_marts.dim_person limit 1")
        conn.execute("update extra set person_key = %s", (key,))
        conn.execute("insert into build_marts.dim_person select * from extra")
        conn.commit()

    blocked = gate.run_gate("dbt-night-1")
    assert blocked.failed_checks == ["Opted-out people absent from analyst tables"], blocked.summary()
    assert key not in blocked.summary()

    with psycopg.connect(fresh_db) as conn:
        conn.execute("set role ipb_transformer")
        conn.execute("delete from build_marts.dim_person where person_key = %s", (key,))
        conn.commit()
    passed = gate.run_gate("dbt-night-2")
    assert passed.success, passed.summary()
    publish.publish("dbt-night-2")
    with psycopg.connect(fresh_db) as conn:
        conn.execute("set role ipb_analyst")
        assert conn.execute("select count(*) from marts.fct_budget_component").fetchone()[0] > 0
        assert conn.execute("select count(*) from reports.rpt_phb_quarterly").fetchone()[0] > 0
