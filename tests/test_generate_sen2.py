"""The generator's SEN2 returns, budget files and linkage hard cases: SEN2 as councils' systems export it (2025 v1.3
and 2024 v1.2 senders, element variants, ceased plans, ranked needs, children without a UPN), each budget row
joined to its plan except the injected "budget without a plan", budget totals a test can add up from the files, and
every hard case present, what it claims, and in the truth."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from ipb import feeds
from ipb.generate import generate_night, is_valid_nhs_number, is_valid_upn
from ipb.generate.hard import CLASSES
from ipb.generate.names import fold, is_known_alias, same_forename
from tests.test_generate import sen2_persons

NIGHT = "2026-11-22"
YMD = NIGHT.replace("-", "")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A clean night big enough for every sender habit and every hard-case class."""
    base = tmp_path_factory.mktemp("sen2")
    generate_night(NIGHT, 12_000, base / "out", seed=31, truth_dir=base / "truth")
    return base / "out", base / "truth"


@pytest.fixture(scope="module")
def defect_night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("sen2d")
    generate_night(NIGHT, 3000, base / "out", seed=32, defects=0.03, truth_dir=base / "truth")
    return base / "out", base / "truth"


def _tonight(out: Path, feed: feeds.Feed) -> list[Path]:
    return sorted(p for p in out.glob(f"{feed.name}_*_{YMD}.{feed.extension}") if feed.file_pattern.match(p.name))


def _records(truth: Path) -> dict[tuple[str, int], str]:
    return {(r["file_name"], int(r["row_number"])): r["person_id"] for r in _read(truth / "records.csv")}


@pytest.mark.fast
def test_sen2_returns_are_what_councils_export(world: tuple[Path, Path]) -> None:
    out, truth = world
    from defusedxml import ElementTree

    per_file = Counter(k[0] for k in _records(truth))
    manifest = json.loads((truth / "manifest.json").read_text())
    seen: Counter[str] = Counter()
    for f in _tonight(out, feeds.SEND):
        root = ElementTree.parse(f).getroot()
        year = root.findtext("Header/CollectionDetails/Year")
        assert root.findtext("Header/Source/SourceLevel") == "L" and root.findtext("Header/Source/LEA") == f.name[5:8]
        assert manifest["send_senders"][f.name]["return"].startswith(year)
        text = f.read_text(encoding="utf-8")
        persons = sen2_persons(f)
        assert len(persons) == per_file[f.name] > 0  # one truth row per Person, numbered by its place
        seen["v1.2"] += year == "2024"
        seen["PlanWPB"] += "<PlanWPB>" in text
        seen["SENSetting"] += "<SENSetting>" in text
        seen["true/false"] += "<PB>true</PB>" in text or "<PB>false</PB>" in text
        assert ("<PlanWPB>" in text) == (year == "2024") and ("<PlanWBP>" in text) == (year == "2025")
        for p in persons:
            assert p["Sex"] in ("M", "F", "U")
            seen["U"] += p["Sex"] == "U"
            assert (p.get("UPN", "") != "") != (p.get("UPNunknown", "") != "")  # a UPN, or the reason there is none
            assert p.get("UPN", "") == "" or is_valid_upn(p["UPN"])
            seen["no_upn"] += "UPNunknown" in p
            seen["prior_request"] += p["requests"] > 1
            (plan,) = p["plans"]
            ceased = plan.get("CeaseDate", "")
            if ceased:
                assert plan["CeaseReason"] in {str(k) for k in range(1, 10)}
                seen["ceased"] += 1
                seen["future_cease"] += ceased > NIGHT
            assert plan["active"] == (ceased == "" or ceased > NIGHT)
            if plan["active"]:
                ranks = [int(r) for _, r in plan["needs"]]
                assert sorted(ranks) == list(range(1, len(ranks) + 1))  # ranked 1..k, primary need rank 1
                seen["unordered"] += ranks != sorted(ranks)
                seen["several_needs"] += len(ranks) > 1
                types = [t for t, _ in plan["needs"]]
                assert set(types) <= set(feeds.SEN_PRIMARY_NEEDS) and len(set(types)) == len(types)
                assert year == "2025" or "DS" not in types  # DS is new in the 2025 return
                seen["DS"] += "DS" in types
    for k in ("v1.2", "PlanWPB", "SENSetting", "true/false", "U", "no_upn", "prior_request", "ceased", "future_cease",
              "unordered", "several_needs", "DS"):
        assert seen[k] > 0, k


@pytest.mark.fast
def test_sen2_elements_are_those_of_the_return_the_header_names(world: tuple[Path, Path]) -> None:
    """Every element path in a generated return is in the contract's element set for its Year (a variant spelling
    counts), so a clean night never trips the loader's drift check."""
    from defusedxml import ElementTree

    from ipb import contract

    allowed: dict[str, set[str]] = defaultdict(set)
    with (contract.contract_dir() / "sen2_elements.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            for name in [r["element"], *(v for v in r["variants"].split("|") if v)]:
                allowed[r["release"]].add(f"{r['module']}/{name}".lstrip("/"))

    def paths(el, pre: str = ""):
        here = f"{pre}/{el.tag}".lstrip("/")
        yield here
        for child in el:
            yield from paths(child, here)

    years = Counter()
    for f in _tonight(world[0], feeds.SEND):
        root = ElementTree.parse(f).getroot()
        year = root.findtext("Header/CollectionDetails/Year")
        years[year] += 1
        assert set(paths(root)) <= allowed[year], (f.name, set(paths(root)) - allowed[year])
    assert years["2024"] and years["2025"]


@pytest.mark.fast
def test_budget_rows_join_their_plans_and_add_up(defect_night: tuple[Path, Path]) -> None:
    out, truth = defect_night
    records = _records(truth)
    labels = {(d["file_name"], int(d["row_number"])): d for d in _read(truth / "defects.csv") if d["row_number"]}
    plans: dict[tuple[str, str, str], dict] = {}  # (LEA, person, StartDate) -> plan
    pb_plans = set()
    for f in _tonight(out, feeds.SEND):
        for i, p in enumerate(sen2_persons(f), start=1):
            for plan in p["plans"]:
                key = (f.name[5:8], records[(f.name, i)], plan["StartDate"])
                plans[key] = plan
                if plan["PB"] in ("1", "true") and (f.name, i) not in labels:
                    pb_plans.add(key)
                if labels.get((f.name, i), {}).get("defect_class") == "pb_without_budget":
                    assert plan["PB"] in ("1", "true")
                    seen_missing = key
    budget_keys = set()
    sums: dict[str, Counter] = defaultdict(Counter)
    cases = Counter()
    for f in _tonight(out, feeds.SEND_BUDGET):
        lea = f.name.split("_")[2]
        for i, row in enumerate(_read(f), start=1):
            label = labels.get((f.name, i), {})
            if label.get("expected_outcome") == "quarantined":
                continue
            key = (lea, records[(f.name, i)], row["PlanStartDate"])
            budget_keys.add(key)
            if label.get("defect_class") == "budget_without_plan":
                assert key not in plans
                cases["without_plan"] += 1
                continue
            plan = plans[key]  # every other budget is a SEN2 plan with PB 1, by person and StartDate
            assert plan["PB"] in ("1", "true")
            edu = Decimal(row["EducationElementGBP"] or "0")
            sc = Decimal(row["SocialCareElementGBP"] or "0")
            dp = Decimal(row["DirectPaymentGBP"])
            assert row["EducationElementGBP"] or row["SocialCareElementGBP"]
            oa, direct = plan["OA"] in ("1", "true"), plan["DP"] != "0"
            assert (dp == 0) == (not direct) and (dp == edu + sc) == (direct and not oa), (row, plan)
            cases["mixed"] += 0 < dp < edu + sc
            cases["social_care_only"] += not row["EducationElementGBP"]
            assert row["BudgetEndDate"] == "" or row["BudgetEndDate"] >= row["BudgetStartDate"]
            assert row["NHSNumber"] == "" or row["NHSNumber"].replace(" ", "").startswith("999")
        for row, i in ((r, i) for i, r in enumerate(_read(f), start=1)):
            if labels.get((f.name, i), {}).get("expected_outcome") != "quarantined":
                sums[f.name]["education"] += Decimal(row["EducationElementGBP"] or "0")
                sums[f.name]["social_care"] += Decimal(row["SocialCareElementGBP"] or "0")
                sums[f.name]["rows"] += 1
    assert cases["without_plan"] >= 1 and cases["mixed"] >= 1 and cases["social_care_only"] >= 1
    assert seen_missing not in budget_keys  # the "personal budget without amounts" has no budget row
    assert pb_plans - budget_keys == {seen_missing} or len(pb_plans - budget_keys) >= 1
    # The manifest's totals are what the files' loadable rows add up to, per file and overall.
    totals = json.loads((truth / "manifest.json").read_text())["counts"]["send_budget_totals"]
    for name, t in totals["files"].items():
        got = sums[name]
        assert (Decimal(t["education_gbp"]), Decimal(t["social_care_gbp"]), t["rows"]) == (
            got["education"], got["social_care"], got["rows"]), name
    assert Decimal(totals["education_gbp"]) == sum(s["education"] for s in sums.values()) > 0
    assert Decimal(totals["social_care_gbp"]) == sum(s["social_care"] for s in sums.values()) > 0


def _rows_by_file(out: Path) -> dict[str, list[dict]]:
    files: dict[str, list[dict]] = {}
    for feed in feeds.FEEDS.values():
        for f in _tonight(out, feed):
            files[f.name] = sen2_persons(f) if f.suffix == ".xml" else _read(f)
    return files


# The columns holding each feed's names, birth date, postcode and NHS number (CLD by normalised-or-spec name).
_COLS = {"nhs_phb": ("forename", "surname", "date_of_birth", "postcode", "nhs_number"),
         "social_care": ("First Name", "Last Name", "Date of Birth", "Postcode", "NHS Number"),
         "send": ("Forename", "Surname", "PersonBirthDate", "PostCode", None),
         "send_budget": ("Forename", "Surname", "PersonBirthDate", "PostCode", "NHSNumber")}


def _get(row: dict, name: str | None) -> str:
    if name is None:
        return ""
    for k, v in row.items():  # CLD headers vary by sender: match by letters only
        if k is not None and "".join(ch for ch in k.lower() if ch.isalnum()) == "".join(
                ch for ch in name.lower() if ch.isalnum()):
            return v or ""
    return ""


@pytest.mark.fast
def test_every_hard_case_is_present_and_is_what_it_claims(world: tuple[Path, Path]) -> None:
    out, truth = world
    people = {p["person_id"]: p for p in _read(truth / "people.csv")}
    nhs_owner = {p["nhs_number"]: pid for pid, p in people.items() if p["nhs_number"]}
    records = _records(truth)
    files = _rows_by_file(out)
    hard = _read(truth / "hard_cases.csv")
    assert {h["case_class"] for h in hard} == set(CLASSES)
    feeds_of: dict[str, set[str]] = defaultdict(set)
    seen: Counter[str] = Counter()
    many_rows: Counter[str] = Counter()
    accent_forms: dict[str, set[str]] = defaultdict(set)
    for h in hard:
        name, row_no, cls = h["file_name"], int(h["row_number"]), h["case_class"]
        feed = next(k for k in sorted(feeds.FEEDS, key=len, reverse=True) if name.startswith(k + "_"))
        row = files[name][row_no - 1]
        pid = records[(name, row_no)]
        p = people[pid]
        fore_c, sur_c, dob_c, pc_c, nhs_c = _COLS[feed]
        fore, sur, nhs = _get(row, fore_c), _get(row, sur_c), _get(row, nhs_c).replace(" ", "")
        assert nhs == "" or nhs.startswith("999")  # never a real-looking NHS number
        seen[cls] += 1
        names_sent = bool(fore or sur)  # some CLD senders leave the name columns out
        if cls in ("accented_name", "names_swapped", "married_surname", "forename_alias") and not names_sent:
            continue
        if cls == "twin":
            other = people[p["twin_of"]]
            assert people[other["twin_of"]] is p
            assert (other["date_of_birth"], other["surname"], other["postcode"]) == (
                p["date_of_birth"], p["surname"], p["postcode"])
            assert not same_forename(other["forename"], p["forename"])  # different, and not aliases
            feeds_of[pid].add(feed)
            seen["twin_with_nhs"] += nhs != ""
            seen["twin_without_nhs"] += nhs == ""
        elif cls == "wrong_nhs_number":
            owner = nhs_owner[nhs]
            assert owner != pid and is_valid_nhs_number(nhs)
            assert people[owner]["date_of_birth"][:4] != p["date_of_birth"][:4] or \
                people[owner]["date_of_birth"][5:7] != p["date_of_birth"][5:7]
        elif cls == "mistyped_nhs_number":
            assert feed != "nhs_phb" and not is_valid_nhs_number(nhs) and nhs[:9] == p["nhs_number"][:9]
        elif cls == "accented_name":
            accent_forms[pid].add(fore)
            assert fold(fore) in (fold(p["forename"]), fold(p["surname"]))
        elif cls == "names_swapped":
            assert fold(fore).lower() != fold(p["forename"]).lower() or fore == sur
        elif cls == "married_surname":
            assert p["previous_surname"] and p["previous_surname"] in (sur, fore)
        elif cls == "forename_alias":
            assert is_known_alias(fore, p["forename"]) or is_known_alias(sur, p["forename"])
        elif cls == "dob_day_month_swapped":
            shown = _get(row, dob_c)
            iso = f"{shown[6:]}-{shown[3:5]}-{shown[:2]}" if "/" in shown else shown
            true = p["date_of_birth"]
            assert iso != true and (iso[5:7], iso[8:]) == (true[8:], true[5:7])
        elif cls == "postcode_moved":
            assert _get(row, pc_c).upper().replace(" ", "") != p["postcode"].replace(" ", "")
        elif cls == "many_events":
            assert feed == "social_care"
            many_rows[pid] += 1
    assert seen["twin_with_nhs"] and seen["twin_without_nhs"]
    assert any(len(forms) > 1 for forms in accent_forms.values()) or any(
        any(not f.isascii() for f in forms) for forms in accent_forms.values())
    counts = sorted(many_rows.values())  # each extra event shows while its lifecycle is listed: about 20-40 rows
    assert counts and 20 <= counts[len(counts) // 2] <= 40 and 15 <= counts[0] and counts[-1] <= 45, counts
    # Both twins of a pair are in the files, so a linker meets them both.
    pairs = {tuple(sorted((pid, people[pid]["twin_of"]))) for pid in feeds_of}
    assert any(a in feeds_of and b in feeds_of for a, b in pairs)
