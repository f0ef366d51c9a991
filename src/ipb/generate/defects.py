"""Defect injection. Row defects: each class in ipb.feeds.ROW_DEFECTS at the given rate in the feeds where it
makes sense, one defect per row and every other field valid, so the expected reason is unambiguous. Accepted row
variants (ROW_VARIANTS): a flaw the contract lets a row keep (an optional identifier that is invalid), labelled in
the truth with outcome `loaded`. File-level defects: accepted encoding variants on real sender files, and rejected
files written as extras."""

from __future__ import annotations

import numpy as np

from ipb import feeds
from ipb.generate import dates
from ipb.generate.identifiers import nhs_check_digit
from ipb.generate.population import CAT
from ipb.generate.rows import Block

# Where each row defect makes sense; the first feed is where "at least one" is guaranteed. In social care (CLD) and
# SEND the NHS number and postcode are optional identifiers (an invalid one costs only itself, see ROW_VARIANTS)
# and an exact repeated row is a double-handed package (two services), so none of these quarantines a row there.
CLASS_FEEDS: dict[str, tuple[str, ...]] = {
    "invalid_nhs_check_digit": ("nhs_phb",),
    "malformed_date": ("social_care", "nhs_phb", "send"),
    "future_birth_date": ("nhs_phb",),
    "negative_amount": ("nhs_phb", "social_care", "send"),
    "management_option_mismatch": ("nhs_phb",),
    "direct_payment_not_allowed": ("nhs_phb",),
    "chc_for_child": ("nhs_phb",),
    "cyp_cc_for_adult": ("nhs_phb",),
    "send_over_25": ("send",),
    "pb0_with_amounts": ("send",),
    "duplicate_key": ("send", "nhs_phb"),
    "unknown_organisation": ("nhs_phb",),
    "sender_mismatch": ("social_care", "nhs_phb", "send"),
    "malformed_postcode": ("nhs_phb",),
}
assert set(CLASS_FEEDS) == set(feeds.ROW_DEFECTS), "every defect class in ipb.feeds needs a home here"
# Row flaws the loader keeps the row for (expected outcome `loaded`, no reason code); at least one per feed listed.
ROW_VARIANTS: dict[str, tuple[str, ...]] = {
    "invalid_nhs_check_digit": ("social_care",),  # SEND's NHS number is rarely sent: not injected there
    "malformed_postcode": ("social_care", "send"),
}


def expected_outcome(feed_name: str, cls: str) -> tuple[str, str]:
    """(expected outcome, expected reason code) of a row labelled `cls` in `feed_name`."""
    if feed_name in ROW_VARIANTS.get(cls, ()):
        return "loaded", ""
    return "quarantined", feeds.ROW_DEFECTS[cls]


# Per feed: which column holds the NHS number, birth date, postcode and sender.
ID_COLS = {
    "nhs_phb": ("nhs_number", "date_of_birth", "postcode", "icb_code"),
    "social_care": ("nhs_number", "date_of_birth", "postcode", "la_code"),
    "send": ("NHSNumber", "PersonBirthDate", "PostCode", "LEA"),
}
FAKE_SUB_ICBS = ("99X", "00Z", "Z9Z9Z", "X1Y")

# File-level: rejected extras (feed, class) and accepted variants (class, feed).
REJECTED_FILES = (("social_care", "extra_column"), ("send", "missing_column"), ("nhs_phb", "truncated_last_line"),
                  ("social_care", "empty_file"), ("send", "header_only"), ("nhs_phb", "wrong_file_name"))
VARIANT_FILES = (("windows_1252", "social_care"), ("utf8_bom", "nhs_phb"), ("crlf", "send"))
assert {c for _, c in REJECTED_FILES} == set(feeds.FILE_DEFECTS_REJECTED)
assert {c for c, _ in VARIANT_FILES} == set(feeds.FILE_VARIANTS_ACCEPTED)
POUND_TEXT = "Other: £25 weekly top-up"
# The column a missing_column file leaves out (social care: a column its header must have, by normalised name).
MISSING_COLUMN = {"send": "SENPrimaryNeed", "nhs_phb": "postcode", "social_care": "gender"}


def _bad_nhs(value: str, k: int) -> str:
    s = value.replace(" ", "")
    if len(s) != 10:
        s = f"999{k % 1000000:06d}0"
    check = nhs_check_digit(s[:9])
    bad = (check + 1 + k % 9) % 10 if check is not None else k % 10
    return s[:9] + str(bad)


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
           day: int, keep_clean: int | None = None) -> tuple[Block, np.ndarray]:
    """Returns the block (with duplicate rows appended) and a defect class per row ('' when clean)."""
    name = block.feed.name
    n = len(block)
    labels = np.full(n, "", dtype=object)
    used = np.zeros(n, dtype=bool)
    if keep_clean is not None:
        used[keep_clean] = True
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
        elif cls == "malformed_date" and name == "social_care":
            # CLD files may write DD/MM/YYYY (one format per file), so the defect is an impossible date in the
            # file's own format: a day the month does not have.
            for i in choose(cls, anyrow, True):
                dob = c[dob_col][i]
                day_no = str(30 + int(rng.integers(0, 2)))
                c[dob_col][i] = f"{day_no}/02/{dob[6:]}" if "/" in dob else f"{dob[:4]}-02-{day_no}"
        elif cls == "malformed_date":
            for i in choose(cls, anyrow, True):
                y, m, d = c[dob_col][i].split("-")
                c[dob_col][i] = f"{d}/{m}/{y}"  # the Excel habit
        elif cls == "future_birth_date":
            ok = ~np.isin(info["cat"], [CAT["CHC"], CAT["CYP_CC"]])
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
            else:
                for i in choose(cls, info["pb"], True):
                    c["EducationElementGBP"][i] = "-" + (c["EducationElementGBP"][i] or "150.00")
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
        elif cls == "send_over_25":
            for i in choose(cls, anyrow, True):
                start = _iso_to_day(c["StartDate"][i])
                dob = int(dates.add_years(np.array([start]), -int(rng.integers(26, 36)))[0]) - int(rng.integers(1, 300))
                c[dob_col][i] = dates.iso(np.array([dob]))[0]
        elif cls == "pb0_with_amounts":
            for i in choose(cls, info["pb"], True):
                if c["PB"][i] == "1":
                    c["PB"][i] = "0"
                else:
                    c["EducationElementGBP"][i] = "1200.00"
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
        if name not in where:
            continue
        if cls == "invalid_nhs_check_digit":
            for i in choose(cls, c[nhs_col] != "", True, first_feed=where[0]):
                c[nhs_col][i] = _bad_nhs(c[nhs_col][i], int(rng.integers(0, 10**9)))
        elif cls == "malformed_postcode":
            for i in choose(cls, c[pc_col] != "", True, first_feed=where[0]):
                c[pc_col][i] = _bad_postcode(c[pc_col][i], int(rng.integers(0, 3)))
    if dups:
        ix = np.concatenate([np.arange(n), np.array(dups, dtype=np.int64)])
        block = block.take(ix)
        labels = np.concatenate([labels, np.full(len(dups), "duplicate_key", dtype=object)])
    return block, labels
