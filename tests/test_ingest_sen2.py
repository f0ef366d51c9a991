"""The SEN2 person-level return (COLLECT XML, feed `send`) and our `send_budget` CSV load as the contract says
(FEEDS.md v2; IG.md promise 8). The fixtures under tests/fixtures/sen2 and tests/fixtures/send_budget were written by
hand from the SEN2 element names, not from the project's element set:

- send_886_20261122.xml: a 2025 (v1.3) return, four persons (UPN; no UPN with ULN and UPNunknown, a ceased plan with
  the PlanWPB spelling and a SENSetting placement; two requests and ranked needs with DS; blanks), with dropped items
  (Ethnicity, PlanDetail, PlacementDetail, mediation and tribunal flags);
- send_850_20261122.xml: a 2024 (v1.2) return;
- send_886_20261123.xml: fourteen persons, ten of them breaking one Person rule each (the file's own comments);
- send_886_20261124.xml (XXE), ..._25 (billion laughs), ..._26 (cut short), ..._27 (header LEA of another council),
  ..._28 (an element no release knows);
- send_budget_886_20261122.csv: one row per rule; send_budget_850_20261122.csv: DD/MM/YYYY dates.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import time
import tracemalloc
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ipb import config, db, warehouse
from ipb.ingest import load_file
from ipb.ingest.rules import SEN2_READABLE
from ipb.ingest.sen2 import is_iso_date

SEN2 = Path(__file__).parent / "fixtures" / "sen2"
BUDGET = Path(__file__).parent / "fixtures" / "send_budget"
# Values from the fixtures that must never appear in a reason, a log line or the audit.
SECRETS = ("Testpupil", "Amira", "A886100001001", "2014-05-06", "ME15", "WBRI", "passwd", "root:", "lol", "blue")


def _copy(tmp_path: Path, source: Path, name: str | None = None) -> Path:
    path = tmp_path / (name or source.name)
    shutil.copyfile(source, path)
    return path


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def _query(url: str, q: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(q, params).fetchall()


def _no_secret(*texts: object) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"a value from the file leaked into: {text!r:.300}"


HEADER = ("<Header><CollectionDetails><Collection>SEN2</Collection><Year>2025</Year></CollectionDetails>"
          "<Source><LEA>886</LEA></Source></Header>")


def _person(i: int, forename: str = "Sam", extra: str = "") -> str:
    return (f"<Person><Surname>Testpupil{i}</Surname><Forename>{forename}</Forename>"
            f"<PersonBirthDate>2014-05-06</PersonBirthDate><Sex>M</Sex><UPN>A886100001001</UPN>{extra}"
            "<Requests><ReceivedDate>2022-01-10</ReceivedDate><Assessment><AssessmentOutcome>H</AssessmentOutcome>"
            "<NamedPlan><StartDate>2022-09-01</StartDate><PB>1</PB><OA>1</OA><DP>0</DP></NamedPlan></Assessment>"
            "<ActivePlans><SENneed><SENtype>ASD</SENtype><SENtypeRank>1</SENtypeRank></SENneed></ActivePlans>"
            "</Requests></Person>\n")


def _return(persons: str, header: str = HEADER) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<Message>{header}\n<Persons>\n{persons}</Persons></Message>\n'


# -- a good return ----------------------------------------------------------------------------------------------------

def test_a_2025_return_loads_one_row_per_person_with_its_requests_as_json(fresh_db: str, tmp_path: Path) -> None:
    r = load_file("send", _copy(tmp_path, SEN2 / "send_886_20261122.xml"))
    assert (r.status, r.rows_in_file, r.rows_loaded, r.rows_quarantined) == ("loaded", 4, 4, 0)
    assert {"Ethnicity", "PlanDetail", "PlacementDetail", "RYA", "RequestMediation", "RequestTribunal",
            "Week20", "ReviewDraft"} <= set(r.dropped_columns)
    batch = _query(fresh_db, "select status, rows_in_file, rows_loaded, rows_quarantined, date_format,"
                             " dropped_columns_list from audit.batches")
    assert batch[0][:5] == ("loaded", 4, 4, 0, "iso")
    assert set(batch[0][5].split(",")) == set(r.dropped_columns)
    rows = _query(fresh_db, """select _row_number, _date_format, _sender_code, lea, surname, forename, personbirthdate,
                                      sex, postcode, upn, uniquelearnernumber, upnunknown, requests
                               from raw.send order by _row_number""")
    assert [row[:3] for row in rows] == [(n, "iso", "886") for n in (1, 2, 3, 4)]
    assert all(row[3] == "886" for row in rows)  # the header's LEA on every person
    assert rows[0][4:12] == ("Testpupil-One", "Amira", "2014-05-06", "F", "ME15 6ZZ", "A886100001001", None, None)
    assert rows[1][9:12] == (None, "4000000011", "UN2")
    # Blank and empty items are NULL; values are trimmed.
    assert rows[3][7:10] == (None, None, "T886100001004")
    first = json.loads(rows[0][12])
    assert first == [{
        "ReceivedDate": "2021-03-01", "RequestSource": "1", "RequestOutcome": "A", "RequestOutcomeDate": "2021-04-10",
        "Assessment": [{
            "AssessmentOutcome": "H", "AssessmentOutcomeDate": "2021-08-20",
            "NamedPlan": [{"StartDate": "2021-09-01", "PlanRes": "0", "PlanWBP": "0", "PB": "1", "OA": "0",
                           "DP": "1", "CeaseDate": None, "CeaseReason": None}],
        }],
        "ActivePlans": [{
            "TransferLA": "0", "ReviewMeeting": "2026-03-10", "ReviewOutcome": "Y", "LastReview": "2026-03-24",
            "SENneed": [{"SENtype": "ASD", "SENtypeRank": "1"}, {"SENtype": "SLCN", "SENtypeRank": "2"}],
        }],
    }]
    # The PlanWPB spelling is stored as PlanWBP; a ceased plan keeps its cease date and reason; PB false as sent.
    plan = json.loads(rows[1][12])[0]["Assessment"][0]["NamedPlan"]
    assert plan == [{"StartDate": "2019-06-01", "PlanRes": "1", "PlanWBP": "1", "PB": "false", "OA": "false",
                     "DP": "0", "CeaseDate": "2025-07-31", "CeaseReason": "4"}]
    # Two requests in file order; one module occurring once is still an array; absent modules are empty arrays.
    third = json.loads(rows[2][12])
    assert [q["RequestOutcome"] for q in third] == ["R", "A"]
    assert third[0]["Assessment"] == [] and third[0]["ActivePlans"] == []
    assert [n["SENtype"] for n in third[1]["ActivePlans"][0]["SENneed"]] == ["DS", "MLD"]
    # Nothing dropped at the door is stored anywhere.
    stored = json.dumps([list(r) for r in rows])
    for dropped in ("WBRI", "MWBC", "118001", "10001234", "OLA", "OPA", "Ethnicity", "PlanDetail", "Week20", "URN"):
        assert dropped not in stored
    columns = {c for (c,) in _query(fresh_db, "select column_name from information_schema.columns"
                                              " where table_schema = 'raw' and table_name = 'send'")}
    assert "ethnicity" not in columns


def test_a_2024_return_loads_with_its_own_element_set(fresh_db: str, tmp_path: Path) -> None:
    r = load_file("send", _copy(tmp_path, SEN2 / "send_850_20261122.xml"))
    assert (r.status, r.rows_in_file, r.rows_loaded, r.rows_quarantined) == ("loaded", 2, 2, 0)
    (requests,) = _query(fresh_db, "select requests from raw.send where _row_number = 1")[0]
    first = json.loads(requests)[0]
    assert "RequestSource" not in first  # a 2025 item
    assert first["Assessment"][0]["NamedPlan"][0]["PB"] == "true"
    # A 2025-only element in a 2024 return is drift.
    drift = _return(_person(1, extra=""), HEADER.replace("2025", "2024")).replace(
        "<ReceivedDate>", "<RequestSource>1</RequestSource><ReceivedDate>")
    rejected = load_file("send", _write(tmp_path, "send_886_20261121.xml", drift))
    assert (rejected.status, rejected.reason_code) == ("rejected", "unknown_elements")
    assert "'RequestSource'" in (rejected.reason or "") and "2024" in (rejected.reason or "")


def test_the_same_return_twice_is_a_duplicate_and_changes_nothing(fresh_db: str, tmp_path: Path) -> None:
    path = _copy(tmp_path, SEN2 / "send_886_20261122.xml")
    first, second = load_file("send", path), load_file("send", path)
    assert (first.status, second.status, second.reason_code) == ("loaded", "duplicate", "already_loaded")
    assert _query(fresh_db, "select count(*) from raw.send") == [(4,)]


def test_ipb_load_send_reads_the_xml(fresh_db: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from ipb.cli import app

    out = CliRunner().invoke(app, ["load", "send", str(_copy(tmp_path, SEN2 / "send_886_20261123.xml"))])
    assert out.exit_code == 0, out.output
    assert "persons in file" in out.output and "14" in out.output and "invalid_code" in out.output
    _no_secret(out.output)


# -- bad persons ------------------------------------------------------------------------------------------------------

EXPECTED_PERSONS = {
    2: ["missing_value"],  # no Surname
    3: ["invalid_date"],  # PersonBirthDate 2014-02-30
    4: ["birth_date_in_future"],
    5: ["invalid_code"],  # Sex X
    6: ["missing_value"],  # a NamedPlan without StartDate
    7: ["invalid_code"],  # PB 2
    8: ["invalid_code"],  # SENtypeRank "first"
    9: ["invalid_date"],  # CeaseDate in DD/MM/YYYY: SEN2 dates are xs:date
    12: ["nul_byte"],  # a C1 control character inside Forename
    13: ["missing_value", "invalid_code"],  # no Forename; Sex x and OA yes
}


def test_a_bad_person_is_quarantined_whole_and_the_good_ones_load(
        fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        r = load_file("send", _copy(tmp_path, SEN2 / "send_886_20261123.xml"))
    assert (r.status, r.rows_in_file, r.rows_loaded, r.rows_quarantined) == ("loaded", 14, 4, 10)
    assert r.quarantine_reasons == {"invalid_code": 3, "missing_value": 3, "invalid_date": 2,
                                    "birth_date_in_future": 1, "nul_byte": 1}
    held = _query(fresh_db, "select row_number, all_reason_codes, reason_code, reason, record, feed"
                            " from quarantine.rows order by row_number")
    assert {row[0]: row[1] for row in held} == EXPECTED_PERSONS
    assert all(row[2] == row[1][0] and row[3] == SEN2_READABLE[row[2]] and row[5] == "send" for row in held)
    by_row = {row[0]: row[4] for row in held}
    # The kept items go to the quarantine zone (restricted), so the sender can correct the person.
    assert by_row[5]["sex"] == "X" and by_row[5]["surname"] == "Testpupil5"
    assert by_row[7]["requests"][0]["Assessment"][0]["NamedPlan"][0]["PB"] == "2"
    assert by_row[12] == {"field_count": 10}  # a control character: the record is not kept
    loaded = _query(fresh_db, "select _row_number, upn, uniquelearnernumber, sex, requests from raw.send"
                              " order by _row_number")
    assert [row[0] for row in loaded] == [1, 10, 11, 14]
    # Unknown descriptive values are kept as sent (staging maps them to Unknown); invalid UPN/ULN cost nothing.
    plan = json.loads(loaded[1][4])[0]
    assert plan["Assessment"][0]["NamedPlan"][0]["DP"] == "X"
    assert plan["Assessment"][0]["NamedPlan"][0]["CeaseReason"] == "12"
    assert plan["ActivePlans"][0]["SENneed"][0]["SENtype"] == "XYZ"
    assert loaded[2][1:3] == ("A123", "12")
    assert loaded[3][3] == "f"  # code lists ignore case; stored as sent
    _no_secret(caplog.text, [row[:4] for row in held], _query(fresh_db, "select * from audit.batches"))


def test_a_value_over_the_field_limit_quarantines_its_person_without_keeping_it(fresh_db: str, tmp_path: Path) -> None:
    text = _return(_person(1) + _person(2, forename="A" * 5000) + _person(3))
    r = load_file("send", _write(tmp_path, "send_886_20261122.xml", text))
    assert (r.rows_in_file, r.rows_loaded, r.quarantine_reasons) == (3, 2, {"field_too_long": 1})
    assert _query(fresh_db, "select row_number, record from quarantine.rows") == [(2, {"field_count": 10})]


@pytest.mark.fast
@pytest.mark.parametrize(("value", "valid"), [
    ("2024-02-29", True), ("2023-02-29", False), ("1899-12-31", False), ("1900-01-01", True), ("9999-12-31", True),
    ("2024-1-05", False), ("05/01/2024", False), ("2024-01-05Z", False), ("0000-01-01", False), ("2024-04-31", False),
])
def test_sen2_dates_have_the_validity_of_util_to_date(value: str, valid: bool) -> None:
    assert is_iso_date(value) is valid


def test_sen2_date_validity_matches_sql(fresh_db: str) -> None:
    values = ["2024-02-29", "2023-02-29", "1899-12-31", "1900-01-01", "9999-12-31", "2024-1-05", "1999-13-01",
              "2024-04-31", "0000-01-01", "2024-00-10", "1900-02-29", "2000-02-29"]
    db.bootstrap()
    got = _query(fresh_db, "select v, util.to_date(v, 'iso') is not null from unnest(%s::text[]) as v", (values,))
    assert {v: ok for v, ok in got} == {v: is_iso_date(v) for v in values}


# -- rejected files ---------------------------------------------------------------------------------------------------

REJECTIONS = [
    # (file name, content or fixture, reason code, persons counted before the fault)
    ("send_886_20261124.xml", SEN2 / "send_886_20261124.xml", "xml_forbidden", 0),
    ("send_886_20261125.xml", SEN2 / "send_886_20261125.xml", "xml_forbidden", 0),
    ("send_886_20261126.xml", SEN2 / "send_886_20261126.xml", "truncated_file", 2),
    ("send_886_20261127.xml", SEN2 / "send_886_20261127.xml", "sender_mismatch", 0),
    ("send_886_20261128.xml", SEN2 / "send_886_20261128.xml", "unknown_elements", 1),
    ("send_886_20261120.xml", '<?xml version="1.0"?>\n<!DOCTYPE Message SYSTEM "file:///etc/passwd">\n<Message/>',
     "xml_forbidden", 0),
    ("send_886_20261119.xml", _return(_person(1)).replace("<Message>", "<Return>").replace("</Message>", "</Return>"),
     "not_sen2", 0),
    ("send_886_20261118.xml", _return(_person(1) + _person(2).replace("</Forename>", "</Forname>")),
     "malformed_xml", 1),
    ("send_886_20261117.xml", _return(""), "no_data_rows", 0),
    ("send_886_20261116.xml", _return(_person(1), "<Header><Source><SourceLevel>L</SourceLevel></Source></Header>"),
     "sender_mismatch", 0),
    ("send_886_20261115.xml", b"", "empty_file", 0),
    ("send_886_20261114.xml", _return(_person(1) + _person(2, extra="<A886100001001>x</A886100001001>")),
     "unknown_elements", 1),
    ("send_886_20261113.xml", _return(_person(1).replace("<SENtypeRank>", "<Shoe>9</Shoe><SENtypeRank>")),
     "unknown_elements", 0),
    ("send_886_20261112.xml", _return(_person(1)).replace("Testpupil1", "&bogus;"), "malformed_xml", 0),
]


@pytest.mark.parametrize(("name", "content", "code", "counted"), REJECTIONS, ids=[r[2] + ":" + r[0][-6:-4]
                                                                                     for r in REJECTIONS])
def test_each_unsafe_or_broken_return_is_rejected_with_its_reason_in_seconds(
        fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content, code: str,
        counted: int) -> None:
    path = _copy(tmp_path, content, name) if isinstance(content, Path) else _write(tmp_path, name, content)
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG):
        r = load_file("send", path)
    assert time.monotonic() - started < 10
    assert (r.status, r.reason_code, r.rows_in_file) == ("rejected", code, counted)
    audit = _query(fresh_db, "select status, reason_code, reason, rows_in_file, checksum from audit.batches")
    assert [(a[0], a[1], a[3]) for a in audit] == [("rejected", code, counted)] and audit[0][4]
    # Nothing of a rejected file stays: the load's one transaction rolled back.
    assert _query(fresh_db, "select (select count(*) from raw.send), (select count(*) from quarantine.rows)") == [
        (0, 0)]
    _no_secret(r.reason, caplog.text, audit)
    assert "850" not in (r.reason or "")  # the other council's code in the header is not quoted either


def test_an_unknown_element_is_named_with_its_module_path_only_when_it_looks_like_a_name(
        fresh_db: str, tmp_path: Path) -> None:
    named = load_file("send", _copy(tmp_path, SEN2 / "send_886_20261128.xml"))
    assert named.reason and "'FavouriteColour' in Message/Persons/Person" in named.reason
    nested = load_file("send", _write(tmp_path, "send_886_20261121.xml", _return(
        _person(1).replace("<SENtypeRank>", "<Shoe>9</Shoe><SENtypeRank>"))))
    assert nested.reason and "'Shoe' in Message/Persons/Person/Requests/ActivePlans/SENneed" in nested.reason
    hidden = load_file("send", _write(tmp_path, "send_886_20261120.xml", _return(
        _person(1, extra="<A886100001001>x</A886100001001>"))))
    assert hidden.reason and "A886100001001" not in hidden.reason and "line 4" in hidden.reason


def test_an_entity_bomb_is_refused_without_expanding_it_and_memory_stays_flat(fresh_db: str, tmp_path: Path) -> None:
    path = _copy(tmp_path, SEN2 / "send_886_20261125.xml")
    tracemalloc.start()
    try:
        r = load_file("send", path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.reason_code == "xml_forbidden"
    assert peak < 20 << 20


def test_a_large_return_is_read_with_flat_memory(fresh_db: str, tmp_path: Path) -> None:
    """About 12 MB and 12,000 persons: what the parser holds at once is one person, whatever the file's size."""
    path = tmp_path / "send_886_20261122.xml"
    with path.open("w") as fh:
        fh.write(_return("").split("</Persons>")[0])
        for i in range(12_000):
            fh.write(_person(i, extra="<Ethnicity>WBRI</Ethnicity>" + "<!-- padding -->" * 30))
        fh.write("</Persons></Message>\n")
    assert path.stat().st_size > 10 << 20
    tracemalloc.start()
    try:
        r = load_file("send", path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (r.rows_in_file, r.rows_loaded) == (12_000, 12_000)
    assert peak < 16 << 20, f"peak traced memory {peak / 2**20:.1f} MiB"


# -- send_budget ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def budgets(settings: config.Settings, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("send_budget")
    with warehouse.scratch_database(settings, "ipb_test_budget") as (_, env), pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        db.bootstrap()
        results = {name: load_file("send_budget", _copy(tmp, BUDGET / name))
                   for name in ("send_budget_886_20261122.csv", "send_budget_850_20261122.csv")}
        url = warehouse.admin_url(config.load())
        yield results, url, dict(_query(url, "select row_number, reason_code from quarantine.rows"
                                             " where file_name = 'send_budget_886_20261122.csv'"))


BUDGET_RULES = [
    (4, "missing_value"),  # no Surname
    (5, "invalid_date"),  # PlanStartDate 2021-02-30
    (6, "invalid_amount"),  # a thousands separator
    (7, "birth_date_in_future"),
    (8, "invalid_code"),  # Sex X
    (9, "age_out_of_range"),  # 31 at PlanStartDate
    (10, "missing_amounts"),  # neither element
    (11, "negative_amount"),
    (12, "direct_payment_exceeds_total"),
    (13, "end_before_start"),
    (14, "sender_mismatch"),  # LEA 850 in 886's file
    (15, "duplicate_key"),  # BudgetID repeats row 1's
    (16, "invalid_timestamp"),
]


def test_send_budget_loads_good_rows_and_keeps_invalid_optional_identifiers(budgets) -> None:
    results, url, _ = budgets
    r = results["send_budget_886_20261122.csv"]
    assert (r.status, r.rows_in_file, r.rows_loaded, r.rows_quarantined) == ("loaded", 16, 3, 13)
    kept = _query(url, "select _row_number, budgetid, upn, uniquelearnernumber, nhsnumber, postcode"
                       " from raw.send_budget where _file_name = 'send_budget_886_20261122.csv' order by 1")
    assert [k[:2] for k in kept] == [(1, "B0001"), (2, "B0002"), (3, "B0003")]
    assert kept[2][2:] == ("A123", "12", "1234567890", "NOT A PC")  # invalid optional identifiers cost nothing
    dmy = results["send_budget_850_20261122.csv"]
    assert (dmy.status, dmy.rows_in_file, dmy.rows_loaded) == ("loaded", 2, 2)
    assert _query(url, "select date_format from audit.batches where file_name = 'send_budget_850_20261122.csv'"
                  ) == [("dmy",)]


@pytest.mark.parametrize(("row", "code"), BUDGET_RULES, ids=[c for _, c in BUDGET_RULES])
def test_send_budget_rule(budgets, row: int, code: str) -> None:
    _, _, reasons = budgets
    assert reasons.get(row) == code


def test_a_load_killed_mid_copy_leaves_nothing_and_the_rerun_loads_it_all(fresh_db: str, tmp_path: Path) -> None:
    """IG.md promise 5 for the XML path: the batch row, the persons and the quarantined persons are one
    transaction, so SIGKILL while the persons stream into raw.send leaves no trace, and the rerun is a clean load."""
    import os
    import signal
    import subprocess
    import sys

    persons = 20_000
    path = tmp_path / "send_886_20261122.xml"
    with path.open("w") as fh:
        fh.write(_return("").split("</Persons>")[0])
        for i in range(persons):
            fh.write(_person(i, forename="" if i == 7 else "Sam"))  # one quarantined person too
        fh.write("</Persons></Message>\n")
    db.bootstrap()
    code = f"from ipb.ingest import load_file; load_file('send', {str(path)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    killed = False
    deadline = time.monotonic() + 120
    with psycopg.connect(fresh_db, autocommit=True) as watch:
        while time.monotonic() < deadline and proc.poll() is None:
            if watch.execute("select count(*) from pg_stat_activity where datname = current_database()"
                             " and state = 'active' and query ilike 'copy \"raw\".\"send\"%'").fetchone()[0]:
                time.sleep(0.3)  # some persons are on their way
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    proc.wait(timeout=60)
    assert killed, "the load finished before its COPY was seen; make the file bigger"
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        for _ in range(200):
            if not conn.execute("select count(*) from pg_stat_activity where datname = current_database()"
                                " and pid <> pg_backend_pid() and backend_type = 'client backend'").fetchone()[0]:
                break
            time.sleep(0.05)
        left = conn.execute("select (select count(*) from raw.send), (select count(*) from quarantine.rows),"
                            " (select count(*) from audit.batches)").fetchone()
    assert left == (0, 0, 0)
    rerun = load_file("send", path)
    assert (rerun.status, rerun.rows_in_file, rerun.rows_loaded, rerun.quarantine_reasons) == (
        "loaded", persons, persons - 1, {"missing_value": 1})


@pytest.mark.fast
@pytest.mark.parametrize("release", ["2025", "2024"])
def test_the_element_set_is_consistent_with_raw_send_and_the_code_lists(release: str) -> None:
    from ipb import contract, feeds
    from ipb.ingest.sen2 import element_set

    elements = contract.sen2_elements(release)
    modules = {e.path for e in elements if e.kind == "module"}
    assert all(e.module in modules or e.module == "" for e in elements), "an element's module is not listed"
    for e in elements:
        if e.code_list:
            assert contract.codes(e.code_list), e.code_list
        assert e.kind in {"module", "date", "code", "flag", "rank", "name", "postcode", "upn", "uln", "sender_code",
                          "text", "integer", "datetime"}, e
        assert e.on_unknown in ({""} if e.kind == "module" else {"quarantine", "keep", "reject"}), e
    shapes = element_set(release).shapes
    person = {contract.normalise(n) for n, is_module in shapes["Message/Persons/Person"] if not is_module}
    assert person | {"lea", "requests"} == set(feeds.SEND.raw_columns)
    kept = {m.rsplit("/", 1)[-1]: [n for n, _ in items] for m, items in shapes.items()}
    assert kept["NamedPlan"] == ["StartDate", "PlanRes", "PlanWBP", "PB", "OA", "DP", "CeaseDate", "CeaseReason"]
    assert kept["SENneed"] == ["SENtype", "SENtypeRank"]
    assert "Ethnicity" not in kept["Person"] and "PlanDetail" not in kept["NamedPlan"]
    assert ("RequestSource" in kept["Requests"]) is (release == "2025")


# -- the reader alone: its rows are what a plain reading of the file gives ---------------------------------------------

# Values a council's export may hold and the reader must store exactly: entities, quotes, backslashes, percent signs,
# non-ASCII, CDATA, a comment or an attribute, a namespace prefix, CRLF line ends, blanks, a repeated item, the
# PlanWPB spelling, empty modules.
TRICKY = (_return(
    "<Person>\r\n  <Surname> O&apos;Brien &amp; \"Jr\" \\ 100%s </Surname><Forename lang=\"en\">Zo\u00eb \U0001F600"
    "</Forename><PersonBirthDate>2014-05-06</PersonBirthDate><Sex> m </Sex><Ethnicity>WBRI</Ethnicity>"
    "<PostCode><![CDATA[ME15 6ZZ]]></PostCode><UPN>A886<!-- x -->100001001</UPN><UPNunknown>   </UPNunknown>\r\n"
    "  <Requests><ReceivedDate>2022-01-10</ReceivedDate><RequestSource>%d</RequestSource><RYA>1</RYA>"
    "<RequestOutcome>\u00c4\u2028</RequestOutcome><Assessment><AssessmentOutcome>H</AssessmentOutcome>"
    "<NamedPlan><StartDate> 2022-09-01 </StartDate><PlanWPB>a\"b\\c</PlanWPB><PB>TRUE</PB><OA>0</OA><DP>%%</DP>"
    "<DP>\u00e9\u00e9</DP><PlanDetail><URN>1</URN></PlanDetail></NamedPlan><NamedPlan><StartDate>2023-09-01"
    "</StartDate></NamedPlan></Assessment><ActivePlans><SENneed><SENtype>X\"Y</SENtype><SENtypeRank>1</SENtypeRank>"
    "</SENneed><SENneed><SENtype>ASD</SENtype><SENtypeRank>0002</SENtypeRank></SENneed></ActivePlans></Requests>"
    "<Requests/><Requests><Assessment></Assessment></Requests>\r\n</Person>\r\n"
    "<Person><s:Surname xmlns:s=\"urn:x\">Testpupil2</s:Surname><Forename>\u00e9" + "\u00e9" * 2999 + "</Forename>"
    "<PersonBirthDate>2010-12-31</PersonBirthDate><Sex>F</Sex><?note x?><UPN>T886&#xA0;1</UPN><UniqueLearnerNumber>"
    "4000000011</UniqueLearnerNumber><Requests><ReceivedDate>2019-02-03</ReceivedDate><ActivePlans><TransferLA>"
    "a&#xA0;b</TransferLA></ActivePlans></Requests></Person>\n") + "\n").replace("\n<Persons>", "\r\n<Persons>")


def _tree_rows(data: bytes) -> dict[int, dict]:
    """Each Person's raw.send row worked out from a whole-tree parse and the element set (the contract): kept items
    in specification order, values trimmed (None when blank), Requests as compact JSON."""
    from defusedxml.ElementTree import fromstring

    from ipb.contract import normalise
    from ipb.ingest.sen2 import PERSON, element_set, release_for

    def local(element) -> str:
        return element.tag.rpartition("}")[2]

    def child(element, *names: str):
        for name in names:
            element = next(c for c in element if local(c) == name)
        return element

    root = fromstring(data)
    es = element_set(release_for(child(root, "Header", "CollectionDetails", "Year").text.strip()))

    def read(element, path: str) -> dict:
        obj = {name: [] if is_module else None for name, is_module in es.shapes.get(path, ())}
        for c in element:
            item = es.children[path][local(c)]
            if item.name in obj and item.kind == "module":
                obj[item.name].append(read(c, item.path))
            elif item.name in obj:
                obj[item.name] = "".join(c.itertext()).strip() or None
        return obj

    lea = child(root, "Header", "Source", "LEA").text.strip()
    rows = {}
    for n, person in enumerate(child(root, "Persons"), start=1):
        obj = read(person, PERSON)
        requests = obj.pop("Requests")
        rows[n] = {"lea": lea, **{normalise(k): v for k, v in obj.items()},
                   "requests": json.dumps(requests, ensure_ascii=False, separators=(",", ":"))}
    return rows


def _read_all(data: bytes, sender: str = "886") -> tuple:
    from ipb.ingest.filecheck import FileRejected
    from ipb.ingest.sen2 import Sen2Reader

    reader = Sen2Reader(io.BytesIO(data), sender, today=date(2026, 11, 22))
    try:
        records = [(p.ordinal, p.row, p.reasons, p.record) for p in reader.persons()]
    except FileRejected as exc:
        return exc.code, str(exc), exc.rows_in_file
    return records, reader.persons_in_file, reader.dropped, reader.release


@pytest.mark.fast
@pytest.mark.parametrize("source", ["send_886_20261122.xml", "send_850_20261122.xml", "tricky"])
def test_each_person_row_is_what_a_plain_reading_of_the_file_gives(source: str) -> None:
    data = TRICKY.encode() if source == "tricky" else (SEN2 / source).read_bytes()
    sender = "850" if "850" in source else "886"
    records, persons, _, _ = _read_all(data, sender)
    expected = _tree_rows(data)
    assert persons == len(expected) and [r[0] for r in records] == list(expected)
    for ordinal, row, reasons, _ in records:
        assert reasons == [] and row == expected[ordinal], ordinal
        assert list(row) == list(expected[ordinal])  # the same columns in the same order
    if source == "tricky":
        first, second = (records[0][1], records[1][1])
        assert (first["surname"], first["forename"], first["postcode"], first["upn"], first["upnunknown"]) == (
            "O'Brien & \"Jr\" \\ 100%s", "Zo\u00eb \U0001F600", "ME15 6ZZ", "A886100001001", None)
        assert '"PlanWBP":"a\\"b\\\\c"' in first["requests"] and '"DP":"\u00e9\u00e9"' in first["requests"]
        assert first["requests"].endswith(',{"ReceivedDate":null,"RequestSource":null,"RequestOutcome":null,'
                                          '"RequestOutcomeDate":null,"Assessment":[],"ActivePlans":[]},'
                                          '{"ReceivedDate":null,"RequestSource":null,"RequestOutcome":null,'
                                          '"RequestOutcomeDate":null,"Assessment":[{"AssessmentOutcome":null,'
                                          '"AssessmentOutcomeDate":null,"NamedPlan":[]}],"ActivePlans":[]}]')
        assert (second["surname"], len(second["forename"]), second["upn"],
                json.loads(second["requests"])[0]["ActivePlans"]) == (
            "Testpupil2", 3000, "T886\xa01", [{"TransferLA": "a\xa0b", "ReviewMeeting": None, "ReviewOutcome": None,
                                  "LastReview": None, "SENneed": []}])


@pytest.mark.fast
def test_a_return_reads_the_same_whatever_the_size_of_the_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Text split between reads, a value over the limit spread over many reads, namespaces everywhere."""
    from ipb.ingest import sen2

    long_value = _return(_person(1) + _person(2, forename="A" * 4097) + _person(3, forename=" " * 5000 + "B"))
    everywhere = _return(_person(1)).replace("<Message>", '<Message xmlns="urn:sen2">')
    for data in (TRICKY.encode(), (SEN2 / "send_886_20261123.xml").read_bytes(), long_value.encode(),
                 everywhere.encode(), (SEN2 / "send_886_20261126.xml").read_bytes()):
        expected = _read_all(data)
        for size in (1, 7, 1000):
            monkeypatch.setattr(sen2, "CHUNK", size)
            assert _read_all(data) == expected, size
        monkeypatch.undo()
    assert [r[2] for r in _read_all(long_value.encode())[0]] == [[], *[["field_too_long", "missing_value"]] * 2]
    assert _read_all(everywhere.encode()) == _read_all(_return(_person(1)).encode())  # names are read without it
