"""Defect injection. Row defects: each class in ipb.feeds.ROW_DEFECTS at the given rate in the feeds where it
makes sense, one defect per row and every other field valid, so the expected reason is unambiguous. Accepted row
variants (ROW_VARIANTS): a flaw the contract lets a row keep (an optional identifier that is invalid), labelled in
the truth with outcome `loaded`. File-level defects: accepted encoding variants on real sender files, and rejected
files written as extras."""

from __future__ import annotations

import numpy as np

from ipb import feeds
from ipb.generate import dates
from ipb.generate.identifiers import UPN_LETTERS, nhs_check_digit
from ipb.generate.population import CAT
from ipb.generate.rows import Block

# Where each row defect makes sense; the first feed is where "at least one" is guaranteed. In social care (CLD),
# SEN2 and the budget file the NHS number, UPN and postcode are optional identifiers (an invalid one costs only
# itself, see ROW_VARIANTS) and an exact repeated CLD row is a double-handed package (two services), so none of
# these quarantines a row there. In SEN2 a defect quarantines the whole Person.
CLASS_FEEDS: dict[str, tuple[str, ...]] = {
    "invalid_nhs_check_digit": ("nhs_phb",),
    "malformed_date": ("social_care", "nhs_phb", "send", "send_budget"),
    "future_birth_date": ("nhs_phb", "send"),
    "negative_amount": ("nhs_phb", "social_care", "send_budget"),
    "management_option_mismatch": ("nhs_phb",),
    "direct_payment_not_allowed": ("nhs_phb",),
    "chc_for_child": ("nhs_phb",),
    "cyp_cc_for_adult": ("nhs_phb",),
    "budget_age_out_of_range": ("send_budget",),
    "unknown_pb_flag": ("send",),
    "duplicate_key": ("send_budget", "nhs_phb"),
    "unknown_organisation": ("nhs_phb",),
    "sender_mismatch": ("social_care", "nhs_phb", "send_budget"),
    "malformed_postcode": ("nhs_phb",),
}
assert set(CLASS_FEEDS) == set(feeds.ROW_DEFECTS), "every defect class in ipb.feeds needs a home here"
# Row flaws the loader keeps the row for (expected outcome `loaded`, no reason code), at least one in every feed
# listed. The last two are counted in the validation report (FEEDS.md "Feed send_budget"): a SEN2 plan with PB 1 and
# no budget row ("personal budget without amounts", labelled on the Person), a budget whose PlanStartDate is no
# plan in the SEN2 file ("budget without a plan").
ROW_VARIANTS: dict[str, tuple[str, ...]] = {
    "invalid_nhs_check_digit": ("social_care", "send_budget"),
    "malformed_postcode": ("social_care", "send", "send_budget"),
    "invalid_upn_check_letter": ("send", "send_budget"),
    "pb_without_budget": ("send",),
    "budget_without_plan": ("send_budget",),
}
PAIR_VARIANTS = ("pb_without_budget", "budget_without_plan")  # injected on the SEN2 and budget blocks together


def expected_outcome(feed_name: str, cls: str) -> tuple[str, str]:
    """(expected outcome, expected reason code) of a row labelled `cls` in `feed_name`."""
    if feed_name in ROW_VARIANTS.get(cls, ()):
        return "loaded", ""
    return "quarantined", feeds.ROW_DEFECTS[cls]


# Per feed: which column holds the NHS number, birth date, postcode and sender (None: not a column of the rows).
ID_COLS: dict[str, tuple[str | None, str, str, str | None]] = {
    "nhs_phb": ("nhs_number", "date_of_birth", "postcode", "icb_code"),
    "social_care": ("nhs_number", "date_of_birth", "postcode", "la_code"),
    "send": (None, "PersonBirthDate", "PostCode", None),  # the sender is the header's LEA (a file check)
    "send_budget": ("NHSNumber", "PersonBirthDate", "PostCode", "LEA"),
}
FAKE_SUB_ICBS = ("99X", "00Z", "Z9Z9Z", "X1Y")

# File-level: rejected extras (feed, class) and accepted variants (class, feed).
REJECTED_FILES = (("social_care", "extra_column"), ("send_budget", "missing_column"),
                  ("nhs_phb", "truncated_last_line"), ("social_care", "empty_file"), ("send", "header_only"),
                  ("nhs_phb", "wrong_file_name"), ("send", "unknown_element"), ("send", "truncated_xml"),
                  ("send", "malformed_xml"), ("send", "xml_doctype"), ("send", "lea_mismatch"))
VARIANT_FILES = (("windows_1252", "social_care"), ("utf8_bom", "nhs_phb"), ("crlf", "send_budget"))
assert {c for _, c in REJECTED_FILES} == set(feeds.FILE_DEFECTS_REJECTED)
assert {c for c, _ in VARIANT_FILES} == set(feeds.FILE_VARIANTS_ACCEPTED)
POUND_TEXT = "Other: £25 weekly top-up"
# The column a missing_column file leaves out (one its header must have; social care: by normalised name).
MISSING_COLUMN = {"send_budget": "PlanStartDate", "nhs_phb": "postcode", "social_care": "gender"}
UNKNOWN_ELEMENT = "Notes"  # what a drifted SEN2 export adds to each Person


def _bad_nhs(value: str, k: int) -> str:
    s = value.replace(" ", "")
    if len(s) != 10:
        s = f"999{k % 1000000:06d}0"
    check = nhs_check_digit(s[:9])
    bad = (check + 1 + k % 9) % 10 if check is not None else k % 10
    return s[:9] + str(bad)


def _bad_upn(value: str, k: int) -> str:
    """The UPN with another check letter (k in 1..22): a 13-character UPN that fails modulus 23."""
    return UPN_LETTERS[(UPN_LETTERS.index(value[0]) + k) % 23] + value[1:]


def inject_pairs(persons: Block, budgets: Block, rate: float, rng: np.random.Generator,
                 force: bool) -> tuple[Block, np.ndarray, np.ndarray]:
    """The SEN2 / budget mismatches the validation report counts: a PB=1 plan whose budget row is missing (the
    Person is labelled), and a budget whose PlanStartDate is no plan of the SEN2 file (the row is labelled).
    Returns (budgets without the dropped rows, person labels, budget labels)."""
    p_labels = np.full(len(persons), "", dtype=object)
    b_labels = np.full(len(budgets), "", dtype=object)
    free = (budgets.info["hard"] == "") & ~budgets.info["anchor"]  # an anchor's budget keeps its file non-empty
    picks = {}
    for cls in PAIR_VARIANTS:
        pool = np.flatnonzero(free)
        k = int(rng.binomial(len(pool), rate)) if len(pool) else 0
        if force and k == 0 and len(pool):
            k = 1
        rows = np.sort(rng.choice(pool, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
        free[rows] = False
        picks[cls] = rows
    for i in picks["budget_without_plan"].tolist():
        start = _iso_to_day(budgets.cols["PlanStartDate"][i]) - 7 * int(rng.integers(1, 20))
        budgets.cols["PlanStartDate"][i] = dates.iso(np.array([start]))[0]
        b_labels[i] = "budget_without_plan"
    p_labels[budgets.info["plan_row"][picks["pb_without_budget"]]] = "pb_without_budget"
    keep = np.setdiff1d(np.arange(len(budgets)), picks["pb_without_budget"])
    return budgets.take(keep), p_labels, b_labels[keep]


def _bad_postcode(value: str, kind: int) -> str:
    pc = value.upper().split()
    if len(pc) == 2 and kind == 0:
        return pc[0]  # outward code only
    if len(pc) == 2 and kind == 1:
        return f"{pc[1]} {pc[0]}"  # halves swapped
    return "UNKNOWN"


def _iso_to_day(s: str) -> int:
    y, m, d = (int(x) for x in s.split("-"))
    return int(dates.from_ymd(np.array([y]), np.array([m]), np.array([d]))[0])


def inject(block: Block, rate: float, rng: np.random.Generator, force: bool, senders: tuple[str, ...],
           day: int, keep_clean: np.ndarray | None = None,
           labels: np.ndarray | None = None) -> tuple[Block, np.ndarray]:
    """Returns the block (with duplicate rows appended) and a defect class per row ('' when clean). keep_clean:
    rows no defect may touch (hard cases, the pound-sign row); labels: classes already put on rows (kept)."""
    name = block.feed.name
    n = len(block)
    labels = np.full(n, "", dtype=object) if labels is None else labels
    used = labels != ""
    if keep_clean is not None:
        used |= keep_clean
    dups: list[int] = []
    c = block.cols
    info = block.info
    nhs_col, dob_col, pc_col, sender_col = ID_COLS[name]

    def choose(cls: str, eligible: np.ndarray, fallback: bool, first_feed: str | None = None) -> np.ndarray:
        pool = np.flatnonzero(eligible & ~used)
        k = int(rng.binomial(len(pool), rate)) if len(pool) else 0
        if force and (first_feed or CLASS_FEEDS[cls][0]) == name and k == 0:
            if len(pool) == 0 and fallback:
                pool = np.flatnonzero(~used)
            k = min(1, len(pool))
        rows = np.sort(rng.choice(pool, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
        labels[rows] = cls
        used[rows] = True
        return rows

    for cls, where in CLASS_FEEDS.items():
        if name not in where:
            continue
        anyrow = np.ones(n, dtype=bool)
        if cls == "invalid_nhs_check_digit":
            for i in choose(cls, anyrow, True):
                c[nhs_col][i] = _bad_nhs(c[nhs_col][i], int(rng.integers(0, 10**9)))
        elif cls == "malformed_date" and name != "nhs_phb":
            # CLD files may write DD/MM/YYYY (one format per file), so the defect is an impossible date in the
            # file's own format: a day the month does not have (SEN2 and the budget file: ISO).
            for i in choose(cls, anyrow, True):
                dob = c[dob_col][i]
                day_no = str(30 + int(rng.integers(0, 2)))
                c[dob_col][i] = f"{day_no}/02/{dob[6:]}" if "/" in dob else f"{dob[:4]}-02-{day_no}"
        elif cls == "malformed_date":
            for i in choose(cls, anyrow, True):
                y, m, d = c[dob_col][i].split("-")
                c[dob_col][i] = f"{d}/{m}/{y}"  # the Excel habit
        elif cls == "future_birth_date":
            ok = ~np.isin(info["cat"], [CAT["CHC"], CAT["CYP_CC"]]) if "cat" in info else anyrow
            for i in choose(cls, ok, False):
                dob = int(info["dob"][i])
                future = int(dates.add_years(np.array([dob]), 100)[0])  # 1962 keyed as 2062
                if future < day + 3650:
                    future = day + 3650 + int(rng.integers(0, 3000))
                c[dob_col][i] = dates.iso(np.array([future]))[0]
        elif cls == "negative_amount":
            if name == "nhs_phb":
                ind = c["indicative_budget_gbp"]
                for i in choose(cls, anyrow, True):
                    ind[i] = "-" + (ind[i] or str(info["total"][i] // 100))
            elif name == "social_care":
                for i in choose(cls, info["service"], False):
                    c["unit_cost"][i] = "-" + c["unit_cost"][i]
            else:  # an organised-arrangements budget (no direct payment part for the total to fall below)
                for i in choose(cls, info["dp"] == 0, True):
                    col = "EducationElementGBP" if c["EducationElementGBP"][i] else "SocialCareElementGBP"
                    c[col][i] = "-" + c[col][i]
        elif cls == "management_option_mismatch":
            swap = {"NOTIONAL": "THIRD_PARTY", "DIRECT_PAYMENT": "NOTIONAL", "THIRD_PARTY": "NOTIONAL"}
            for i in choose(cls, c["management_option"] != "MIXED", False):
                c["management_option"][i] = swap[c["management_option"][i]]
        elif cls == "direct_payment_not_allowed":
            ok = np.isin(info["cat"], [CAT["WHEELCHAIR"], CAT["PMCB"]])
            for i in choose(cls, ok, True):
                if c["phb_category"][i] not in ("WHEELCHAIR", "PMCB"):
                    c["phb_category"][i] = "WHEELCHAIR"
                    c["budget_basis"][i] = "ONE_OFF"
                total = sum(float(c[k][i]) for k in ("direct_payment_gbp", "notional_gbp", "third_party_gbp"))
                c["direct_payment_gbp"][i] = f"{total:.2f}"
                c["notional_gbp"][i] = "0.00"
                c["third_party_gbp"][i] = "0.00"
                c["management_option"][i] = "DIRECT_PAYMENT"
        elif cls in ("chc_for_child", "cyp_cc_for_adult"):
            target = "CHC" if cls == "chc_for_child" else "CYP_CC"
            lo, hi = (9, 17) if cls == "chc_for_child" else (19, 60)
            for i in choose(cls, info["cat"] == CAT[target], True):
                c["phb_category"][i] = target
                start = _iso_to_day(c["start_date"][i])
                dob = int(dates.add_years(np.array([start]), -int(rng.integers(lo, hi)))[0]) - int(rng.integers(1, 300))
                c[dob_col][i] = dates.iso(np.array([dob]))[0]
        elif cls == "budget_age_out_of_range":
            for i in choose(cls, anyrow, True):
                start = _iso_to_day(c["PlanStartDate"][i])
                dob = int(dates.add_years(np.array([start]), -int(rng.integers(26, 36)))[0]) - int(rng.integers(1, 300))
                c[dob_col][i] = dates.iso(np.array([dob]))[0]
        elif cls == "unknown_pb_flag":
            # On a plan without a personal budget, so the quarantined Person leaves no budget row without its plan.
            for i in choose(cls, ~info["pb"], True):
                req = c["Requests"][i]
                for old in ("<PB>0</PB>", "<PB>false</PB>"):
                    if old in req:
                        c["Requests"][i] = req.replace(old, "<PB>Y</PB>", 1)
                        break
        elif cls == "duplicate_key":
            rows = choose(cls, anyrow, True)
            labels[rows] = ""  # the first row stays good; the appended repeat carries the label
            dups.extend(rows.tolist())
        elif cls == "unknown_organisation":
            for i in choose(cls, anyrow, True):
                c["sub_icb_code"][i] = FAKE_SUB_ICBS[int(rng.integers(0, len(FAKE_SUB_ICBS)))]
        elif cls == "sender_mismatch":
            for i in choose(cls, anyrow, True):
                s = int(block.sender[i])
                other = (s + 1 + int(rng.integers(0, len(senders) - 1))) % len(senders)
                c[sender_col][i] = senders[other]
        elif cls == "malformed_postcode":
            for i in choose(cls, anyrow, True):
                c[pc_col][i] = _bad_postcode(c[pc_col][i], int(rng.integers(0, 3)))
    for cls, where in ROW_VARIANTS.items():
        if name not in where or cls in PAIR_VARIANTS:
            continue
        if cls == "invalid_nhs_check_digit" and nhs_col is not None:
            for i in choose(cls, c[nhs_col] != "", True, first_feed=name):
                c[nhs_col][i] = _bad_nhs(c[nhs_col][i], int(rng.integers(0, 10**9)))
        elif cls == "malformed_postcode":
            for i in choose(cls, c[pc_col] != "", True, first_feed=name):
                c[pc_col][i] = _bad_postcode(c[pc_col][i], int(rng.integers(0, 3)))
        elif cls == "invalid_upn_check_letter":
            for i in choose(cls, c["UPN"] != "", False, first_feed=name):
                c["UPN"][i] = _bad_upn(c["UPN"][i], int(rng.integers(1, 23)))
    if dups:
        ix = np.concatenate([np.arange(n), np.array(dups, dtype=np.int64)])
        block = block.take(ix)
        labels = np.concatenate([labels, np.full(len(dups), "duplicate_key", dtype=object)])
    return block, labels
