"""The synthetic feed generator: valid identifiers, calibrated shares, determinism, a world that evolves ~1% a
day, every defect injected and labelled, file-level defects that are what they claim, social care files written as
councils write CLD Release 2 (headers, spellings, date formats and blanks varying by sender), and a loader that
agrees with the truth row for row. SEN2 XML, send_budget and the linkage hard cases: tests/test_generate_sen2.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ipb import contract, feeds
from ipb.generate import NATIONAL_PEOPLE, generate_night, is_valid_nhs_number, is_valid_upn
from ipb.generate.identifiers import make_nhs_number, make_upn, nhs_check_digit
from ipb.generate.night import GenerateError

NIGHT = "2026-11-22"
POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)[0-9][A-Z]{2}$")


def _read(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    """Rows of a CSV; a social care (CLD) file's columns by their normalised names, as the loader matches them."""
    with path.open(encoding=encoding, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if path.name.startswith("social_care_"):
        rows = [{contract.normalise(k): v for k, v in r.items()} for r in rows]
    return rows


def sen2_persons(path: Path) -> list[dict]:
    """The Person elements of a SEN2 return (parsed with defusedxml), each as its own items plus `plans` (one per
    NamedPlan: its items, `needs` as (SENtype, SENtypeRank) from its request's ActivePlans) and `requests`."""
    from defusedxml import ElementTree

    out = []
    for person in ElementTree.parse(path).getroot().iterfind("Persons/Person"):
        row: dict = {c.tag: (c.text or "") for c in person if len(c) == 0}
        row["plans"], row["requests"] = [], 0
        for req in person.iterfind("Requests"):
            row["requests"] += 1
            needs = [(n.findtext("SENtype"), n.findtext("SENtypeRank")) for n in req.iterfind("ActivePlans/SENneed")]
            for plan in req.iterfind("Assessment/NamedPlan"):
                item = {c.tag: (c.text or "") for c in plan if len(c) == 0}
                item["needs"] = needs
                item["active"] = req.find("ActivePlans") is not None
                item["details"] = [{c.tag: c.text for c in d} for d in plan.iterfind("PlanDetail")]
                row["plans"].append(item)
        out.append(row)
    return out


def _rows_of(path: Path) -> list[dict]:
    """A file's records: CSV rows, or a SEN2 file's Persons."""
    if path.suffix == ".xml":
        return sen2_persons(path)
    return _read(path, "cp1252" if _is_cp1252(path) else "utf-8-sig")


def _feed_rows(out: Path, feed: feeds.Feed) -> list[dict]:
    rows: list[dict] = []
    for f in _tonight(out, feed):
        rows.extend(_rows_of(f))
    return rows


def _tonight(out: Path, feed: feeds.Feed) -> list[Path]:
    ext = feed.extension
    return [f for f in sorted(out.glob(f"{feed.name}_*.{ext}"))
            if feed.file_pattern.match(f.name) and f.name.endswith(f"{NIGHT.replace('-', '')}.{ext}")]


def _is_cp1252(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _iso(value: str) -> str:
    """A CLD date as ISO: YYYY-MM-DD stays, DD/MM/YYYY is turned round."""
    return f"{value[6:]}-{value[3:5]}-{value[:2]}" if "/" in value else value


def _age(dob: str, at: str) -> int:
    b, a = dt.date.fromisoformat(_iso(dob)), dt.date.fromisoformat(_iso(at))
    return a.year - b.year - ((a.month, a.day) < (b.month, b.day))


def _canonical(code_list: str) -> dict[str, str]:
    """Accepted spelling (trimmed, lower case) -> canonical value, from the contract's code list."""
    return {c.spelling.strip().lower(): c.value for c in contract.codes(code_list)}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object, float]:
    """The ingestion tests' night: 300 people with defects at 2% per class."""
    base = tmp_path_factory.mktemp("small")
    t0 = time.perf_counter()
    s = generate_night(NIGHT, 300, base / "out", seed=11, defects=0.02, truth_dir=base / "truth")
    return base / "out", base / "truth", s, time.perf_counter() - t0


@pytest.fixture(scope="module")
def mid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A clean night big enough for shares: 20,000 people."""
    base = tmp_path_factory.mktemp("mid")
    generate_night(NIGHT, 20_000, base / "out", seed=5, truth_dir=base / "truth")
    return base / "out", base / "truth"


# ------------------------------------------------------------------------------------------------ identifiers

def test_identifier_validators_agree_with_sql(fresh_db: str) -> None:
    from ipb import db

    db.bootstrap()
    nhs = ["9434765919", "943 476 5919", "9434765918", "9434765919\n", " 9434765919", "\uff19434765919",
           "999000000", "99900000000", "", "abcdefghij"]
    nhs += [n for n in (make_nhs_number(f"999{i:06d}") for i in range(0, 3000, 7)) if n]
    nhs += [f"999{i:06d}{d}" for i in range(0, 400, 13) for d in range(10)]  # mostly invalid
    upn = ["A801200001001", "A801200001001\n", " A801200001001", "a801200001001", "I801200001001",
           "A80120000100", "", "A8012000010011", "A80120000100A"]
    upn += [make_upn(f"{i:012d}") for i in range(0, 10**12, 10**12 // 300)]
    upn += [f"{c}{i:012d}" for c in "ABZ" for i in range(0, 10**6, 10**6 // 100)]  # mostly invalid
    with psycopg.connect(fresh_db) as conn:
        sql_nhs = [r[0] for r in conn.execute("select util.is_valid_nhs_number(v) from unnest(%s::text[]) v", [nhs])]
        sql_upn = [r[0] for r in conn.execute("select util.is_valid_upn(v) from unnest(%s::text[]) v", [upn])]
    assert [is_valid_nhs_number(v) for v in nhs] == sql_nhs
    assert [is_valid_upn(v) for v in upn] == sql_upn
    assert any(sql_nhs) and not all(sql_nhs) and any(sql_upn) and not all(sql_upn)
    assert is_valid_nhs_number("943 476 5919") and not is_valid_nhs_number(None)
    assert nhs_check_digit("999000000") is not None or make_nhs_number("999000000") is None


# -------------------------------------------------------------------------------------------------- the night

@pytest.mark.fast
def test_small_night_writes_every_sender_file_fast(small: tuple) -> None:
    from ipb import reference

    out, truth, s, secs = small
    assert secs < 5, f"a 300-person night took {secs:.1f} s"
    ref = reference.load()
    ymd = NIGHT.replace("-", "")
    expected = {feeds.NHS_PHB.file_name(i.icb_code, ymd) for i in ref.icbs}
    expected |= {feeds.SOCIAL_CARE.file_name(o.cld_la_code, ymd) for o in ref.organisations}
    expected |= {feeds.SEND.file_name(o.dfe_la_number, ymd) for o in ref.organisations}
    expected |= {feeds.SEND_BUDGET.file_name(o.dfe_la_number, ymd) for o in ref.organisations}
    expected.add(f"national_opt_out_{ymd}.csv")
    names = {p.name for p in out.iterdir()}
    assert expected <= names
    assert "social_care_503_20261122.csv" in names and "send_925_20261122.xml" in names  # Lincolnshire
    assert "send_budget_925_20261122.csv" in names
    for f in expected - {f"national_opt_out_{ymd}.csv"}:
        feed = feeds.FEEDS[next(k for k in sorted(feeds.FEEDS, key=len, reverse=True) if f.startswith(k + "_"))]
        assert s.files[f] >= 1, f"{f} has no data rows"
        if feed is feeds.SEND:  # SEN2 XML: one Person per record, the header names the sender
            from defusedxml import ElementTree

            root = ElementTree.parse(out / f).getroot()
            assert root.tag == "Message" and root.findtext("Header/CollectionDetails/Collection") == "SEN2"
            assert root.findtext("Header/Source/LEA") == feed.file_pattern.match(f)["sender"]
            assert len(root.findall("Persons/Person")) == s.files[f]
            continue
        raw = (out / f).read_bytes().removeprefix(b"\xef\xbb\xbf")
        header = next(csv.reader(io.StringIO(raw.decode("cp1252").splitlines()[0])))
        if feed is feeds.SOCIAL_CARE:  # CLD Release 2: the sender's own spelling of the release's columns
            cols = [contract.normalise(h) for h in header]
            release = [fd.column for fd in contract.cld_fields()]
            assert cols == [c for c in release if c in cols] and len(set(cols)) == len(cols), f
        else:
            assert tuple(header) == feed.columns
    opt = (out / f"national_opt_out_{ymd}.csv").read_text(encoding="utf-8").splitlines()
    assert opt[0] == "nhs_number" and all(is_valid_nhs_number(n) for n in opt[1:])


@pytest.mark.fast
def test_truth_accounts_for_every_row(small: tuple) -> None:
    out, truth, s, _ = small
    records = _read(truth / "records.csv")
    per_file = Counter(r["file_name"] for r in records)
    for f in out.iterdir():
        if f.name.startswith("national_opt_out"):
            continue
        data = f.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("cp1252")
        if f.suffix == ".xml":  # a SEN2 record is a Person (also in the rejected returns a parser refuses)
            n_lines = data.count("<Person>")
        else:
            n_lines = len(list(csv.reader(io.StringIO(data)))) - 1 if data else 0
        assert per_file[f.name] == max(n_lines, 0) == s.files[f.name], f.name
    assert [int(r["row_number"]) for r in records if r["file_name"] == records[0]["file_name"]][:3] == [1, 2, 3]
    people = {r["person_id"]: r for r in _read(truth / "people.csv")}
    assert len(people) == 300 and {r["person_id"] for r in records} <= set(people)
    manifest = json.loads((truth / "manifest.json").read_text())
    assert manifest["arguments"] == {"date": NIGHT, "people": 300, "seed": 11, "defects": 0.02}
    assert manifest["rates"]["nickname"] > 0 and manifest["counts"]["files"] == dict(sorted(s.files.items()))


@pytest.mark.fast
def test_every_identifier_is_valid_unless_the_truth_says_otherwise(mid: tuple, small: tuple) -> None:
    for out, truth in (mid, small[:2]):
        bad_rows = {(d["file_name"], d["row_number"]) for d in _read(truth / "defects.csv")}
        # A mistyped NHS number is a hard case (the row is kept, the number ignored), not a defect.
        bad_rows |= {(h["file_name"], h["row_number"]) for h in _read(truth / "hard_cases.csv")
                     if h["case_class"] == "mistyped_nhs_number"}
        checked = Counter()
        for f in sorted(out.glob("*_2026112[12].*")):
            feed = next((feeds.FEEDS[k] for k in sorted(feeds.FEEDS, key=len, reverse=True)
                         if f.name.startswith(k + "_")), None)
            if feed is None or (f.name, "") in bad_rows:
                continue
            nhs_col, pc_col = {"nhs_phb": ("nhs_number", "postcode"), "social_care": ("nhs_number", "postcode"),
                               "send": (None, "PostCode"), "send_budget": ("NHSNumber", "PostCode")}[feed.name]
            for i, row in enumerate(_rows_of(f), start=1):
                if (f.name, str(i)) in bad_rows:
                    continue
                checked[feed.name] += 1
                nhs = row.get(nhs_col, "") if nhs_col else ""
                assert nhs == "" or is_valid_nhs_number(nhs), (f.name, i)
                assert nhs.replace(" ", "").startswith("999") or nhs == ""
                pc = row.get(pc_col, "")
                assert pc == "" or POSTCODE.match(pc.upper().replace(" ", "")), (f.name, i)
                if feed in (feeds.SEND, feeds.SEND_BUDGET):
                    assert row.get("UPN", "") == "" or is_valid_upn(row["UPN"]), (f.name, i)
                    assert row.get("UniqueLearnerNumber", "") == "" or re.fullmatch(r"[0-9]{10}",
                                                                                    row["UniqueLearnerNumber"])
        assert min(checked.values()) > 5 and sum(checked.values()) > 100 and len(checked) == 4


@pytest.mark.fast
def test_people_have_unique_true_identifiers(mid: tuple) -> None:
    people = _read(mid[1] / "people.csv")
    nhs = [p["nhs_number"] for p in people if p["nhs_number"]]
    upn = [p["upn"] for p in people if p["upn"]]
    assert len(nhs) == len(set(nhs)) and len(upn) == len(set(upn)) and len(nhs) > 10_000
    assert all(is_valid_nhs_number(n) and n.startswith("999") for n in nhs)
    assert all(is_valid_upn(u) for u in upn)


# ------------------------------------------------------------------------------------------------- calibration

@pytest.mark.fast
def test_nhs_phb_shares_match_the_national_figures(mid: tuple) -> None:
    rows = _feed_rows(mid[0], feeds.NHS_PHB)
    n = len(rows)
    assert 2500 < n < 4000
    cat = Counter(r["phb_category"] for r in rows)
    mgmt = Counter(r["management_option"] for r in rows)
    assert abs(cat["CHC"] / n - 0.156) < 0.03  # 29,399 of 188,489
    assert cat["WHEELCHAIR"] / n > 0.25  # "a large share"
    assert 0.12 < cat["LTC"] / n < 0.30 and 0.10 < cat["MENTAL_HEALTH"] / n < 0.25
    assert set(cat) == set(feeds.PHB_CATEGORIES)
    assert abs(mgmt["DIRECT_PAYMENT"] / n - 0.15) < 0.03
    assert abs(mgmt["NOTIONAL"] / n - 0.80) < 0.04
    assert abs(mgmt["THIRD_PARTY"] / n - 0.05) < 0.02
    assert 0 < mgmt["MIXED"] / n < 0.03
    children = sum(_age(r["date_of_birth"], NIGHT) < 18 for r in rows)
    assert abs(children / n - 0.14) < 0.03  # 25,855 of 188,489
    wheel = [r for r in rows if r["phb_category"] == "WHEELCHAIR"]
    assert {r["budget_basis"] for r in wheel} == {"ONE_OFF"}
    assert all(r["direct_payment_gbp"] == "0.00" for r in wheel)

    def median(c: str) -> float:
        v = sorted(sum(float(r[k]) for k in ("direct_payment_gbp", "notional_gbp", "third_party_gbp"))
                   for r in rows if r["phb_category"] == c)
        return v[len(v) // 2]

    assert 25_000 < median("CHC") < 90_000
    assert 1_000 < median("WHEELCHAIR") < 6_000
    amounts = sorted(float(r["notional_gbp"]) for r in rows if r["phb_category"] == "CHC" and
                     r["management_option"] == "NOTIONAL")
    assert amounts[-1] > 2 * amounts[len(amounts) // 2]  # skewed, not uniform
    for r in rows:
        age = _age(r["date_of_birth"], r["start_date"])
        assert r["phb_category"] != "CHC" or age >= 18
        assert r["phb_category"] != "CYP_CC" or age < 18
        assert r["end_date"] == "" or r["end_date"] >= r["start_date"]
        assert r["care_plan_agreed_date"] == "" or r["care_plan_agreed_date"] <= r["start_date"]


@pytest.mark.fast
def test_social_care_and_send_mixes(mid: tuple) -> None:
    sc = _feed_rows(mid[0], feeds.SOCIAL_CARE)
    canon = {f.column: _canonical(f.code_list) for f in contract.cld_fields() if f.code_list}

    def value(r: dict[str, str], col: str) -> str:
        return canon[col].get(r[col].strip().lower(), "?") if r.get(col) else ""

    events = Counter(value(r, "event_type") for r in sc)
    assert events["Service"] / len(sc) > 0.7 and all(events[e] > 0 for e in ("Request", "Assessment", "Review"))
    service = [r for r in sc if value(r, "event_type") == "Service"]
    mech = Counter(value(r, "delivery_mechanism") for r in service)
    for m in contract.canonical_values("cld_delivery_mechanism"):
        assert 0.1 < mech[m] / len(service) < 0.6, (m, mech)
    # Blank Delivery Mechanism: mostly on Direct payment components (derivable), a few elsewhere.
    blank = Counter(value(r, "service_component") for r in service if r["delivery_mechanism"] == "")
    assert blank["Direct payment"] > 20 and 0 < sum(blank.values()) - blank["Direct payment"] < 0.02 * len(service)
    freq = Counter(value(r, "cost_frequency_unit_type") for r in service)
    assert set(freq) == set(contract.canonical_values("cld_cost_frequency"))
    per_unit = {c.value for c in contract.codes("cld_cost_frequency") if c.warehouse_code == "per_unit"}
    for r in service:
        assert (r["planned_units_per_week"] != "") == (value(r, "cost_frequency_unit_type") in per_unit)
        assert r["planned_units_per_week"] == "" or float(r["planned_units_per_week"]) > 0
        assert _age(r["date_of_birth"], r["event_start_date"]) >= 18
        assert re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", r["unit_cost"]), r["unit_cost"]  # pounds, no sign
        assert r["service_type"] and r["service_component"]
    others = [r for r in sc if value(r, "event_type") != "Service"]
    money_cols = ("service_type", "service_component", "delivery_mechanism", "unit_cost", "cost_frequency_unit_type",
                  "planned_units_per_week")
    assert others and all(r.get(c, "") == "" for r in others for c in money_cols)
    missing = sum(r["nhs_number"] == "" for r in sc) / len(sc)
    assert 0.03 < missing < 0.15
    gender = Counter(value(r, "gender") for r in sc)
    assert (gender["Male"] + gender["Female"]) / len(sc) > 0.99 and gender["?"] == 0
    client = Counter(value(r, "client_type") for r in sc if "client_type" in r)
    assert client["Service user"] / sum(client.values()) > 0.85 and client["Unpaid carer"] > 20
    carer_types = {v for v in contract.canonical_values("cld_service_type") if v.startswith("Unpaid carer")}
    for r in service:
        is_carer = value(r, "client_type") in ("Unpaid carer", "Unpaid carer known by association")
        assert "client_type" not in r or is_carer == (value(r, "service_type") in carer_types), r
    funding = Counter(value(r, "client_funding_status") for r in sc if "client_funding_status" in r)
    assert 0 < funding["Unknown"] / sum(funding.values()) < 0.02
    psr = Counter(value(r, "primary_support_reason") for r in sc)
    assert len(psr) >= 10 and psr["?"] == 0

    send = _feed_rows(mid[0], feeds.SEND)
    plans = [pl for person in send for pl in person["plans"]]
    assert len(plans) == len(send)  # one EHC plan per Person (an earlier refused request has none)
    for person in send:
        for pl in person["plans"]:
            assert 0 <= _age(person["PersonBirthDate"], pl["StartDate"]) <= 25
            if pl["PB"] in ("0", "false"):
                assert pl["OA"] in ("0", "false") and pl["DP"] == "0"
            else:
                assert "1" in (pl["OA"], pl["DP"]) or pl["OA"] == "true"
    pb = Counter(pl["PB"] in ("1", "true") for pl in plans)
    assert 0.03 < pb[True] / len(plans) < 0.25
    budgets = _feed_rows(mid[0], feeds.SEND_BUDGET)
    assert abs(len(budgets) - pb[True]) <= 1  # a clean night: every personal budget has its amounts


# ------------------------------------------------------------------------------------ social care: CLD Release 2

_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DMY = re.compile(r"[0-9]{2}/[0-9]{2}/[0-9]{4}")


@pytest.fixture(scope="module")
def cld_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A clean night of a few thousand people: every social care sender's habits show."""
    base = tmp_path_factory.mktemp("cld")
    generate_night(NIGHT, 4000, base / "out", seed=21, truth_dir=base / "truth")
    return base / "out", base / "truth"


def _cld_file(f: Path) -> tuple[bytes, list[str], list[dict[str, str]]]:
    """Raw bytes, the header as written, the rows by normalised column name."""
    raw = f.read_bytes()
    encoding = "cp1252" if _is_cp1252(f) else "utf-8-sig"
    header = next(csv.reader(io.StringIO(raw.decode(encoding).removeprefix("\ufeff"))))
    return raw, header, _read(f, encoding)


@pytest.mark.fast
def test_cld_files_are_release_2_as_the_contract_says(cld_night: tuple, small: tuple) -> None:
    fields = contract.cld_fields()
    release = [f.column for f in fields]
    required = {f.column for f in fields if f.required_in_header}
    coded = {f.column: set(contract.accepted_spellings(f.code_list)) for f in fields if f.code_list}
    date_cols = [f.column for f in fields if f.kind == "date"]
    every_row = ("la_code", "reporting_period_start_date", "reporting_period_end_date", "la_person_unique_identifier",
                 "date_of_birth", "event_type", "event_start_date")
    for out, truth in (cld_night, small[:2]):
        defects = {(d["file_name"], int(d["row_number"])): d["defect_class"] for d in _read(truth / "defects.csv")
                   if d["row_number"]}
        files = _tonight(out, feeds.SOCIAL_CARE)
        assert len(files) == 16
        for f in files:
            _, header, rows = _cld_file(f)
            cols = [contract.normalise(h) for h in header]
            assert cols == [c for c in release if c in cols] and len(set(cols)) == len(cols), f.name  # known, in order
            assert required <= set(cols), (f.name, required - set(cols))
            sender = feeds.SOCIAL_CARE.file_pattern.match(f.name)["sender"]
            formats = set()
            for i, r in enumerate(rows, start=1):
                label = defects.get((f.name, i))
                assert all(r[c] for c in every_row), (f.name, i)
                assert r["la_code"] == sender or label == "sender_mismatch", (f.name, i)
                for c, accepted in coded.items():
                    if c in r and r[c]:
                        assert r[c].strip().lower() in accepted, (f.name, i, c, r[c])
                for c in date_cols:
                    if c in r and r[c]:
                        formats.add("iso" if _ISO.fullmatch(r[c]) else "dmy" if _DMY.fullmatch(r[c]) else r[c])
            assert len(formats) == 1 and formats <= {"iso", "dmy"}, (f.name, formats)  # one format per file
            # 12 months rolling to the end of the extract date's quarter or month.
            periods = {(_iso(r["reporting_period_start_date"]), _iso(r["reporting_period_end_date"])) for r in rows}
            assert periods <= {("2026-01-01", "2026-12-31"), ("2025-12-01", "2026-11-30")}, (f.name, periods)
            assert len(periods) == 1


@pytest.mark.fast
def test_cld_senders_write_their_own_way(cld_night: tuple) -> None:
    """The variety councils' exports show, across the senders of one night (quotas in ipb.generate.cld)."""
    out, truth = cld_night
    fields = contract.cld_fields()
    spec = {f.column: f.name for f in fields}
    dropped = {f.column for f in fields if not f.kept}
    optional_kept = {f.column for f in fields if f.kept and not f.required_in_header} - {"first_name", "last_name"}
    canon = {f.column: set(contract.canonical_values(f.code_list)) for f in fields if f.code_list}
    people = {p["person_id"]: p for p in _read(truth / "people.csv")}
    recs = {(r["file_name"], int(r["row_number"])): r["person_id"] for r in _read(truth / "records.csv")}
    mistyped = {(h["file_name"], int(h["row_number"])) for h in _read(truth / "hard_cases.csv")
                if h["case_class"] == "mistyped_nhs_number"}
    seen: Counter[str] = Counter()
    files = _tonight(out, feeds.SOCIAL_CARE)
    for f in files:
        raw, header, rows = _cld_file(f)
        cols = [contract.normalise(h) for h in header]
        written = [spec[c] for c in cols]
        style = ("spec" if header == written else "upper" if header == [w.upper() for w in written]
                 else "underscore" if all(" " not in h for h in header) and "LA_Code" in header else "other")
        seen["header_" + style] += 1
        seen["crlf"] += raw.split(b"\n", 1)[0].endswith(b"\r")
        seen["names"] += {"first_name", "last_name"} <= set(cols)
        seen["dropped_columns"] += bool(dropped & set(cols))
        seen["lean"] += bool(optional_kept - set(cols))
        seen["dmy"] += "/" in rows[0]["date_of_birth"]
        seen["release_1"] += any(r[c] and r[c] not in canon[c] for r in rows for c in canon if c in r)
        refs = [r["event_reference"] for r in rows]
        blank = sum(x == "" for x in refs) / len(refs)
        seen["ref_none"] += blank == 1
        seen["ref_partial"] += 0 < blank < 0.1
        seen["ref_unique"] += blank == 0 and len(set(refs)) == len({tuple(r.values()) for r in rows})
        # A double-handed package: two identical service rows, one after the other; no other row repeats.
        for a, b in zip(rows, rows[1:], strict=False):
            if a == b:
                assert a["event_type"].lower() == "service"
                seen["double_handed"] += 1
        assert len({tuple(r.values()) for r in rows}) == len(rows) - sum(a == b for a, b in zip(rows, rows[1:],
                                                                                                 strict=False))
        for i, r in enumerate(rows, start=1):
            # A clean night: only the mistyped hard cases fail the check digit.
            assert r["nhs_number"] == "" or is_valid_nhs_number(r["nhs_number"]) or (f.name, i) in mistyped
            if "first_name" in r:
                p = people[recs[(f.name, i)]]
                seen["name_rows"] += 1
                seen["forename_same"] += r["first_name"] == p["forename"]
                seen["surname_same"] += r["last_name"] == p["surname"]
    n = len(files)
    assert seen["header_other"] == 0 and seen["header_spec"] > n / 2
    assert seen["header_underscore"] >= 1 and seen["header_upper"] >= 1
    assert 1 <= seen["crlf"] < n / 2
    assert n / 2 < seen["names"] < n and n / 2 < seen["dropped_columns"] < n and 1 <= seen["lean"] < n / 2
    assert 1 <= seen["dmy"] < n / 2 and 1 <= seen["release_1"] < n / 2
    assert seen["ref_none"] >= 1 and seen["ref_partial"] >= 1 and seen["ref_unique"] > n / 2
    assert seen["double_handed"] >= 3
    # Names come from the same person as the other feeds, with the same kind of noise (nicknames, typos).
    assert 0.8 < seen["forename_same"] / seen["name_rows"] < 0.99
    assert 0.85 < seen["surname_same"] / seen["name_rows"] < 0.995


@pytest.mark.fast
def test_one_population_seen_through_three_feeds(mid: tuple) -> None:
    out, truth = mid
    people = {p["person_id"]: p for p in _read(truth / "people.csv")}
    feeds_of: dict[str, set[str]] = {}
    for r in _read(truth / "records.csv"):
        feeds_of.setdefault(r["person_id"], set()).add(r["feed"])
    combos = Counter(frozenset(v) for v in feeds_of.values())
    assert combos[frozenset({"nhs_phb", "social_care"})] > 50  # adults with CHC and council care
    assert combos[frozenset({"nhs_phb", "send"})] > 20  # children with continuing care and an EHC plan
    assert combos[frozenset({"nhs_phb"})] > 1000 and combos[frozenset({"send"})] > 3000
    # People live in councils roughly by population; a person's ICB is their council's primary ICB.
    from ipb import reference

    ref = reference.load()
    primary = {o.la_gss_code: o.primary_icb_code for o in ref.organisations}
    in_council = [p for p in people.values() if p["la_gss_code"]]
    assert all(primary[p["la_gss_code"]] == p["icb_code"] for p in in_council)
    by_council = Counter(p["la_gss_code"] for p in in_council)
    assert by_council["E10000016"] > 5 * by_council["E06000002"]  # Kent vs Middlesbrough
    opted = sum(p["opted_out"] == "1" for p in people.values())
    with_nhs = sum(p["nhs_number"] != "" for p in people.values())
    assert 0.005 < opted / with_nhs < 0.02


@pytest.mark.fast
def test_overlap_rates_are_parameters(tmp_path: Path) -> None:
    from ipb.generate.params import Params

    apart = Params(chc_with_social_care=0.0, adult_phb_with_social_care=0.0, cyp_cc_with_send=0.0)
    together = Params(chc_with_social_care=1.0, adult_phb_with_social_care=1.0, cyp_cc_with_send=1.0)
    shared = {}
    for name, p in (("apart", apart), ("together", together)):
        generate_night(NIGHT, 3000, tmp_path / name / "out", seed=1, truth_dir=tmp_path / name / "t", params=p)
        feeds_of: dict[str, set[str]] = {}
        for r in _read(tmp_path / name / "t" / "records.csv"):
            feeds_of.setdefault(r["person_id"], set()).add(r["feed"])
        shared[name] = sum(1 for v in feeds_of.values() if "nhs_phb" in v and len(v) > 1)
    assert shared["apart"] == 0 and shared["together"] > 40


@pytest.mark.fast
def test_the_same_person_looks_different_across_feeds(mid: tuple) -> None:
    out, truth = mid
    people = {p["person_id"]: p for p in _read(truth / "people.csv")}
    recs = {(r["file_name"], r["row_number"]): r["person_id"] for r in _read(truth / "records.csv")}
    seen = Counter()
    for f in sorted(out.glob("nhs_phb_*.csv")) + sorted(out.glob("send_*.xml")) + sorted(out.glob("send_budget_*")):
        names = ("forename", "surname", "date_of_birth", "postcode") if f.name.startswith("nhs") else (
            "Forename", "Surname", "PersonBirthDate", "PostCode")
        for i, row in enumerate(_rows_of(f), start=1):
            row = {k: row.get(k, "") for k in names}
            p = people[recs[(f.name, str(i))]]
            seen["rows"] += 1
            seen["forename"] += row[names[0]] != p["forename"]
            seen["surname"] += row[names[1]] != p["surname"]
            seen["dob"] += row[names[2]] != p["date_of_birth"]
            pc = row[names[3]]
            seen["postcode_format"] += pc not in ("", p["postcode"]) and pc.upper().replace(" ", "") == \
                p["postcode"].replace(" ", "")
            seen["postcode_moved"] += pc != "" and pc.upper().replace(" ", "") != p["postcode"].replace(" ", "")
    n = seen["rows"]
    for k, (lo, hi) in {"forename": (0.02, 0.15), "surname": (0.01, 0.10), "dob": (0.002, 0.03),
                        "postcode_format": (0.04, 0.2), "postcode_moved": (0.01, 0.08)}.items():
        assert lo < seen[k] / n < hi, (k, seen[k], n)


# -------------------------------------------------------------------------------------------------- determinism

def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.fast
def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate_night(NIGHT, 400, tmp_path / "a" / "out", seed=3, defects=0.01, truth_dir=tmp_path / "a" / "truth")
    generate_night(NIGHT, 400, tmp_path / "b" / "out", seed=3, defects=0.01, truth_dir=tmp_path / "b" / "truth")
    generate_night(NIGHT, 400, tmp_path / "c" / "out", seed=4, defects=0.01)
    ta, tb, tc = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert ta == tb and len(ta) == len(a.files) + 5  # records, people, hard_cases, defects, manifest
    same_names = [k for k in tc if k in ta]
    assert same_names and all(ta[k] != tc[k] for k in same_names if not k.endswith(("_20261121.csv",
                                                                                    "_20261121.xml")))


@pytest.mark.fast
def test_next_night_evolves_about_one_percent(tmp_path: Path) -> None:
    nights = {}
    for d in ("2026-11-22", "2026-11-23"):
        generate_night(d, 6000, tmp_path / d, seed=9, truth_dir=tmp_path / f"{d}-truth")
        keys = {(r["file_name"], int(r["row_number"])): r["record_key"]
                for r in _read(tmp_path / f"{d}-truth" / "records.csv")}  # CLD's Event Reference may be blank
        nights[d] = {}
        for feed in feeds.FEEDS.values():
            for f in sorted((tmp_path / d).glob(f"{feed.name}_*.{feed.extension}")):
                if not feed.file_pattern.match(f.name):
                    continue
                for i, row in enumerate(_rows_of(f), start=1):
                    nights[d][(feed.name, keys[(f.name, i)])] = tuple(str(v) for v in row.values())
    a, b = nights["2026-11-22"], nights["2026-11-23"]
    new, gone = set(b) - set(a), set(a) - set(b)
    changed = {k for k in set(a) & set(b) if a[k] != b[k]}
    rate = (len(new) + len(gone) + len(changed)) / len(set(a) | set(b))
    assert 0.005 < rate < 0.02, rate
    assert new and gone and changed  # new budgets, withdrawn or dropped records, amendments and endings
    ended = [k for k in changed if k[0] == "nhs_phb" and a[k][18] == "" and b[k][18] != ""]
    amended = [k for k in changed if k[0] == "nhs_phb" and a[k][10:13] != b[k][10:13]]
    assert ended or amended
    # Opt-outs are a property of the person: the same list both nights.
    opt = [(tmp_path / d / f"national_opt_out_{d.replace('-', '')}.csv").read_text() for d in nights]
    assert opt[0] == opt[1] and opt[0].count("\n") > 10


# ------------------------------------------------------------------------------------------------------ defects

@pytest.mark.fast
def test_every_defect_class_is_injected_and_labelled(small: tuple) -> None:
    out, truth, s, _ = small
    from ipb.generate.defects import ROW_VARIANTS

    labels = _read(truth / "defects.csv")
    row_classes = Counter(d["defect_class"] for d in labels if d["row_number"] and d["expected_outcome"] != "loaded")
    assert set(row_classes) == set(feeds.ROW_DEFECTS)
    variants = Counter((d["file_name"].split("_2026")[0].rsplit("_", 1)[0], d["defect_class"]) for d in labels
                       if d["row_number"] and d["expected_outcome"] == "loaded")
    assert set(variants) == {(f, c) for c, fs in ROW_VARIANTS.items() for f in fs}
    assert ("social_care", "invalid_nhs_check_digit") in variants  # an optional identifier: the row is kept
    for d in labels:
        if d["row_number"] and d["expected_outcome"] == "loaded":
            assert d["expected_reason_code"] == ""
        elif d["row_number"]:
            assert d["file_name"].startswith("nhs_phb_") or d["defect_class"] not in (
                "invalid_nhs_check_digit", "malformed_postcode")  # optional identifiers outside nhs_phb
            assert (d["expected_outcome"], d["expected_reason_code"]) == (
                "quarantined", feeds.ROW_DEFECTS[d["defect_class"]])
    sc_bad_nhs = [(d["file_name"], int(d["row_number"])) for d in labels
                  if d["defect_class"] == "invalid_nhs_check_digit" and d["file_name"].startswith("social_care_")]
    for fn, rn in sc_bad_nhs:
        nhs = _read(out / fn, "cp1252" if _is_cp1252(out / fn) else "utf-8-sig")[rn - 1]["nhs_number"]
        assert nhs.replace(" ", "").startswith("999") and not is_valid_nhs_number(nhs)
    # In SEN2 a defect is on a whole Person; its row number is the Person's place in the file.
    for d in labels:
        if d["row_number"] and d["file_name"].endswith(".xml"):
            person = sen2_persons(out / d["file_name"])[int(d["row_number"]) - 1]
            if d["defect_class"] == "malformed_date":
                assert person["PersonBirthDate"][5:7] == "02" and int(person["PersonBirthDate"][8:]) >= 30
            elif d["defect_class"] == "future_birth_date":
                assert person["PersonBirthDate"] > NIGHT
            elif d["defect_class"] == "unknown_pb_flag":
                assert person["plans"][0]["PB"] == "Y"
            elif d["defect_class"] == "invalid_upn_check_letter":
                assert len(person["UPN"]) == 13 and not is_valid_upn(person["UPN"])
    files = {d["defect_class"]: d for d in labels if not d["row_number"]}
    assert set(files) == set(feeds.FILE_DEFECTS_REJECTED) | set(feeds.FILE_VARIANTS_ACCEPTED)
    for cls, code in feeds.FILE_DEFECTS_REJECTED.items():
        assert (files[cls]["expected_outcome"], files[cls]["expected_reason_code"]) == ("rejected", code)
    for cls in feeds.FILE_VARIANTS_ACCEPTED:
        assert files[cls]["expected_outcome"] == "loaded"
    # Duplicate keys: the repeat comes after the first, which stays unlabelled.
    recs = {(r["file_name"], int(r["row_number"])): r["record_key"] for r in _read(truth / "records.csv")}
    labelled = {(d["file_name"], int(d["row_number"])) for d in labels if d["row_number"]}
    for d in labels:
        if d["defect_class"] == "duplicate_key":
            fn, rn = d["file_name"], int(d["row_number"])
            earlier = [k for (f, r), k in recs.items() if f == fn and r < rn and k == recs[(fn, rn)]]
            assert len(earlier) == 1
            first = next(r for (f, r), k in recs.items() if f == fn and k == recs[(fn, rn)])
            assert (fn, first) not in labelled


@pytest.mark.fast
def test_file_level_defects_are_what_they_claim(small: tuple) -> None:
    out, truth, s, _ = small
    f = {d["defect_class"]: out / d["file_name"] for d in _read(truth / "defects.csv") if not d["row_number"]}
    raw = {k: p.read_bytes() for k, p in f.items()}
    assert b"\xa3" in raw["windows_1252"] and b"\xc2\xa3" not in raw["windows_1252"]
    assert "Other: £25 weekly top-up" in raw["windows_1252"].decode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        raw["windows_1252"].decode("utf-8")
    assert raw["utf8_bom"].startswith(b"\xef\xbb\xbf") and not raw["crlf"].startswith(b"\xef\xbb\xbf")
    lines = raw["crlf"].split(b"\n")
    assert lines[-1] == b"" and all(line.endswith(b"\r") for line in lines[:-1]) and len(lines) >= 2
    assert b"\r" not in raw["utf8_bom"]
    assert raw["empty_file"] == b""
    t = raw["truncated_last_line"].decode()
    assert not t.endswith("\n")
    feed = feeds.FEEDS[f["truncated_last_line"].name.split("_2026")[0].rsplit("_", 1)[0]]
    assert len(next(csv.reader([t.rsplit("\n", 1)[1]]))) < len(feed.columns)
    assert next(csv.reader([raw["extra_column"].decode().split("\n")[0]]))[-1] == "Notes"
    miss_feed = feeds.FEEDS[f["missing_column"].name.split("_2026")[0].rsplit("_", 1)[0]]
    header = next(csv.reader([raw["missing_column"].decode().split("\n")[0]]))
    assert len(header) == len(miss_feed.columns) - 1 and set(header) < set(miss_feed.required_raw_columns) | set(
        miss_feed.columns)
    assert set(miss_feed.required or miss_feed.columns) - set(header)  # a required column is missing
    # SEN2 returns the file checks refuse.
    from defusedxml import DefusedXmlException, ElementTree

    def parse(k: str):
        return ElementTree.fromstring(raw[k])

    assert parse("header_only").find("Persons/Person") is None
    assert parse("unknown_element").find("Persons/Person/Notes") is not None
    assert parse("lea_mismatch").findtext("Header/Source/LEA") != f["lea_mismatch"].name.split("_")[1]
    for k in ("truncated_xml", "malformed_xml"):
        with pytest.raises(ElementTree.ParseError):
            parse(k)
    assert not raw["truncated_xml"].rstrip().endswith(b"</Message>")
    with pytest.raises(DefusedXmlException):
        parse("xml_doctype")
    assert b"<!DOCTYPE" in raw["xml_doctype"] and b"&ext;" in raw["xml_doctype"]
    wrong = f["wrong_file_name"].name
    assert not any(fd.file_pattern.match(wrong) for fd in feeds.FEEDS.values())
    # Rejected extras are named as real senders' files of the day before; the variants are real tonight files.
    for cls in set(feeds.FILE_DEFECTS_REJECTED) - {"wrong_file_name"}:
        assert f[cls].name.endswith(("_20261121.csv", "_20261121.xml")), cls
    for cls in feeds.FILE_VARIANTS_ACCEPTED:
        assert f[cls].name.endswith("_20261122.csv") and s.files[f[cls].name] > 0, cls


def test_the_loader_agrees_with_the_truth(fresh_db: str, small: tuple) -> None:
    """Load the defect night with the real loader: every quarantined row is a labelled defect with that one
    reason, every labelled row is quarantined, and every file lands where the truth says."""
    from ipb.ingest import load_file

    out, truth, s, _ = small
    results = {}
    for f in sorted(out.iterdir()):
        feed = next(k for k in ("nhs_phb", "social_care", "send_budget", "send", "national_opt_out")
                    if f.name.startswith(k))
        results[f.name] = load_file(feed, f)
    labels = _read(truth / "defects.csv")
    expected_rows = {(d["file_name"], int(d["row_number"])): d["expected_reason_code"] for d in labels
                     if d["row_number"] and d["expected_outcome"] == "quarantined"}
    with psycopg.connect(fresh_db) as conn:
        got = {(fn, rn): (code, codes) for fn, rn, code, codes in conn.execute(
            "select file_name, row_number, reason_code, all_reason_codes from quarantine.rows")}
    assert {k: v[0] for k, v in got.items()} == expected_rows
    assert all(len(codes) == 1 for _, codes in got.values())  # one defect per row: an unambiguous reason
    for d in labels:
        if not d["row_number"]:
            r = results[d["file_name"]]
            assert r.status == d["expected_outcome"], (d, r.reason_code)
            assert d["expected_outcome"] == "loaded" or r.reason_code == d["expected_reason_code"]
    labelled_files = {d["file_name"] for d in labels if not d["row_number"] and d["expected_outcome"] == "rejected"}
    for name, r in results.items():
        assert (r.status == "rejected") == (name in labelled_files), (name, r.reason_code)
        if r.status == "loaded" and not name.startswith("national_opt_out"):
            assert r.rows_in_file == r.rows_loaded + r.rows_quarantined == s.files[name]


# ------------------------------------------------------------------------------------------------ arguments, CLI

@pytest.mark.fast
def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="truth"):
        generate_night(NIGHT, 300, tmp_path / "x", truth_dir=tmp_path / "x")
    with pytest.raises(GenerateError, match="people"):
        generate_night(NIGHT, 10, tmp_path / "y")
    with pytest.raises(GenerateError, match="YYYY-MM-DD"):
        generate_night("22/11/2026", 300, tmp_path / "z")
    assert NATIONAL_PEOPLE > 1_000_000


@pytest.mark.fast
def test_cli_generate(tmp_path: Path) -> None:
    from ipb.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["generate", "--date", NIGHT, "--people", "150", "--out", str(tmp_path / "o"),
                              "--seed", "2", "--defects", "0.01", "--truth", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    from ipb import reference

    ref = reference.load()
    rejected = len(feeds.FILE_DEFECTS_REJECTED)
    assert json.loads(res.output.strip().splitlines()[-1])["files"] == len(ref.icbs) + 3 * len(
        ref.organisations) + 1 + rejected
    assert (tmp_path / "t" / "manifest.json").is_file() and (tmp_path / "o" / "nhs_phb_QKS_20261122.csv").is_file()
    res = runner.invoke(app, ["generate", "--date", NIGHT, "--people", "150", "--out", str(tmp_path / "o"),
                              "--truth", str(tmp_path / "o")])
    assert res.exit_code == 2
