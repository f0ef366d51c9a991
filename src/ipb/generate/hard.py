"""Linkage hard cases (issue 20): the records that tempt a linker into a false merge or a missed link, labelled
per row in the truth's hard_cases.csv (file_name, row_number, case_class; a row may carry several classes).
records.csv's person_id stays the answer. Most are properties of a person (twins, an accented or a changed name, a
double surname) or of a person in one feed (names swapped, a nickname from the alias list, an old postcode, day and
month of birth swapped), drawn in population.py and noise.py; the NHS number cases are put on rows here. All are
keyed by person and feed, so a case is the same every night."""

from __future__ import annotations

import numpy as np

from ipb.generate import dates
from ipb.generate.identifiers import nhs_check_digit
from ipb.generate.names import is_known_alias
from ipb.generate.rand import Rand

CLASSES = (
    "twin",  # twins: same birth date, surname and postcode, a different (non-alias) forename; two people
    "wrong_nhs_number",  # another real person's valid NHS number, their birth date in conflict: not one person
    "mistyped_nhs_number",  # an optional NHS number failing its check digit: row kept, number ignored
    "accented_name",  # `Zoë Brontë` in one feed, `Zoe Bronte` in another
    "names_swapped",  # forename and surname the wrong way round
    "hyphenated_surname",  # a double surname, shown hyphenated, spaced or one half
    "married_surname",  # a changed surname some feeds still show the old way
    "forename_alias",  # a known alias (forename_aliases.csv) instead of the forename
    "dob_day_month_swapped",
    "postcode_moved",  # the previous address's postcode
    "many_events",  # a social care client with 20-40 event rows
)


def row_labels(R: dict[str, np.ndarray], fore: np.ndarray, sur: np.ndarray, swapped: np.ndarray,
               dob_shown: np.ndarray, pc_moved: np.ndarray, pc_shown: np.ndarray,
               many: np.ndarray | None = None) -> np.ndarray:
    """';'-joined hard-case classes per row ('' for none). R: the true person of each row (population arrays)."""
    n = len(fore)
    shown_fore = np.where(swapped, sur, fore)
    shown_sur = np.where(swapped, fore, sur)
    alias = np.zeros(n, dtype=bool)
    for k in np.flatnonzero(shown_fore != R["fname"]).tolist():
        alias[k] = is_known_alias(shown_fore[k], R["fname"][k])
    masks = {
        "twin": R["twin"] | R["twin_partner"],
        "accented_name": R["accent"],
        "names_swapped": swapped,
        "hyphenated_surname": R["double"],
        "married_surname": R["married"] & (shown_sur == R["sur_old"]),
        "forename_alias": alias,
        "dob_day_month_swapped": dob_shown != R["dob"],
        "postcode_moved": pc_moved & (pc_shown != ""),
    }
    if many is not None:
        masks["many_events"] = many
    return join(masks, n)


def join(masks: dict[str, np.ndarray], n: int) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    names = list(masks)
    m = np.stack([masks[c] for c in names], axis=1) if names else np.zeros((n, 0), dtype=bool)
    for k in np.flatnonzero(m.any(axis=1)).tolist():
        out[k] = ";".join(c for c, hit in zip(names, m[k].tolist(), strict=True) if hit)
    return out


def add(labels: np.ndarray, rows: np.ndarray, cls: str) -> None:
    for k in np.asarray(rows).tolist():
        labels[k] = cls if labels[k] == "" else f"{labels[k]};{cls}"


def _conflict(a: int, b: int) -> bool:
    """FEEDS.md linkage: birth dates conflict when not equal, not day and month swapped, and more than one of day,
    month and year differ."""
    (ya, ma, da), (yb, mb, db) = ([int(x[0]) for x in dates.ymd(np.array([v]))] for v in (a, b))
    if a == b or (ya == yb and ma == db and da == mb):
        return False
    return (ya != yb) + (ma != mb) + (da != db) > 1


def mistype(nhs: str, k: int) -> str:
    """The number with a wrong check digit (always invalid: a valid number's check digit is replaced)."""
    s = nhs.replace(" ", "")
    check = nhs_check_digit(s[:9])
    return s[:9] + str(((check if check is not None else 0) + 1 + k % 9) % 10)


def nhs_cases(r: Rand, rate: float, feed_no: int, person: np.ndarray, nhs: np.ndarray, dob: np.ndarray,
              P: dict[str, np.ndarray], mistyped_ok: bool, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put the NHS number hard cases on a block's rows (nhs: its NHS number column, changed in place; dob: the
    row's birth day number). A person's case holds on all their rows. Wrong: the valid number of another person of
    the chunk who has a personal health budget (so the number is in use), has not opted out and whose birth date
    conflicts. Mistyped (optional NHS numbers only): a failed check digit. Returns (wrong rows, mistyped rows)."""
    if rate <= 0 or not len(person):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo = int(P["idx"][0])
    pos = person - lo
    has = (nhs != "") & ~P["opted_out"][pos] & ~exclude
    wrong = np.flatnonzero(has & (r.uniform("hc.wrongnhs", person, feed_no) < rate))
    donors = np.flatnonzero(P["in_phb"] & (P["nhs"] != "") & ~P["opted_out"] & ~P["twin"] & ~P["twin_partner"])
    done = []
    for k in wrong.tolist():
        if not len(donors):
            break
        start = int(np.searchsorted(donors, pos[k], side="right"))
        for step in range(min(len(donors), 50)):
            d = int(donors[(start + step) % len(donors)])
            if d != pos[k] and _conflict(int(dob[k]), int(P["dob"][d])):
                nhs[k] = P["nhs"][d]
                done.append(k)
                break
    typo = np.zeros(0, dtype=np.int64)
    if mistyped_ok:
        typo = np.flatnonzero(has & (r.uniform("hc.typonhs", person, feed_no) < rate))
        typo = np.setdiff1d(typo, np.array(done, dtype=np.int64))
        for k in typo.tolist():
            nhs[k] = mistype(nhs[k], int(person[k]))
    return np.array(done, dtype=np.int64), typo
