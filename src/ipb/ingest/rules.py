"""Row rules from FEEDS.md as set-based SQL: one ordered list of (reason code, failing condition, readable reason)
per feed. The loader evaluates them over a whole batch in one statement; a row's first failing rule is its reason.

Conditions see the raw row as sent (text, NULL for empty) and these bind parameters: %(sender)s,
%(known_senders)s (text[]), %(known_sub_icbs)s (text[]). Reasons never contain row values.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipb import feeds


@dataclass(frozen=True)
class Rule:
    code: str
    condition: str  # SQL: true when the row FAILS the rule
    reason: str


def _blank(col: str) -> str:
    return f"nullif(btrim({col}), '') is null"


def _required(cols: list[str]) -> Rule:
    cond = " or ".join(_blank(c) for c in cols)
    return Rule("missing_required", cond, "a required field is empty")


def _date(col: str) -> str:
    return f"(not {_blank(col)} and {col}__d is null)"


def _d(col: str) -> str:
    """A date column as a date, NULL unless valid (so later rules never fail on a bad date). Computed once per
    row in the typed projection (`typed_columns`), not once per rule."""
    return f"{col}__d"


def _money_bad(col: str) -> str:
    return f"(not {_blank(col)} and {col}__m is null)"


def _neg(col: str) -> str:
    return f"({col}__m < 0)"


def _m(col: str) -> str:
    return f"{col}__m"


def _age_under(dob: str, at: str, years: int) -> str:
    """Age at `at` is under `years` (date arithmetic: cheaper than age() on every row)."""
    return f"({_d(dob)} + interval '{years} years' > {_d(at)})"


def _age_at_least(dob: str, at: str, years: int) -> str:
    return f"({_d(dob)} + interval '{years} years' <= {_d(at)})"


def _not_in(col: str, values: tuple[str, ...]) -> str:
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"(not {_blank(col)} and btrim({col}) not in ({listed}))"


def _any(conds: list[str]) -> str:
    return "(" + " or ".join(conds) + ")"


def _nhs_bad(col: str, required: bool) -> str:
    present = "" if required else f"not {_blank(col)} and "
    return f"({present}not util.is_valid_nhs_number({col}))"


def _postcode_bad(col: str) -> str:
    return f"(not {_blank(col)} and not util.is_valid_postcode({col}))"


NHS_PHB: list[Rule] = [
    _required(["phb_id", "nhs_number", "forename", "surname", "date_of_birth", "sex", "postcode", "icb_code",
               "phb_category", "direct_payment_gbp", "notional_gbp", "third_party_gbp", "management_option",
               "budget_basis", "start_date", "record_updated_at"]),
    Rule("invalid_nhs_number", _nhs_bad("nhs_number", True), "NHS number is not 10 digits with a valid check digit"),
    Rule("invalid_date", _any([_date(c) for c in ("date_of_birth", "start_date", "end_date",
                                                  "care_plan_agreed_date")]), "a date is not a valid YYYY-MM-DD"),
    Rule("invalid_timestamp", "not util.is_iso_timestamp(btrim(record_updated_at))",
         "record_updated_at is not an ISO 8601 timestamp"),
    Rule("birth_date_in_future", f"{_d('date_of_birth')} > current_date", "date of birth is in the future"),
    Rule("age_out_of_range", _age_at_least("date_of_birth", "start_date", 121), "age at start is over 120"),
    Rule("invalid_code", _any([_not_in("sex", feeds.PERSON_SEX_CODES),
                               _not_in("phb_category", feeds.PHB_CATEGORIES),
                               _not_in("management_option", feeds.PHB_MANAGEMENT_OPTIONS),
                               _not_in("budget_basis", feeds.PHB_BUDGET_BASIS)]),
         "a coded field holds a value outside its code list"),
    Rule("invalid_postcode", _postcode_bad("postcode"), "postcode is not a UK postcode"),
    Rule("unknown_organisation", "(btrim(icb_code) <> all(%(known_senders)s)) or "
         "(not " + _blank("sub_icb_code") + " and btrim(sub_icb_code) <> all(%(known_sub_icbs)s))",
         "an organisation code is not in the reference data"),
    Rule("sender_mismatch", "btrim(icb_code) <> %(sender)s", "icb_code differs from the sender in the file name"),
    Rule("invalid_amount", _any([_money_bad(c) for c in ("direct_payment_gbp", "notional_gbp", "third_party_gbp",
                                                         "indicative_budget_gbp")]),
         "an amount is not pounds with at most 2 decimals"),
    Rule("negative_amount", _any([_neg(c) for c in ("direct_payment_gbp", "notional_gbp", "third_party_gbp",
                                                    "indicative_budget_gbp")]), "an amount is negative"),
    Rule("direct_payment_not_allowed",
         f"btrim(phb_category) in ('PMCB', 'WHEELCHAIR') and {_m('direct_payment_gbp')} > 0",
         "maternity and wheelchair budgets cannot be taken as a direct payment"),
    Rule("maternity_notional_only", f"btrim(phb_category) = 'PMCB' and {_m('third_party_gbp')} > 0",
         "a personal maternity care budget is notional only"),
    Rule("management_option_mismatch",
         "btrim(management_option) is distinct from (case "
         f"(({_m('direct_payment_gbp')} > 0)::int + ({_m('notional_gbp')} > 0)::int"
         f" + ({_m('third_party_gbp')} > 0)::int) "
         "when 0 then btrim(management_option) "  # no money yet: any single option is allowed
         f"when 1 then (case when {_m('direct_payment_gbp')} > 0 then 'DIRECT_PAYMENT' "
         f"when {_m('notional_gbp')} > 0 then 'NOTIONAL' else 'THIRD_PARTY' end) "
         "else 'MIXED' end)",
         "management option does not agree with which amounts are non-zero"),
    Rule("chc_under_18", f"btrim(phb_category) = 'CHC' and {_age_under('date_of_birth', 'start_date', 18)}",
         "NHS Continuing Healthcare is for adults: under 18 at start"),
    Rule("cyp_cc_18_or_over", f"btrim(phb_category) = 'CYP_CC' and {_age_at_least('date_of_birth', 'start_date', 18)}",
         "children's continuing care is for under-18s: 18 or over at start"),
    Rule("end_before_start", f"{_d('end_date')} < {_d('start_date')}", "end date is before start date"),
    Rule("care_plan_after_start", f"{_d('care_plan_agreed_date')} > {_d('start_date')}",
         "care plan agreed after the budget started"),
]

_SC_UNIT = "btrim(cost_frequency_unit_type) in ('Hourly', 'Daily', 'Per session')"
_SC_PB = "btrim(delivery_mechanism) in ('Direct payment', 'CASSR managed personal budget')"
_SC_SERVICE = "btrim(event_type) = 'Service'"

SOCIAL_CARE: list[Rule] = [
    _required(["la_code", "la_person_unique_identifier", "date_of_birth", "gender", "primary_support_reason",
               "client_funding_status", "event_type", "event_reference", "event_start_date",
               "reporting_period_start_date", "reporting_period_end_date"]),
    # Service rows carry the service and, for personal budgets, the cost (CLD: "yes for personal budgets").
    Rule("missing_required", f"{_SC_SERVICE} and ({_blank('service_type')} or {_blank('service_component')} "
         f"or {_blank('delivery_mechanism')})", "a service event has no service type, component or mechanism"),
    Rule("missing_required", f"{_SC_SERVICE} and {_SC_PB} and ({_blank('unit_cost')} or "
         f"{_blank('cost_frequency_unit_type')})", "a personal budget has no unit cost or cost frequency"),
    Rule("invalid_nhs_number", _nhs_bad("nhs_number", False), "NHS number is not 10 digits with a valid check digit"),
    Rule("invalid_date", _any([_date(c) for c in ("date_of_birth", "event_start_date", "event_end_date",
                                                  "reporting_period_start_date", "reporting_period_end_date")]),
         "a date is not a valid YYYY-MM-DD"),
    Rule("birth_date_in_future", f"{_d('date_of_birth')} > current_date", "date of birth is in the future"),
    Rule("age_out_of_range", f"({_age_under('date_of_birth', 'event_start_date', 18)} or "
                          f"{_age_at_least('date_of_birth', 'event_start_date', 121)})",
         "CLD is adults only: age at event start outside 18-120"),
    Rule("invalid_code", _any([_not_in("gender", feeds.PERSON_SEX_CODES),
                               _not_in("client_funding_status", feeds.CLD_FUNDING_STATUSES),
                               _not_in("event_type", feeds.CLD_EVENT_TYPES),
                               _not_in("delivery_mechanism", feeds.CLD_DELIVERY_MECHANISMS),
                               _not_in("cost_frequency_unit_type", feeds.CLD_COST_FREQUENCIES)]),
         "a coded field holds a value outside its code list"),
    Rule("invalid_postcode", _postcode_bad("postcode"), "postcode is not a UK postcode"),
    Rule("unknown_organisation", "btrim(la_code) <> all(%(known_senders)s)",
         "LA_Code is not a council in the reference data"),
    Rule("sender_mismatch", "btrim(la_code) <> %(sender)s", "LA_Code differs from the sender in the file name"),
    Rule("invalid_amount", _any([_money_bad("unit_cost"),
                                 "(not " + _blank("planned_units_per_week") + " and btrim(planned_units_per_week) "
                                 "!~ '^-?[0-9]+(\\.[0-9]+)?$')"]),
         "Unit_Cost is not pounds with at most 2 decimals, or planned units is not a number"),
    Rule("negative_amount", _neg("unit_cost"), "Unit_Cost is negative"),
    Rule("invalid_units", f"{_SC_SERVICE} and {_SC_PB} and {_SC_UNIT} and coalesce(case when "
         "btrim(planned_units_per_week) ~ '^-?[0-9]+(\\.[0-9]+)?$' then btrim(planned_units_per_week)::numeric end,"
         " 0) <= 0", "hourly, daily or per-session costs need Planned_units_per_week above 0"),
    Rule("end_before_start", f"{_d('event_end_date')} < {_d('event_start_date')}",
         "event end date is before its start date"),
]

SEND: list[Rule] = [
    _required(["lea", "personid", "surname", "forename", "personbirthdate", "sex", "ehcplanid", "startdate",
               "senprimaryneed", "pb", "oa", "dp", "lastupdated"]),
    Rule("invalid_nhs_number", _nhs_bad("nhsnumber", False), "NHS number is not 10 digits with a valid check digit"),
    Rule("invalid_upn", f"(not {_blank('upn')} and not util.is_valid_upn(btrim(upn)))",
         "UPN is not a check letter and 12 digits with a valid check letter"),
    Rule("invalid_uln", f"(not {_blank('uniquelearnernumber')} and btrim(uniquelearnernumber) !~ '^[0-9]{{10}}$')",
         "ULN is not 10 digits"),
    Rule("invalid_date", _any([_date(c) for c in ("personbirthdate", "startdate", "ceasedate", "budgetstartdate",
                                                  "budgetenddate")]), "a date is not a valid YYYY-MM-DD"),
    Rule("invalid_timestamp", "not util.is_iso_timestamp(btrim(lastupdated))", "LastUpdated is not a timestamp"),
    Rule("birth_date_in_future", f"{_d('personbirthdate')} > current_date", "date of birth is in the future"),
    Rule("age_out_of_range",
         f"({_d('personbirthdate')} > {_d('startdate')} or {_age_at_least('personbirthdate', 'startdate', 26)})",
         "EHC plans are for ages 0-25: age at plan start outside that"),
    Rule("invalid_code", _any([_not_in("sex", feeds.SEND_SEX_CODES),
                               _not_in("senprimaryneed", feeds.SEN_PRIMARY_NEEDS),
                               _not_in("pb", ("0", "1")), _not_in("oa", ("0", "1")), _not_in("dp", ("0", "1"))]),
         "a coded field holds a value outside its code list"),
    Rule("invalid_postcode", _postcode_bad("postcode"), "postcode is not a UK postcode"),
    Rule("unknown_organisation", "btrim(lea) <> all(%(known_senders)s)", "LEA is not a council in the reference data"),
    Rule("sender_mismatch", "btrim(lea) <> %(sender)s", "LEA differs from the sender in the file name"),
    Rule("invalid_amount", _any([_money_bad("educationelementgbp"), _money_bad("socialcareelementgbp")]),
         "an amount is not pounds with at most 2 decimals"),
    Rule("negative_amount", _any([_neg("educationelementgbp"), _neg("socialcareelementgbp")]),
         "an amount is negative"),
    Rule("pb_flags_inconsistent",
         "(btrim(pb) = '0' and (btrim(oa) = '1' or btrim(dp) = '1' or coalesce(" + _m("educationelementgbp")
         + ", 0) > 0 or coalesce(" + _m("socialcareelementgbp") + ", 0) > 0)) "
         "or (btrim(pb) = '1' and btrim(oa) = '0' and btrim(dp) = '0')",
         "PB=0 must have OA=0, DP=0 and no amounts; PB=1 needs OA=1 or DP=1"),
    Rule("missing_required", f"btrim(pb) = '1' and ({_blank('educationelementgbp')} or {_blank('budgetstartdate')})",
         "a personal budget (PB=1) needs EducationElementGBP and BudgetStartDate"),
    Rule("end_before_start", f"({_d('ceasedate')} < {_d('startdate')}) or "
         f"({_d('budgetenddate')} < {_d('budgetstartdate')})", "an end date is before its start date"),
]

OPT_OUT: list[Rule] = [
    _required(["nhs_number"]),
    Rule("invalid_nhs_number", _nhs_bad("nhs_number", True), "NHS number is not 10 digits with a valid check digit"),
]

RULES: dict[str, list[Rule]] = {"nhs_phb": NHS_PHB, "social_care": SOCIAL_CARE, "send": SEND,
                                "national_opt_out": OPT_OUT}

READABLE: dict[str, str] = {}
for _rules in RULES.values():
    for _r in _rules:
        READABLE.setdefault(_r.code, _r.reason)
READABLE["duplicate_key"] = "the record key repeats an earlier row of the same file; the first row is kept"
READABLE["malformed_row"] = "the row does not have the contract's number of fields"


# Columns parsed once per row before the rules run (see `typed_columns`).
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": ("date_of_birth", "start_date", "end_date", "care_plan_agreed_date"),
    "social_care": ("date_of_birth", "event_start_date", "event_end_date", "reporting_period_start_date",
                    "reporting_period_end_date"),
    "send": ("personbirthdate", "startdate", "ceasedate", "budgetstartdate", "budgetenddate"),
    "national_opt_out": (),
}
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": ("direct_payment_gbp", "notional_gbp", "third_party_gbp", "indicative_budget_gbp"),
    "social_care": ("unit_cost",),
    "send": ("educationelementgbp", "socialcareelementgbp"),
    "national_opt_out": (),
}


def typed_columns(feed: str) -> str:
    """SQL select-list items `<col>__d` (date) and `<col>__m` (numeric), NULL when blank or invalid."""
    items = [f"case when util.is_iso_date(btrim({c})) then btrim({c})::date end as {c}__d"
             for c in DATE_COLUMNS[feed]]
    items += [f"case when util.is_money(btrim({c})) then btrim({c})::numeric end as {c}__m"
              for c in MONEY_COLUMNS[feed]]
    return ", ".join(items) if items else "null as _none"


def reasons_array(feed: str) -> str:
    """SQL: the codes of every rule a row fails, in rule order (empty array when the row is good)."""
    parts = [f"case when coalesce(({r.condition}), false) then '{r.code}' end" for r in RULES[feed]]
    return "array_remove(array[" + ", ".join(parts) + "]::text[], null)"
