"""Every tunable rate of the synthetic world, with defaults calibrated to the national figures in FEEDS.md.
All of them are recorded in the truth manifest."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

# The world is anchored here: ages and lifecycle phases are drawn relative to it, so any extract date is a pure
# function of (seed, date, people).
EPOCH = dt.date(2026, 1, 1)
# Extract dates the world supports: anchors (always-open records) started in 2017.
FIRST_DATE = dt.date(2018, 1, 1)
LAST_DATE = dt.date(2040, 12, 31)

# `--people` that yields roughly the national row counts (~200k nhs_phb, ~850k social_care, ~580k send rows);
# measured with bench/generate.py.
NATIONAL_PEOPLE = 1_270_000
MIN_PEOPLE = 100  # the first 53 people anchor one always-open record in every sender's file

# Person groups: which feeds a person appears in.
PHB_ONLY, PHB_SC, PHB_SEND, SC_ONLY, SEND_ONLY, SEND_SC = range(6)
GROUP_NAMES = ("phb_only", "phb_and_social_care", "phb_and_send", "social_care_only", "send_only",
               "send_and_social_care")

CATEGORIES = ("CHC", "CYP_CC", "S117", "WHEELCHAIR", "PMCB", "LD_AUTISM", "MENTAL_HEALTH", "END_OF_LIFE", "LTC",
              "OTHER")


@dataclass(frozen=True)
class Params:
    # Population mix.
    phb_share: float = 0.21  # people holding a personal health budget (some also in other feeds)
    non_phb_mix: tuple[float, float, float] = (0.36, 0.62, 0.02)  # of the rest: social care only, SEND only, both
    # Weights per PHB holder by category (CATEGORIES order); chosen so the snapshot shares land near the national
    # figures once each category's lifecycle (one-off wheelchair budgets are open briefly) is applied.
    category_weights: tuple[float, ...] = (0.128, 0.062, 0.023, 0.428, 0.040, 0.021, 0.111, 0.034, 0.134, 0.018)
    wheelchair_child_share: float = 0.16
    mental_health_child_share: float = 0.10
    # Overlaps between feeds.
    chc_with_social_care: float = 0.40
    adult_phb_with_social_care: float = 0.25  # S117, LD_AUTISM, MENTAL_HEALTH adults
    cyp_cc_with_send: float = 0.60
    # PHB management (per budget, among categories that allow it).
    dp_share_where_allowed: float = 0.224  # gives ~15% overall, wheelchair and maternity budgets have no DP
    third_party_share: float = 0.05
    mixed_share: float = 0.012
    # SEND.
    pb_share_send_only: float = 0.07
    pb_share_with_phb: float = 0.80
    pb_share_with_social_care: float = 0.30
    # Noise on the same person across feeds.
    nhs_missing_send: float = 0.85
    nhs_missing_send_with_phb: float = 0.45
    nhs_missing_social_care: float = 0.08
    nhs_spaced: float = 0.03
    nickname: float = 0.06
    name_typo: float = 0.02
    double_surname: float = 0.04  # people whose true surname is double-barrelled
    double_surname_variant: float = 0.5  # a feed shows it spaced, or one half only
    postcode_moved: float = 0.03
    postcode_unnormalised: float = 0.12
    postcode_missing_optional: float = 0.03
    dob_day_month_swap: float = 0.01
    opt_out: float = 0.012
    # Social care (CLD Release 2) rows; each sender's habits (header, dates, spellings) are quotas in cld.py.
    unpaid_carer: float = 0.08  # social-care-only people who are unpaid carers (carer service types)
    unpaid_carer_by_association: float = 0.15  # of them, "Unpaid carer known by association"
    funding_status_unknown: float = 0.005  # Client Funding Status "Unknown"
    delivery_mechanism_blank_dp: float = 0.20  # blank on a Direct payment component (the loader derives it)
    delivery_mechanism_blank_other: float = 0.01  # blank on another service (kept, not a personal budget)
    double_handed: float = 0.02  # home support rows repeated exactly (two carers: two services)
    # Linkage hard cases (issue 20), in every night and listed in the truth's hard_cases.csv; 0 turns them off.
    twin: float = 0.004  # people who are the second of twins (same birth date, surname, household; other forename)
    hard_case: float = 0.003  # per class: accented names, married surnames, names swapped, wrong / mistyped NHS
    many_events: float = 0.002  # social care clients with 20-40 event rows

    def as_dict(self) -> dict:
        return asdict(self)
