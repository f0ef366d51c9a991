"""A generated night with the councils' SEN2 returns (XML) and send_budget files builds; persons in each SEN2 file are
counted independently (own XML reading); the warehouse's education and children's social care totals equal the
budget files' elements, computed here from the files (own CSV reading and money parsing, FEEDS.md); and the marts
count children whose budget brings together health, education and social care."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import defusedxml.ElementTree as SafeET
import psycopg
import pytest

from ipb import db
from ipb.generate import generate_night
from ipb.ingest import load_file
from ipb.orchestration.build import run_build

NIGHT = "2026-11-22"
FEED = re.compile(r"^(nhs_phb|social_care|send_budget|send|national_opt_out)_")


def _budget_totals(folder: Path) -> dict[str, Decimal]:
    totals = {"education": Decimal(0), "social_care": Decimal(0)}
    for path in sorted(folder.glob("send_budget_*.csv")):
        text = path.read_bytes().decode("utf-8-sig")
        for row in csv.DictReader(text.splitlines()):
            for funder, column in (("education", "EducationElementGBP"), ("social_care", "SocialCareElementGBP")):
                if row[column].strip():
                    totals[funder] += Decimal(row[column].strip())
    return totals


def _persons(path: Path) -> int:
    root = SafeET.parse(path, forbid_dtd=True).getroot()
    return len(root.findall("./Persons/Person"))


@pytest.mark.scenario
def test_send_budgets_reach_the_marts_as_sent(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", "send-amounts-test-key-0123456789abcdef")
    db.bootstrap()
    folder = tmp_path / "landing"
    generate_night(NIGHT, 3000, folder, seed=11, defects=0.0, truth_dir=tmp_path / "truth")
    loaded: dict[str, int] = defaultdict(int)
    for path in sorted(folder.iterdir()):
        feed = FEED.match(path.name).group(1)
        result = load_file(feed, path)
        assert result.status == "loaded" and result.rows_quarantined == 0, (path.name, result.reason_code)
        if feed == "send":
            assert result.rows_in_file == result.rows_loaded == _persons(path), path.name
        loaded[feed] += result.rows_loaded
    assert loaded["send"] > 50 and loaded["send_budget"] > 10
    build = run_build()
    assert build.success, build.exception

    expected = _budget_totals(folder)
    assert expected["education"] > 0 and expected["social_care"] > 0
    with psycopg.connect(fresh_db) as conn:
        got = dict(conn.execute("""select funder, sum(annual_gbp) from restricted.int_budget_components
                                   where feed = 'send_budget' group by funder""").fetchall())
        health_from_send = conn.execute("""select count(*) from restricted.int_budget_components
                                           where feed in ('send', 'send_budget') and funder = 'health'""").fetchone()[0]
        three_funders = conn.execute("""select count(*) from build_marts.fct_integrated_personal_budget
                                        where as_at_kind = 'latest' and n_funders = 3
                                            and age_band in ('0-4', '5-10', '11-15', '16-17')""").fetchone()[0]
        matched = dict(conn.execute("""select match_status, count(*) from restricted.int_send_plan_budgets
                                       group by 1""").fetchall())
    assert got == expected
    assert health_from_send == 0  # a child's health element comes only from nhs_phb
    assert three_funders > 0
    assert matched.get("budget_with_plan", 0) > 0
