"""IG.md promise 1 against hostile input: a night with rejected files and quarantined rows, run as a data engineer
runs it (`ipb run` in a subprocess), leaves no identifier of its files anywhere a person can read: the console,
the audit schema, quarantine reasons, Airflow's metadata and logs, Data Docs, dbt artifacts and published outputs.
The identifiers looked for are every NHS number in the landed files and distinctive names, dates of birth and
postcodes planted in the hostile files and rows."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ipb import config, warehouse
from ipb.generate import generate_night
from tests import feedrows as fr
from tests.conftest import isolated_world

pytestmark = pytest.mark.scenario

NIGHT = date(2026, 11, 22)
KEY = "ig-test-key-5d0c7a21e9b84f36"
# Planted identifiers: unusual enough that finding one anywhere can only mean it leaked.
NAMES = ("Quillerby", "Xanthippa", "Vorbeck-Ollant")  # surname, forename, a second surname
POSTCODE = "ME14 9QZ"
BIRTH_DATE = "1937-02-19"


def _planted(i: int, **over: str) -> dict[str, str]:
    planted = {"forename": NAMES[1], "surname": NAMES[0], "postcode": POSTCODE, "date_of_birth": BIRTH_DATE,
               "icb_code": "QKS"}
    return fr.phb(800000 + i, **{**planted, **over})


def _hostile_files(folder: Path, outside: Path) -> None:
    """Files that are refused, or whose rows are quarantined, each holding the planted identifiers."""
    header, *rows = fr.csv_text("nhs_phb", [_planted(1), _planted(2)]).splitlines(keepends=True)
    stamp = NIGHT.strftime("%Y%m%d")
    (folder / f"nhs_phb_QKS_{stamp}.csv").unlink(missing_ok=True)
    # No header row: the first line is a person.
    (folder / f"nhs_phb_QKS_{stamp}.csv").write_text("".join(rows))
    # Schema drift: a header with a person's NHS number as a column name (withheld: referred to by position) and
    # a column-name-like cell (named, as drift must be; column names are the file's structure, not its content).
    cols = list(fr.feeds.FEEDS["nhs_phb"].columns)
    (folder / f"nhs_phb_QRL_{stamp}.csv").write_text(
        fr.csv_text("nhs_phb", [_planted(3)], cols + [fr.nhs_number(800004), "Shoe size"]))
    # A name that is a person, and a symlink to a file outside the landing zone.
    (folder / f"{NAMES[0]} {fr.nhs_number(800005)}.csv").write_text(header + rows[0])
    target = outside / "elsewhere.csv"
    target.write_text("".join(rows))
    (folder / f"social_care_886_{stamp}.csv").unlink(missing_ok=True)
    (folder / f"social_care_886_{stamp}.csv").symlink_to(target)
    # Rows that are quarantined: a bad amount, a NUL byte, a mixed-encoding file.
    bad_rows = [_planted(6, notional_gbp="12.345"), _planted(7, surname=NAMES[0] + "\x00"), _planted(8)]
    (folder / f"nhs_phb_QE1_{stamp}.csv").write_text(
        fr.csv_text("nhs_phb", [dict(r, icb_code="QE1", sub_icb_code="") for r in bad_rows]))
    (folder / f"nhs_phb_QXU_{stamp}.csv").write_bytes(
        fr.csv_text("nhs_phb", [dict(_planted(9, forename="Zoë"), icb_code="QXU", sub_icb_code="")]).encode()
        + NAMES[2].encode() + b"\xe9\n")


@pytest.fixture(scope="module")
def hostile_night(tmp_path_factory: pytest.TempPathFactory):
    settings = config.load()
    warehouse.start(settings)
    base = tmp_path_factory.mktemp("ig")
    folder = base / "landing" / NIGHT.isoformat()
    generate_night(NIGHT, 300, folder, seed=99, defects=0.03, truth_dir=base / "truth")
    outside = base / "outside"
    outside.mkdir()
    _hostile_files(folder, outside)
    with isolated_world(settings, base, "ipb_test_ig", KEY) as (name, run_env):
        ipb = str(Path(sys.executable).with_name("ipb"))
        proc = subprocess.run([ipb, "run", "--date", NIGHT.isoformat(), "--landing", str(folder)], env=run_env,
                              capture_output=True, timeout=1200)
        yield base, folder, proc, warehouse.admin_url(settings, name)


def _identifiers(folder: Path) -> set[bytes]:
    found = {n.encode() for n in NAMES} | {POSTCODE.encode(), BIRTH_DATE.encode()}
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found |= set(re.findall(rb"999\d{7}", data))  # NHS numbers (test range)
            found |= set(re.findall(rb"(?<![A-Za-z0-9])[A-HJ-NP-RT-Z]\d{12}(?![0-9])", data))  # UPNs (SEN2, budgets)
    return found


def _readable_database_text(url: str) -> bytes:
    """Everything an IG lead reads in the warehouse: the audit schema whole, quarantine reasons and file names
    (not the quarantined records, which are the rejected rows themselves, kept for the loader and transformer)."""
    parts = []
    with psycopg.connect(url) as conn:
        for (table,) in conn.execute("select table_name from information_schema.tables where table_schema = 'audit'"):
            parts += [r[0] for r in conn.execute(
                sql.SQL("select x::text from {} as x").format(sql.Identifier("audit", table)))]
        parts += [r[0] for r in conn.execute(
            "select concat_ws('|', file_name, reason_code, reason, all_reason_codes::text) from quarantine.rows")]
        parts += [r[0] for r in conn.execute("select x::text from quarantine.reason_counts as x")]
    return "\n".join(parts).encode()


def test_the_hostile_night_ran_and_refused_what_it_should(hostile_night) -> None:
    _, _, proc, url = hostile_night
    console = proc.stdout + proc.stderr
    assert b"Traceback" not in console, console.decode(errors="replace")[-3000:]
    with psycopg.connect(url) as conn:
        codes = {r[0] for r in conn.execute("select reason_code from audit.batches where status = 'rejected'")}
        quarantined = {r[0] for r in conn.execute("select distinct reason_code from quarantine.rows")}
        loaded = conn.execute("select count(*) from audit.batches where status = 'loaded'").fetchone()[0]
    assert {"header_mismatch", "extra_columns", "bad_file_name", "symlink", "mixed_encoding"} <= codes
    assert {"invalid_amount", "nul_byte"} <= quarantined
    assert loaded > 0


def test_no_identifier_of_the_night_anywhere_a_person_can_read(hostile_night) -> None:
    base, folder, proc, url = hostile_night
    identifiers = _identifiers(folder)
    assert len(identifiers) > 100
    places: dict[str, bytes] = {"console": proc.stdout + proc.stderr, "warehouse audit": _readable_database_text(url)}
    settings = config.load()
    for root in (base / "airflow", base / "out", base / "expectations", settings.dbt_project_dir / "target",
                 settings.dbt_project_dir / "logs", settings.state_dir / "dbt_docs_target"):
        for path in (p for p in root.rglob("*") if p.is_file()):
            places[str(path)] = path.read_bytes()
    assert any("airflow" in p and p.endswith(".db") for p in places), "Airflow's metadata database was not scanned"
    assert any("data_docs" in p for p in places), "Data Docs were not scanned"
    # The failure names places and kinds only: a test's output is read by people too.
    def kind(identifier: bytes) -> str:
        return "NHS number" if identifier.isdigit() else "planted name, postcode or birth date"

    leaks = {place: sorted({kind(i) for i in identifiers if i in data}) for place, data in places.items()}
    leaks = {place: kinds for place, kinds in leaks.items() if kinds}
    assert not leaks, f"identifiers found (place: how many): {leaks}"
