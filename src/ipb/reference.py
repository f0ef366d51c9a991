"""Reference data (ICBs, councils and their codes, sub-ICB locations): the dbt seeds, read by Python too,
so the generator, the loader and dbt agree on one copy."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ipb import config


@dataclass(frozen=True)
class Organisation:
    la_gss_code: str
    la_name: str
    dfe_la_number: str
    cld_la_code: str
    primary_icb_code: str
    approx_population: int


@dataclass(frozen=True)
class Icb:
    icb_code: str
    icb_gss_code: str
    icb_name: str
    approx_population: int


@dataclass(frozen=True)
class Reference:
    organisations: tuple[Organisation, ...]
    icbs: tuple[Icb, ...]
    sub_icb_codes: dict[str, str]  # sub-ICB code -> ICB code

    def senders(self, kind: str) -> set[str]:
        """Known sender codes for a feed's `sender_kind` (icb_code, cld_la_code, dfe_la_number)."""
        if kind == "icb_code":
            return {i.icb_code for i in self.icbs}
        return {getattr(o, kind) for o in self.organisations}


def seeds_dir() -> Path:
    return config.load().dbt_project_dir / "seeds" / "reference"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@lru_cache(maxsize=4)
def _load(directory: str) -> Reference:
    d = Path(directory)
    orgs = tuple(
        Organisation(r["la_gss_code"], r["la_name"], r["dfe_la_number"], r["cld_la_code"], r["primary_icb_code"],
                     int(r["approx_population"]))
        for r in _rows(d / "organisations.csv")
    )
    icbs = tuple(
        Icb(r["icb_code"], r["icb_gss_code"], r["icb_name"], int(r["approx_population"]))
        for r in _rows(d / "icbs.csv")
    )
    subs = {r["sub_icb_code"]: r["icb_code"] for r in _rows(d / "sub_icb_locations.csv")}
    return Reference(orgs, icbs, subs)


def load(directory: Path | None = None) -> Reference:
    return _load(str(directory or seeds_dir()))
