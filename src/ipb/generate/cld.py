"""Social care as councils write it: the CLD Release 2 submission file, unchanged. The field list and the code
lists are data (ipb.contract reads dbt_project/seeds/contract/cld_*.csv); this module only decides each sender's
habits, deterministically by seed and sender, the same every night:

- header spelling: the specification's (`Cost Frequency (Unit Type)`), underscores (`Cost_Frequency_Unit_Type`)
  or upper case (`COST FREQUENCY (UNIT TYPE)`); which optional columns it leaves out (the name columns, some
  others), and whether it sends the columns the warehouse drops at the door;
- values: Release 2 canonical spellings, or the Release 1 aliases the code lists hold;
- dates: ISO `YYYY-MM-DD` or `DD/MM/YYYY`, one format for the whole file;
- `Event Reference`: unique, blank on every row, or blank on ~2% of rows;
- line ends (CRLF or LF) and the reporting period (12 months to the end of the extract date's quarter or month).

Shares are quotas over the senders (a seeded ranking), so a night always shows every habit when there are
enough senders (16 councils in the sample reference data)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from ipb import contract
from ipb.generate import dates
from ipb.generate.rand import Rand

RELEASE = "R2"

# Habit quotas over the senders (shares of senders; at least one sender each when there are 2 or more).
HEADER_UNDERSCORE = 0.20
HEADER_UPPER = 0.125
CRLF = 0.30
NO_NAME_COLUMNS = 0.25  # leave out First Name and Last Name
LEAN = 0.25  # leave out some other optional columns (each with LEAN_COLUMN_DROP)
LEAN_COLUMN_DROP = 0.35
NO_DROPPED_COLUMNS = 0.20  # send none of the columns the warehouse drops at the door
RELEASE1_SPELLINGS = 0.20
DMY_DATES = 0.25
EVENT_REF_NONE = 0.10  # Event Reference blank on every row
EVENT_REF_PARTIAL = 0.20  # Event Reference blank on EVENT_REF_BLANK_RATE of rows
EVENT_REF_BLANK_RATE = 0.02
MONTHLY_PERIOD = 0.40  # reporting period ends at the extract date's month end (else quarter end)

# Optional columns every sender keeps (linkage and the service key need them; the encoding check uses
# Event Outcome's free text). Normalised names.
ALWAYS_SENT = frozenset({"nhs_number", "postcode", "client_type", "event_reference", "event_end_date",
                         "event_outcome"})
NAME_COLUMNS = frozenset({"first_name", "last_name"})

_NON_ALNUM_KEEP_CASE = re.compile(r"[^A-Za-z0-9]+")


def fields() -> tuple[contract.Field, ...]:
    return contract.cld_fields(RELEASE)


def columns() -> tuple[str, ...]:
    """Every Release 2 column (normalised), in specification order."""
    return tuple(f.column for f in fields())


def field(column: str) -> contract.Field:
    for f in fields():
        if f.column == column:
            return f
    raise KeyError(f"cld_fields.csv ({RELEASE}) has no column {column!r}")


def spell(name: str, style: str) -> str:
    if style == "underscore":
        return _NON_ALNUM_KEEP_CASE.sub("_", name.strip()).strip("_")
    if style == "upper":
        return name.upper()
    return name


@dataclass(frozen=True)
class SenderStyle:
    header_style: str  # spec, underscore, upper
    columns: tuple[str, ...]  # normalised names written, in specification order
    dmy: bool
    release1: bool
    event_ref: str  # unique, none, partial
    crlf: bool
    monthly: bool

    def header(self) -> list[str]:
        by_col = {f.column: f.name for f in fields()}
        return [spell(by_col[c], self.header_style) for c in self.columns]


def _quota(r: Rand, stream: str, n: int, *shares: float) -> np.ndarray:
    """Rank the senders by a seeded draw; the first share of them get habit 1, the next share habit 2, ...
    Returns the habit number per sender (0: none)."""
    out = np.zeros(n, dtype=np.int64)
    order = np.argsort(r.uniform(stream, np.arange(n, dtype=np.int64)), kind="stable")
    at = 0
    for k, share in enumerate(shares, start=1):
        m = int(round(share * n))
        if share > 0 and n >= 2:
            m = max(m, 1)
        out[order[at:at + m]] = k
        at += m
    return out


def sender_styles(r: Rand, n: int) -> tuple[SenderStyle, ...]:
    """Each of the n senders' habits: a function of the seed and the sender's position only."""
    fs = fields()
    header = _quota(r, "cld.header", n, HEADER_UNDERSCORE, HEADER_UPPER)
    crlf = _quota(r, "cld.crlf", n, CRLF)
    no_names = _quota(r, "cld.names", n, NO_NAME_COLUMNS)
    lean = _quota(r, "cld.lean", n, LEAN)
    no_dropped = _quota(r, "cld.dropped", n, NO_DROPPED_COLUMNS)
    release1 = _quota(r, "cld.r1", n, RELEASE1_SPELLINGS)
    dmy = _quota(r, "cld.dmy", n, DMY_DATES)
    ref = _quota(r, "cld.ref", n, EVENT_REF_NONE, EVENT_REF_PARTIAL)
    monthly = _quota(r, "cld.period", n, MONTHLY_PERIOD)
    positions = np.array([f.position for f in fs], dtype=np.int64)
    styles = []
    for s in range(n):
        drop_u = r.uniform("cld.leancol", positions, s)
        cols = []
        for f, u in zip(fs, drop_u.tolist(), strict=True):
            if not f.required_in_header and f.column not in ALWAYS_SENT:
                if f.column in NAME_COLUMNS:
                    if no_names[s]:
                        continue
                elif not f.kept and no_dropped[s]:
                    continue
                elif lean[s] and u < LEAN_COLUMN_DROP:
                    continue
            cols.append(f.column)
        styles.append(SenderStyle(("spec", "underscore", "upper")[int(header[s])], tuple(cols), bool(dmy[s]),
                                  bool(release1[s]), ("unique", "none", "partial")[int(ref[s])], bool(crlf[s]),
                                  bool(monthly[s])))
    return tuple(styles)


# ---------------------------------------------------------------------------------------------------- code lists

def _title(value: str) -> str:
    """Release 1 wrote the category labels in title case (`Long Term Support: Nursing Care`)."""
    return " ".join(w[:1].upper() + w[1:] for w in value.split(" "))


@dataclass(frozen=True)
class CodeList:
    name: str
    values: tuple[str, ...]  # canonical Release 2 spellings
    release1: tuple[str, ...]  # the spelling a Release 1 sender writes, per canonical value

    def index(self, value: str) -> int:
        try:
            return self.values.index(value)
        except ValueError:
            raise KeyError(f"{value!r} is not a canonical value of {self.name} in cld_codes.csv") from None

    def weights(self, by_value: dict[str, float]) -> np.ndarray:
        """A weight per canonical value (0 where not named); every named value must be in the list."""
        w = np.zeros(len(self.values))
        for v, x in by_value.items():
            w[self.index(v)] = x
        return w

    def spellings(self, idx: np.ndarray, release1: np.ndarray) -> np.ndarray:
        canon = np.array(self.values, dtype=object)
        old = np.array(self.release1, dtype=object)
        return np.where(release1, old[idx], canon[idx]).astype(object)


@cache
def code_list(name: str) -> CodeList:
    """The list's canonical values and, per value, the Release 1 spelling: an alias whose source says Release 1,
    else a plain alias, else (for the `Category: detail` lists) the title-case form; else the canonical value."""
    codes = contract.codes(name)
    values = contract.canonical_values(name)
    titled = any(":" in v for v in values)
    old = []
    for v in values:
        aliases = [c for c in codes if c.value == v and c.spelling != v]
        r1 = [c.spelling for c in aliases if "release 1" in c.source.lower()]
        plain = [c.spelling for c in aliases if c.source.lower().startswith("alias")]
        old.append(r1[0] if r1 else plain[0] if plain else _title(v) if titled else v)
    return CodeList(name, values, tuple(old))


def warehouse_codes(name: str) -> dict[str, str]:
    """Canonical value -> warehouse code (e.g. Gender Male -> 1)."""
    return {c.value: c.warehouse_code for c in contract.codes(name) if c.spelling == c.value and c.warehouse_code}


# ------------------------------------------------------------------------------------------------------- dates

def dmy(iso: np.ndarray) -> np.ndarray:
    """ISO strings (blank kept blank) as DD/MM/YYYY."""
    return np.array([f"{s[8:10]}/{s[5:7]}/{s[:4]}" if s else "" for s in iso.tolist()], dtype=object)


def reporting_period(day: int, monthly: bool) -> tuple[int, int]:
    """12 months rolling, ending at the end of the extract date's month (monthly senders) or quarter."""
    y, m, _ = (int(a[0]) for a in dates.ymd(np.array([day])))
    end_m = m if monthly else (m - 1) // 3 * 3 + 3
    end = int(dates.from_ymd(np.array([y]), np.array([end_m]), np.array([31]))[0])
    sy, sm = (y, end_m + 1) if end_m < 12 else (y + 1, 1)
    start = int(dates.from_ymd(np.array([sy - 1]), np.array([sm]), np.array([1]))[0])
    return start, end
