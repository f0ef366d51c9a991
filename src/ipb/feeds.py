"""The feed registry: the contract of FEEDS.md as data, shared by the generator, the loader and the DAGs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ipb import contract
from ipb.contract import normalise


@dataclass(frozen=True)
class Feed:
    name: str  # nhs_phb, social_care, send, send_budget, national_opt_out
    columns: tuple[str, ...]  # the columns kept, as the contract spells their header (matched by normalised name)
    sender_column: str | None  # column that must equal the sender code in the file name
    sender_kind: str | None  # which reference code names the sender: icb_code, cld_la_code, dfe_la_number
    key_column: str | None  # unique within a file, stable across extracts (None: the feed has no reliable key)
    funder_label: str
    # A full snapshot with no rows is an export failure for a feed; for the opt-out list it means nobody opted out.
    allow_no_rows: bool = False
    # Columns the release knows that the warehouse does not need: dropped at the door, never stored (minimisation).
    dropped: tuple[str, ...] = ()
    # Columns that must be in the header; None: every kept column.
    required: tuple[str, ...] | None = None
    # csv (RFC 4180 with a header row) or sen2_xml (the DfE SEN2 COLLECT XML, one raw row per Person element).
    format: str = "csv"

    @property
    def extension(self) -> str:
        return "xml" if self.format == "sen2_xml" else "csv"

    @property
    def raw_columns(self) -> tuple[str, ...]:
        return tuple(raw_column(c) for c in self.columns)

    @property
    def required_raw_columns(self) -> tuple[str, ...]:
        return tuple(raw_column(c) for c in (self.columns if self.required is None else self.required))

    @property
    def dropped_raw_columns(self) -> tuple[str, ...]:
        return tuple(raw_column(c) for c in self.dropped)

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def file_pattern(self) -> re.Pattern[str]:
        if self.sender_column is None:
            return re.compile(rf"^{self.name}_(?P<date>\d{{8}})\.{self.extension}$")
        # Sender codes are 3-5 characters (ODS, CLD LA code, DfE number): no identifier fits in that.
        return re.compile(rf"^{self.name}_(?P<sender>[A-Za-z0-9]{{3,5}})_(?P<date>\d{{8}})\.{self.extension}$")

    def file_name(self, sender: str | None, yyyymmdd: str) -> str:
        if self.sender_column is None:
            return f"{self.name}_{yyyymmdd}.{self.extension}"
        return f"{self.name}_{sender}_{yyyymmdd}.{self.extension}"


def raw_column(header: str) -> str:
    """Column name in the raw table: the header's normalised name (FEEDS.md common rules), so `Cost Frequency (Unit
    Type)`, `cost_frequency_unit_type` and `COST FREQUENCY (UNIT TYPE)` are one column."""
    return normalise(header)


NHS_PHB = Feed(
    name="nhs_phb",
    columns=(
        "phb_id", "nhs_number", "forename", "surname", "date_of_birth", "sex", "postcode", "icb_code",
        "sub_icb_code", "phb_category", "direct_payment_gbp", "notional_gbp", "third_party_gbp",
        "management_option", "budget_basis", "indicative_budget_gbp", "care_plan_agreed_date",
        "start_date", "end_date", "record_updated_at",
    ),
    sender_column="icb_code",
    sender_kind="icb_code",
    key_column="phb_id",
    funder_label="health",
)

# CLD Release 2 as councils submit it: the field list is data (dbt_project/seeds/contract/cld_fields.csv).
_CLD = contract.cld_fields("R2")
SOCIAL_CARE = Feed(
    name="social_care",
    columns=tuple(f.name for f in _CLD if f.kept),
    sender_column="LA Code",
    sender_kind="cld_la_code",
    key_column=None,  # Event Reference is optional and not reliable: the event key is derived in staging
    funder_label="social_care",
    dropped=tuple(f.name for f in _CLD if not f.kept),
    required=tuple(f.name for f in _CLD if f.required_in_header),
)

# The DfE SEN2 person-level return as councils export it (COLLECT XML). One raw row per `Person` element: the
# person's own items as text, the header's LEA repeated (the sender check), and the kept part of the person's
# `Requests` subtree as one JSON text value (docs/feeds.md, "send"). The element set is data:
# dbt_project/seeds/contract/sen2_elements.csv.
SEND = Feed(
    name="send",
    columns=(
        "LEA", "Surname", "Forename", "PersonBirthDate", "Sex", "PostCode", "UPN", "UniqueLearnerNumber",
        "UPNunknown", "Requests",
    ),
    sender_column="LEA",
    sender_kind="dfe_la_number",
    key_column=None,  # SEN2 has no person id: a person is identified by UPN, else ULN, else demographics
    funder_label="education",
    format="sen2_xml",
)

# Ours (FEEDS.md "Feed send_budget"): the money in EHC plans' personal budgets, one row per plan's budget.
SEND_BUDGET = Feed(
    name="send_budget",
    columns=(
        "LEA", "BudgetID", "LocalPersonID", "UPN", "UniqueLearnerNumber", "NHSNumber", "Surname", "Forename",
        "PersonBirthDate", "Sex", "PostCode", "PlanStartDate", "EducationElementGBP", "SocialCareElementGBP",
        "DirectPaymentGBP", "IndicativeBudgetGBP", "BudgetStartDate", "BudgetEndDate", "LastUpdated",
    ),
    sender_column="LEA",
    sender_kind="dfe_la_number",
    key_column="BudgetID",
    funder_label="education",
    required=(
        "LEA", "BudgetID", "LocalPersonID", "Surname", "Forename", "PersonBirthDate", "Sex", "PlanStartDate",
        "EducationElementGBP", "SocialCareElementGBP", "DirectPaymentGBP", "BudgetStartDate", "LastUpdated",
    ),
)

# The national data opt-out list: a fourth, small input (IG.md promise 4), loaded like a feed without a sender.
OPT_OUT = Feed(
    name="national_opt_out",
    columns=("nhs_number",),
    sender_column=None,
    sender_kind=None,
    key_column="nhs_number",
    funder_label="",
    allow_no_rows=True,
)

FEEDS: dict[str, Feed] = {f.name: f for f in (NHS_PHB, SOCIAL_CARE, SEND, SEND_BUDGET)}
LOADABLE: dict[str, Feed] = {**FEEDS, OPT_OUT.name: OPT_OUT}

# Code lists from FEEDS.md.
PHB_CATEGORIES = (
    "CHC", "CYP_CC", "S117", "WHEELCHAIR", "PMCB", "LD_AUTISM", "MENTAL_HEALTH", "END_OF_LIFE", "LTC", "OTHER",
)
PHB_MANAGEMENT_OPTIONS = ("DIRECT_PAYMENT", "NOTIONAL", "THIRD_PARTY", "MIXED")
PHB_BUDGET_BASIS = ("ANNUAL", "ONE_OFF")
PERSON_SEX_CODES = ("1", "2", "9", "X")
# SEN2's codes are data (dbt_project/seeds/contract/sen2_codes.csv); these are their canonical values.
SEND_SEX_CODES = contract.canonical_values("sen2_sex")  # M, F, U (a blank Sex is accepted as unknown too)
SEN_PRIMARY_NEEDS = contract.canonical_values("sen2_sen_type")  # SENtype; DS only from the 2025 return

# Defect classes the generator injects (`--defects`) and where the loader must put each one:
# class -> (expected outcome, reason code). Row defects are quarantined (in SEN2 the unit is a whole `Person`
# element), file defects rejected; encoding variants are accepted. The generator's truth and the ingestion tests
# both read this one table (which feeds each class goes into: ipb.generate.defects.CLASS_FEEDS).
ROW_DEFECTS: dict[str, str] = {
    "invalid_nhs_check_digit": "invalid_nhs_number",  # a required NHS number (nhs_phb)
    "malformed_date": "invalid_date",  # an impossible or misformatted birth date (every feed, SEN2 included)
    "future_birth_date": "birth_date_in_future",
    "negative_amount": "negative_amount",
    "management_option_mismatch": "management_option_mismatch",
    "direct_payment_not_allowed": "direct_payment_not_allowed",  # DP on a PMCB or WHEELCHAIR budget
    "chc_for_child": "chc_under_18",
    "cyp_cc_for_adult": "cyp_cc_18_or_over",
    "budget_age_out_of_range": "age_out_of_range",  # send_budget: over 25 at PlanStartDate
    "unknown_pb_flag": "invalid_code",  # SEN2 PB/OA decide money: an unknown value quarantines the Person
    "duplicate_key": "duplicate_key",  # a later row repeating an earlier row's key; the first is kept
    "unknown_organisation": "unknown_organisation",  # e.g. a sub_icb_code not in reference data
    "sender_mismatch": "sender_mismatch",  # row's sender column differs from the file name's sender
    "malformed_postcode": "invalid_postcode",
}
FILE_DEFECTS_REJECTED: dict[str, str] = {
    "extra_column": "extra_columns",
    "missing_column": "missing_columns",
    "truncated_last_line": "truncated_file",  # an incomplete snapshot would look like withdrawals
    "empty_file": "empty_file",
    "header_only": "no_data_rows",  # a zero-row full snapshot (SEN2: no Person) is an export failure
    "wrong_file_name": "bad_file_name",
    # SEN2 XML (FEEDS.md "Feed send"): file checks before any Person is read.
    "unknown_element": "unknown_elements",  # schema drift: an element the release does not know, named in the reason
    "truncated_xml": "truncated_file",  # cut off mid-way through a Person
    "malformed_xml": "malformed_xml",  # not well-formed (a closing tag that does not match)
    "xml_doctype": "xml_forbidden",  # a DTD / external entity: never resolved, the file is refused
    "lea_mismatch": "sender_mismatch",  # Header/Source/LEA differs from the file name's sender
}
FILE_VARIANTS_ACCEPTED: tuple[str, ...] = ("windows_1252", "utf8_bom", "crlf")
