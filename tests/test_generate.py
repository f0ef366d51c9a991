"""The synthetic feed generator: valid identifiers, calibrated shares, determinism, a world that evolves ~1% a
day, every defect injected and labelled, file-level defects that are what they claim, and a loader that agrees
with the truth row for row."""

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

from ipb import feeds
from ipb.generate import NATIONAL_PEOPLE, generate_night, is_valid_nhs_number, is_valid_upn
from ipb.generate.identifiers import make_nhs_number, make_upn, nhs_check_digit
from ipb.generate.night import GenerateError

NIGHT = "2026-11-22"
POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)[0-9][A-Z]{2}$")


def _read(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def _feed_rows(out: Path, feed: feeds.Feed) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for f in sorted(out.glob(f"{feed.name}_*.csv")):
        if feed.file_pattern.match(f.name) and f.name.endswith(f"{NIGHT.replace('-', '')}.csv"):
            rows.extend(_read(f, "cp1252" if _is_cp1252(f) else "utf-8-sig"))
    return rows


def _is_cp1252(path: Path) -> bool:
    try:
        path.read_bytes().decode("utf-8")
        return False
    except UnicodeDecodeError:
        return True


def _age(dob: str, at: str) -> int:
    b, a = dt.date.fromisoformat(dob), dt.date.fromisoformat(at)
    return a.year - b.year - ((a.month, a.day) < (b.month, b.day))


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

def test_small_night_writes_every_sender_file_fast(small: tuple) -> None:
    from ipb import reference

    out, truth, s, secs = small
    assert secs < 5, f"a 300-person night took {secs:.1f} s"
    ref = reference.load()
    ymd = NIGHT.replace("-", "")
    expected = {feeds.NHS_PHB.file_name(i.icb_code, ymd) for i in ref.icbs}
    expected |= {feeds.SOCIAL_CARE.file_name(o.cld_la_code, ymd) for o in ref.organisations}
    expected |= {feeds.SEND.file_name(o.dfe_la_number, ymd) for o in ref.organisations}
    expected.add(f"national_opt_out_{ymd}.csv")
    names = {p.name for p in out.iterdir()}
    assert expected <= names
    assert "social_care_503_20261122.csv" in names and "send_925_20261122.csv" in names  # Lincolnshire
    for f in expected - {f"national_opt_out_{ymd}.csv"}:
        feed = feeds.FEEDS[next(k for k in feeds.FEEDS if f.startswith(k + "_"))]
        raw = (out / f).read_bytes().removeprefix(b"\xef\xbb\xbf")
        header = next(csv.reader(io.StringIO(raw.decode("cp1252").splitlines()[0])))
        assert tuple(header) == feed.columns
        assert s.files[f] >= 1, f"{f} has no data rows"
    opt = (out / f"national_opt_out_{ymd}.csv").read_text(encoding="utf-8").splitlines()
    assert opt[0] == "nhs_number" and all(is_valid_nhs_number(n) for n in opt[1:])


def test_truth_accounts_for_every_row(small: tuple) -> None:
    out, truth, s, _ = small
    records = _read(truth / "records.csv")
    per_file = Counter(r["file_name"] for r in records)
    for f in out.iterdir():
        if f.name.startswith("national_opt_out"):
            continue
        data = f.read_bytes().removeprefix(b"\xef\xbb\xbf").decode("cp1252")
        n_lines = len(list(csv.reader(io.StringIO(data)))) - 1 if data else 0
        assert per_file[f.name] == max(n_lines, 0) == s.files[f.name], f.name
    assert [int(r["row_number"]) for r in records if r["file_name"] == records[0]["file_name"]][:3] == [1, 2, 3]
    people = {r["person_id"]: r for r in _read(truth / "people.csv")}
    assert len(people) == 300 and {r["person_id"] for r in records} <= set(people)
    manifest = json.loads((truth / "manifest.json").read_text())
    assert manifest["arguments"] == {"date": NIGHT, "people": 300, "seed": 11, "defects": 0.02}
    assert manifest["rates"]["nickname"] > 0 and manifest["counts"]["files"] == dict(sorted(s.files.items()))


def test_every_identifier_is_valid_unless_the_truth_says_otherwise(mid: tuple, small: tuple) -> None:
    for out, truth in (mid, small[:2]):
        bad_rows = {(d["file_name"], d["row_number"]) for d in _read(truth / "defects.csv")}
        checked = 0
        for f in sorted(out.glob("*_2026112[12].csv")):
            feed = next((v for k, v in feeds.FEEDS.items() if f.name.startswith(k + "_")), None)
            if feed is None or (f.name, "") in bad_rows:
                continue
            nhs_col, pc_col = {"nhs_phb": ("nhs_number", "postcode"), "social_care": ("NHS_Number", "Postcode"),
                               "send": ("NHSNumber", "PostCode")}[feed.name]
            for i, row in enumerate(_read(f, "cp1252" if _is_cp1252(f) else "utf-8-sig"), start=1):
                if (f.name, str(i)) in bad_rows:
                    continue
                checked += 1
                assert row[nhs_col] == "" or is_valid_nhs_number(row[nhs_col]), (f.name, i)
                assert row[nhs_col].replace(" ", "").startswith("999") or row[nhs_col] == ""
                assert row[pc_col] == "" or POSTCODE.match(row[pc_col].upper().replace(" ", "")), (f.name, i)
                if feed is feeds.SEND:
                    assert row["UPN"] == "" or is_valid_upn(row["UPN"]), (f.name, i)
                    assert row["UniqueLearnerNumber"] == "" or re.fullmatch(r"[0-9]{10}", row["UniqueLearnerNumber"])
        assert checked > 100


def test_people_have_unique_true_identifiers(mid: tuple) -> None:
    people = _read(mid[1] / "people.csv")
    nhs = [p["nhs_number"] for p in people if p["nhs_number"]]
    upn = [p["upn"] for p in people if p["upn"]]
    assert len(nhs) == len(set(nhs)) and len(upn) == len(set(upn)) and len(nhs) > 10_000
    assert all(is_valid_nhs_number(n) and n.startswith("999") for n in nhs)
    assert all(is_valid_upn(u) for u in upn)


# ------------------------------------------------------------------------------------------------- calibration

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


def test_social_care_and_send_mixes(mid: tuple) -> None:
    sc = _feed_rows(mid[0], feeds.SOCIAL_CARE)
    events = Counter(r["Event_Type"] for r in sc)
    assert events["Service"] / len(sc) > 0.75 and all(events[e] > 0 for e in ("Request", "Assessment", "Review"))
    service = [r for r in sc if r["Event_Type"] == "Service"]
    mech = Counter(r["Delivery_Mechanism"] for r in service)
    assert all(0.1 < mech[m] / len(service) < 0.6 for m in feeds.CLD_DELIVERY_MECHANISMS)
    freq = Counter(r["Cost_Frequency_Unit_Type"] for r in service)
    assert set(freq) == set(feeds.CLD_COST_FREQUENCIES)
    for r in service:
        assert (r["Planned_units_per_week"] != "") == (r["Cost_Frequency_Unit_Type"] in feeds.CLD_UNIT_FREQUENCIES)
        assert r["Planned_units_per_week"] == "" or float(r["Planned_units_per_week"]) > 0
        assert _age(r["Date_of_Birth"], r["Event_Start_Date"]) >= 18
    assert all(r["Unit_Cost"] == "" and r["Service_Type"] == "" for r in sc if r["Event_Type"] != "Service")
    missing = sum(r["NHS_Number"] == "" for r in sc) / len(sc)
    assert 0.03 < missing < 0.15

    send = _feed_rows(mid[0], feeds.SEND)
    assert sum(r["NHSNumber"] == "" for r in send) / len(send) > 0.7  # SEN2 carries no NHS number
    for r in send:
        assert 0 <= _age(r["PersonBirthDate"], r["StartDate"]) <= 25
        if r["PB"] == "0":
            assert (r["OA"], r["DP"], r["EducationElementGBP"], r["SocialCareElementGBP"]) == ("0", "0", "", "")
        else:
            assert "1" in (r["OA"], r["DP"]) and r["EducationElementGBP"] and r["BudgetStartDate"]
    pb = Counter(r["PB"] for r in send)
    assert 0.03 < pb["1"] / len(send) < 0.25


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


def test_the_same_person_looks_different_across_feeds(mid: tuple) -> None:
    out, truth = mid
    people = {p["person_id"]: p for p in _read(truth / "people.csv")}
    recs = {(r["file_name"], r["row_number"]): r["person_id"] for r in _read(truth / "records.csv")}
    seen = Counter()
    for f in sorted(out.glob("nhs_phb_*.csv")) + sorted(out.glob("send_*.csv")):
        names = ("forename", "surname", "date_of_birth", "postcode") if f.name.startswith("nhs") else (
            "Forename", "Surname", "PersonBirthDate", "PostCode")
        for i, row in enumerate(_read(f, "utf-8-sig"), start=1):
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


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate_night(NIGHT, 400, tmp_path / "a" / "out", seed=3, defects=0.01, truth_dir=tmp_path / "a" / "truth")
    generate_night(NIGHT, 400, tmp_path / "b" / "out", seed=3, defects=0.01, truth_dir=tmp_path / "b" / "truth")
    generate_night(NIGHT, 400, tmp_path / "c" / "out", seed=4, defects=0.01)
    ta, tb, tc = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert ta == tb and len(ta) == len(a.files) + 4
    same_names = [k for k in tc if k in ta]
    assert same_names and all(ta[k] != tc[k] for k in same_names if not k.endswith(("_20261121.csv",)))


def test_next_night_evolves_about_one_percent(tmp_path: Path) -> None:
    nights = {}
    for d in ("2026-11-22", "2026-11-23"):
        generate_night(d, 6000, tmp_path / d, seed=9)
        nights[d] = {}
        for feed in feeds.FEEDS.values():
            for f in sorted((tmp_path / d).glob(f"{feed.name}_*.csv")):
                for row in _read(f):
                    nights[d][(feed.name, row[feed.key_column])] = tuple(row.values())
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

def test_every_defect_class_is_injected_and_labelled(small: tuple) -> None:
    out, truth, s, _ = small
    labels = _read(truth / "defects.csv")
    row_classes = Counter(d["defect_class"] for d in labels if d["row_number"])
    assert set(row_classes) == set(feeds.ROW_DEFECTS)
    for d in labels:
        if d["row_number"]:
            assert (d["expected_outcome"], d["expected_reason_code"]) == (
                "quarantined", feeds.ROW_DEFECTS[d["defect_class"]])
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
    assert lines[-1] == b"" and all(line.endswith(b"\r") for line in lines[:-1]) and len(lines) > 2
    assert b"\r" not in raw["utf8_bom"]
    assert raw["empty_file"] == b""
    hdr = raw["header_only"].decode()
    assert hdr.endswith("\n") and hdr.count("\n") == 1 and len(hdr) > 20
    t = raw["truncated_last_line"].decode()
    assert not t.endswith("\n")
    feed = feeds.FEEDS[f["truncated_last_line"].name.split("_2026")[0].rsplit("_", 1)[0]]
    assert len(next(csv.reader([t.rsplit("\n", 1)[1]]))) < len(feed.columns)
    assert next(csv.reader([raw["extra_column"].decode().split("\n")[0]]))[-1] == "Notes"
    miss_feed = feeds.FEEDS[f["missing_column"].name.split("_2026")[0].rsplit("_", 1)[0]]
    assert len(next(csv.reader([raw["missing_column"].decode().split("\n")[0]]))) == len(miss_feed.columns) - 1
    wrong = f["wrong_file_name"].name
    assert not any(fd.file_pattern.match(wrong) for fd in feeds.FEEDS.values())
    # Rejected extras are named as real senders' files of the day before; the variants are real tonight files.
    for cls in ("extra_column", "missing_column", "truncated_last_line", "empty_file", "header_only"):
        assert f[cls].name.endswith("_20261121.csv")
    for cls in feeds.FILE_VARIANTS_ACCEPTED:
        assert f[cls].name.endswith("_20261122.csv") and s.files[f[cls].name] > 0


def test_the_loader_agrees_with_the_truth(fresh_db: str, small: tuple) -> None:
    """Load the defect night with the real loader: every quarantined row is a labelled defect with that one
    reason, every labelled row is quarantined, and every file lands where the truth says."""
    from ipb.ingest import load_file

    out, truth, s, _ = small
    results = {}
    for f in sorted(out.iterdir()):
        feed = next(k for k in ("nhs_phb", "social_care", "send", "national_opt_out") if f.name.startswith(k))
        results[f.name] = load_file(feed, f)
    labels = _read(truth / "defects.csv")
    expected_rows = {(d["file_name"], int(d["row_number"])): d["expected_reason_code"] for d in labels
                     if d["row_number"]}
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

def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="truth"):
        generate_night(NIGHT, 300, tmp_path / "x", truth_dir=tmp_path / "x")
    with pytest.raises(GenerateError, match="people"):
        generate_night(NIGHT, 10, tmp_path / "y")
    with pytest.raises(GenerateError, match="YYYY-MM-DD"):
        generate_night("22/11/2026", 300, tmp_path / "z")
    assert NATIONAL_PEOPLE > 1_000_000


def test_cli_generate(tmp_path: Path) -> None:
    from ipb.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["generate", "--date", NIGHT, "--people", "150", "--out", str(tmp_path / "o"),
                              "--seed", "2", "--defects", "0.01", "--truth", str(tmp_path / "t")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["files"] == 60
    assert (tmp_path / "t" / "manifest.json").is_file() and (tmp_path / "o" / "nhs_phb_QKS_20261122.csv").is_file()
    res = runner.invoke(app, ["generate", "--date", NIGHT, "--people", "150", "--out", str(tmp_path / "o"),
                              "--truth", str(tmp_path / "o")])
    assert res.exit_code == 2
