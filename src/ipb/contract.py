"""The feed contract's field lists and code lists, read from the one place they live as data:
`dbt_project/seeds/contract/*.csv` (dbt loads the same files as seeds, the loader and the generator read them here).
A deployment that holds the official CLD mapping workbook corrects a CSV, not code (docs/feeds.md).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path


def contract_dir() -> Path:
    from ipb import config

    return config.load().dbt_project_dir / "seeds" / "contract"

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def normalise(name: str) -> str:
    """FEEDS.md common rule: trim, lower-case, every run of characters other than letters and digits becomes one `_`,
    leading and trailing `_` dropped. `Cost Frequency (Unit Type)` -> `cost_frequency_unit_type`."""
    return _NON_ALNUM.sub("_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class Field:
    release: str
    position: int
    name: str  # as the specification writes it
    column: str  # normalised: the raw table's column
    required_in_header: bool
    kept: bool  # False: dropped at the door (never stored)
    kind: str  # sender_code, date, money, units, code, nhs_number, local_id, name, postcode, text
    code_list: str | None
    confirmed: bool
    source: str


@dataclass(frozen=True)
class Code:
    code_list: str
    spelling: str  # an accepted spelling (the canonical one, or an alias)
    value: str  # the release's canonical spelling, as stored
    warehouse_code: str | None
    confirmed: bool
    source: str


def _rows(file_name: str) -> list[dict[str, str]]:
    with (contract_dir() / file_name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _bool(text: str) -> bool:
    return text.strip().lower() == "true"


@cache
def cld_fields(release: str = "R2") -> tuple[Field, ...]:
    fields = tuple(
        Field(r["release"], int(r["position"]), r["field"], r["column_name"], _bool(r["required_in_header"]),
              _bool(r["kept"]), r["kind"], r["code_list"] or None, _bool(r["confirmed"]), r["source"])
        for r in _rows("cld_fields.csv") if r["release"] == release
    )
    bad = [f.name for f in fields if normalise(f.name) != f.column]
    if bad:
        raise ValueError(f"cld_fields.csv: column_name is not the normalised field name for {bad}")
    return tuple(sorted(fields, key=lambda f: f.position))


# One file of code lists per national specification; a list's name starts with its file's prefix.
CODE_FILES = {"cld_": "cld_codes.csv", "sen2_": "sen2_codes.csv"}


@cache
def codes(code_list: str) -> tuple[Code, ...]:
    file_name = next((f for prefix, f in CODE_FILES.items() if code_list.startswith(prefix)), None)
    if file_name is None:
        raise KeyError(f"code list {code_list!r} names no code file (prefixes {sorted(CODE_FILES)})")
    found = tuple(Code(r["code_list"], r["spelling"], r["value"], r["warehouse_code"] or None, _bool(r["confirmed"]),
                       r["source"]) for r in _rows(file_name) if r["code_list"] == code_list)
    if not found:
        raise KeyError(f"no code list {code_list!r} in {file_name}")
    return found


def canonical_values(code_list: str) -> tuple[str, ...]:
    """The canonical spellings of a code list, in file order, without repeats."""
    return tuple(dict.fromkeys(c.value for c in codes(code_list)))


def accepted_spellings(code_list: str) -> tuple[str, ...]:
    """Every accepted spelling, normalised for comparison (trimmed, lower case)."""
    return tuple(dict.fromkeys(c.spelling.strip().lower() for c in codes(code_list)))


@dataclass(frozen=True)
class Element:
    """One element of the SEN2 COLLECT XML (dbt_project/seeds/contract/sen2_elements.csv)."""

    release: str  # the collection year: 2025 (v1.3), 2024 (v1.2)
    module: str  # path of the parent module, e.g. Message/Persons/Person/Requests ('' for the root)
    name: str  # canonical spelling, as stored
    variants: tuple[str, ...]  # other accepted spellings (stored under `name`)
    kept: bool  # False: dropped at the door, never stored (a dropped module drops its whole subtree)
    required: bool  # a Person without it is quarantined (Header/Source/LEA: the file is rejected)
    kind: str  # module, date, code, flag, rank, name, postcode, upn, uln, sender_code, text, integer, datetime
    code_list: str | None
    on_unknown: str  # quarantine (the Person) or keep (kept as sent, mapped in staging) a value outside its list
    confirmed: bool
    source: str

    @cached_property  # read for every element of every file
    def path(self) -> str:
        return f"{self.module}/{self.name}" if self.module else self.name

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.name, *self.variants)


SEN2_RELEASES = ("2025", "2024")  # newest first: a file that names no known collection year is read as the newest


@cache
def sen2_elements(release: str = SEN2_RELEASES[0]) -> tuple[Element, ...]:
    """The SEN2 element set of one release, in specification order."""
    found = tuple(
        Element(r["release"], r["module"], r["element"], tuple(v for v in r["variants"].split("|") if v),
                _bool(r["kept"]), _bool(r["required"]), r["kind"], r["code_list"] or None, r["on_unknown"],
                _bool(r["confirmed"]), r["source"])
        for r in _rows("sen2_elements.csv") if r["release"] == release
    )
    if not found:
        raise KeyError(f"no SEN2 release {release!r} in sen2_elements.csv")
    seen: set[tuple[str, str]] = set()
    for e in found:
        for spelling in e.spellings:
            if (e.module, spelling) in seen:
                raise ValueError(f"sen2_elements.csv: {e.module}/{spelling} is listed twice in release {release}")
            seen.add((e.module, spelling))
    return found
