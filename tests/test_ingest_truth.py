"""Against the generator's truth: every injected defect lands where it should (rejected file or quarantined row,
with the right reason) and every good row is loaded, exactly once."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from ipb import feeds
from ipb.generate import generate_night
from ipb.ingest.landing import display_name
from ipb.orchestration.ingestion import files_for_feed, load_one

NIGHT = date(2026, 11, 22)


@pytest.fixture(scope="module")
def defect_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("night")
    generate_night(NIGHT, 1500, base / "landing", seed=7, defects=0.02, truth_dir=base / "truth")
    return base / "landing", base / "truth"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_every_defect_and_every_good_row_ends_where_it_should(fresh_db: str, defect_night: tuple[Path, Path]) -> None:
    landing, truth = defect_night
    results = {}
    for feed in feeds.FEEDS:
        for ref in files_for_feed(feed, NIGHT.isoformat(), str(landing)):
            result = load_one(feed, ref, "truth-run")
            results[result["file_name"]] = SimpleNamespace(**result)
    # Nothing in the landing zone went unaccounted for (a misnamed file is recorded under a withheld name).
    assert set(results) == {display_name(p.name) for p in landing.iterdir()}

    defects = _read(truth / "defects.csv")
    file_defects = [d for d in defects if not d["row_number"]]
    # Row variants the loader keeps (e.g. an invalid optional NHS number in CLD) are not quarantine cases.
    row_defects = {(d["file_name"], int(d["row_number"])): d for d in defects
                   if d["row_number"] and d["expected_outcome"] == "quarantined"}
    assert {d["defect_class"] for d in file_defects} >= set(feeds.FILE_DEFECTS_REJECTED) | set(
        feeds.FILE_VARIANTS_ACCEPTED)
    assert {d["defect_class"] for d in row_defects.values()} == set(feeds.ROW_DEFECTS)

    for d in file_defects:
        r = results[display_name(d["file_name"])]
        if d["expected_outcome"] == "rejected":
            assert (r.status, r.reason_code) == ("rejected", d["expected_reason_code"]), d
        else:
            assert r.status == "loaded", d

    with psycopg.connect(fresh_db) as conn:
        quarantined = {(f, n): code for f, n, code in conn.execute(
            "select file_name, row_number, reason_code from quarantine.rows")}
        loaded = set()
        for feed in feeds.LOADABLE:
            if conn.execute("select to_regclass(%s) is not null", (f"raw.{feed}",)).fetchone()[0]:
                loaded |= set(conn.execute(f"select _file_name, _row_number from raw.{feed}").fetchall())
        accounting_ok = conn.execute(
            "select bool_and(rows_in_file = rows_loaded + rows_quarantined) from audit.batches"
            " where status = 'loaded'").fetchone()[0]
    assert accounting_ok
    for key, d in row_defects.items():
        assert quarantined.get(key) == d["expected_reason_code"], (d, quarantined.get(key))
    rejected_files = {n for n, r in results.items() if r.status == "rejected"}
    good_rows = {(r["file_name"], int(r["row_number"])) for r in _read(truth / "records.csv")
                 if display_name(r["file_name"]) not in rejected_files
                 and (r["file_name"], int(r["row_number"])) not in row_defects}
    assert good_rows - loaded == set(), f"{len(good_rows - loaded)} good rows not loaded"
    assert set(quarantined) - set(row_defects) == set(), "rows quarantined that the truth says are good"
    assert loaded & set(row_defects) == set()
