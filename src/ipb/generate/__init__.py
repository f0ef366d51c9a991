"""Synthetic feed generator (`ipb generate`).

    ipb generate --date 2026-11-22 --people 300 --out DIR [--seed S] [--defects 0.02] [--truth TRUTH_DIR]
    generate_night("2026-11-22", 300, DIR, seed=1, defects=0.02, truth_dir=TRUTH_DIR) -> GenerateSummary

One population (population.py) seen through four feeds (rows.py), each record with a deterministic lifecycle
(lifecycle.py) so any date is a pure function of (seed, date, people); cross-feed noise (noise.py); linkage hard
cases (hard.py, names.py); defects (defects.py); the answer key (truth.py). Social care files are CLD Release 2 as
councils write them (cld.py: the field and code lists from ipb.contract, each sender's header spelling, optional
columns, date format, Release 1 spellings, Event References and line ends); send files are the SEN2 XML return
(sen2.py: 2025 v1.3 or 2024 v1.2, element variants, streamed a chunk of Persons at a time) with send_budget CSVs
beside them. NATIONAL_PEOPLE (1,270,000) gives national row counts.
The validators import without numpy; generate_night loads lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipb.generate.identifiers import is_valid_nhs_number, is_valid_upn

if TYPE_CHECKING:
    from ipb.generate.night import GenerateError, GenerateSummary, generate_night

__all__ = ["GenerateError", "GenerateSummary", "generate_night", "is_valid_nhs_number", "is_valid_upn",
           "NATIONAL_PEOPLE"]


def __getattr__(name: str) -> Any:
    if name in ("generate_night", "GenerateSummary", "GenerateError"):
        from ipb.generate import night

        return getattr(night, name)
    if name == "NATIONAL_PEOPLE":
        from ipb.generate.params import NATIONAL_PEOPLE

        return NATIONAL_PEOPLE
    raise AttributeError(name)
