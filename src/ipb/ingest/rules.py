"""Row rules from FEEDS.md as set-based SQL: one ordered list of (reason code, failing condition, readable reason)
per feed. The loader evaluates them over a whole batch in one statement; a row's first failing rule is its reason.

Conditions see the raw row as sent (text, NULL for empty), its typed values (`typed_columns`: parsed by the
util.to_* SQL functions of src/ipb/sql/util.sql, which the dbt staging models cast through too, so a value that
loads always fits the warehouse's types) and these bind parameters: %(sender)s, %(known_senders)s (text[]),
%(known_sub_icbs)s (text[]). Reasons never contain row values.
"""

from __future__ import annotations

from dataclasses import dataclass

from ipb import feeds


@dataclass(frozen=True)
class Rule:
    code: str
    condition: str  # SQL: true when the row FAILS the rule
    reason: str


# Typed columns, parsed once per row before the rules run (see `typed_columns`) by the util.to_* SQL functions that
# the dbt staging models cast through: `<col>__d` dates, `<col>__m` amounts, `<col>__u` units a week,
# `<col>__t` timestamps. NULL when blank, malformed or out of range; a present value that is NULL fails a rule.
# docs/feed-types.md gives each kind's range and why.
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
UNITS_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": (), "social_care": ("planned_units_per_week",), "send": (), "national_opt_out": (),
}
TIMESTAMP_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": ("record_updated_at",), "social_care": (), "send": ("lastupdated",), "national_opt_out": (),
}
# Each kind of value: (suffix of its typed column, the util function parsing it).
TYPED_KINDS: tuple[tuple[dict[str, tuple[str, ...]], str, str], ...] = (
    (DATE_COLUMNS, "d", "util.to_date"),
    (MONEY_COLUMNS, "m", "util.to_money"),
    (UNITS_COLUMNS, "u", "util.to_units"),
    (TIMESTAMP_COLUMNS, "t", "util.to_timestamp"),
)

# Readable reasons of the range rules (the ranges themselves are defined once, in src/ipb/sql/util.sql).
DATE_RANGE = "a date is outside 1900-01-01 to 9999-12-31"
TIMESTAMP_RANGE = "a timestamp is outside 1900-01-01 to 9999-12-30 (UTC)"
MONEY_RANGE = "an amount is 10 million pounds or more"
UNITS_RANGE = "Planned_units_per_week is negative or over 1000"


def _blank(col: str) -> str:
    return f"nullif(btrim({col}), '') is null"


def _required(cols: list[str]) -> Rule:
    cond = " or ".join(_blank(c) for c in cols)
    return Rule("missing_required", cond, "a required field is empty")


def _date(col: str) -> str:
    """A date that is not a calendar YYYY-MM-DD (typed value first: valid rows stop there)."""
    return f"({col}__d is null and not {_blank(col)} and not util.is_iso_date(btrim({col})))"


def _date_out_of_range(col: str) -> str:
    """A calendar date util.to_date refuses (before 1900)."""
    return f"({col}__d is null and util.is_iso_date(btrim({col})))"


def _timestamp_bad(col: str) -> str:
    """Not an ISO 8601 timestamp (typed value first: valid rows stop there)."""
    return f"({col}__t is null and not util.is_iso_timestamp(btrim({col})))"


def _timestamp_out_of_range(col: str) -> str:
    """A timestamp util.to_timestamp refuses (before 1900 or from 9999-12-31 UTC)."""
    return f"({col}__t is null and util.is_iso_timestamp(btrim({col})))"


def _d(col: str) -> str:
    """A date column as a date, NULL unless valid (so later rules never fail on a bad date). Computed once per
    row in the typed projection (`typed_columns`), not once per rule."""
    return f"{col}__d"


def _money_bad(col: str) -> str:
    """Not pounds with at most 2 decimals (typed value first: valid rows stop there)."""
    return f"({col}__m is null and not {_blank(col)} and not util.is_money(btrim({col})))"


def _money_out_of_range(col: str) -> str:
    """Pounds util.to_money refuses: 10 million or more either way."""
    return f"({col}__m is null and util.is_money(btrim({col})))"


def _units_bad(col: str) -> str:
    """Not a number at all (a number out of range is `_units_out_of_range`)."""
    return f"({col}__u is null and not {_blank(col)} and btrim({col}) !~ '^-?[0-9]+(\\.[0-9]+)?$')"


def _units_out_of_range(col: str) -> str:
    """A number util.to_units refuses: negative or over 1000."""
    return f"({col}__u is null and btrim({col}) ~ '^-?[0-9]+(\\.[0-9]+)?$')"


def _u(col: str) -> str:
    return f"{col}__u"


def _flag_bad(col: str) -> str:
    """A 0/1 flag util.to_flag refuses."""
    return f"(not {_blank(col)} and util.to_flag({col}) is null)"


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
    Rule("invalid_date", _any([_date(c) for c in DATE_COLUMNS["nhs_phb"]]), "a date is not a valid YYYY-MM-DD"),
    Rule("date_out_of_range", _any([_date_out_of_range(c) for c in DATE_COLUMNS["nhs_phb"]]), DATE_RANGE),
    Rule("invalid_timestamp", _timestamp_bad("record_updated_at"), "record_updated_at is not an ISO 8601 timestamp"),
    Rule("timestamp_out_of_range", _timestamp_out_of_range("record_updated_at"), TIMESTAMP_RANGE),
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
    Rule("invalid_amount", _any([_money_bad(c) for c in MONEY_COLUMNS["nhs_phb"]]),
         "an amount is not pounds with at most 2 decimals"),
    Rule("amount_out_of_range", _any([_money_out_of_range(c) for c in MONEY_COLUMNS["nhs_phb"]]), MONEY_RANGE),
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
    Rule("invalid_date", _any([_date(c) for c in DATE_COLUMNS["social_care"]]), "a date is not a valid YYYY-MM-DD"),
    Rule("date_out_of_range", _any([_date_out_of_range(c) for c in DATE_COLUMNS["social_care"]]), DATE_RANGE),
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
    Rule("invalid_amount", _any([_money_bad("unit_cost"), _units_bad("planned_units_per_week")]),
         "Unit_Cost is not pounds with at most 2 decimals, or planned units is not a number"),
    Rule("amount_out_of_range", _money_out_of_range("unit_cost"), MONEY_RANGE),
    Rule("units_out_of_range", _units_out_of_range("planned_units_per_week"), UNITS_RANGE),
    Rule("negative_amount", _neg("unit_cost"), "Unit_Cost is negative"),
    Rule("invalid_units", f"{_SC_SERVICE} and {_SC_PB} and {_SC_UNIT} and coalesce({_u('planned_units_per_week')}, 0)"
         " <= 0", "hourly, daily or per-session costs need Planned_units_per_week above 0"),
    # The weekly cost is an amount too: within the money range, so that its annual value (x 52.18) and a person's
    # sum of them stay far inside the marts' numeric(14, 2).
    Rule("weekly_cost_out_of_range", f"{_SC_UNIT} and util.to_money(round({_m('unit_cost')} * "
         f"{_u('planned_units_per_week')}, 2)::text) is null and {_m('unit_cost')} * {_u('planned_units_per_week')}"
         " is not null", "Unit_Cost x Planned_units_per_week is outside the range of an amount"),
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
    Rule("invalid_date", _any([_date(c) for c in DATE_COLUMNS["send"]]), "a date is not a valid YYYY-MM-DD"),
    Rule("date_out_of_range", _any([_date_out_of_range(c) for c in DATE_COLUMNS["send"]]), DATE_RANGE),
    Rule("invalid_timestamp", _timestamp_bad("lastupdated"), "LastUpdated is not a timestamp"),
    Rule("timestamp_out_of_range", _timestamp_out_of_range("lastupdated"), TIMESTAMP_RANGE),
    Rule("birth_date_in_future", f"{_d('personbirthdate')} > current_date", "date of birth is in the future"),
    Rule("age_out_of_range",
         f"({_d('personbirthdate')} > {_d('startdate')} or {_age_at_least('personbirthdate', 'startdate', 26)})",
         "EHC plans are for ages 0-25: age at plan start outside that"),
    Rule("invalid_code", _any([_not_in("sex", feeds.SEND_SEX_CODES),
                               _not_in("senprimaryneed", feeds.SEN_PRIMARY_NEEDS),
                               _flag_bad("pb"), _flag_bad("oa"), _flag_bad("dp")]),
         "a coded field holds a value outside its code list"),
    Rule("invalid_postcode", _postcode_bad("postcode"), "postcode is not a UK postcode"),
    Rule("unknown_organisation", "btrim(lea) <> all(%(known_senders)s)", "LEA is not a council in the reference data"),
    Rule("sender_mismatch", "btrim(lea) <> %(sender)s", "LEA differs from the sender in the file name"),
    Rule("invalid_amount", _any([_money_bad(c) for c in MONEY_COLUMNS["send"]]),
         "an amount is not pounds with at most 2 decimals"),
    Rule("amount_out_of_range", _any([_money_out_of_range(c) for c in MONEY_COLUMNS["send"]]), MONEY_RANGE),
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


def typed_columns(feed: str) -> str:
    """SQL select-list items `<col>__<kind>` (see TYPED_KINDS): each value parsed by its util.to_* function, the
    same function the staging model casts it with; NULL when blank, malformed or out of range."""
    items = [f"{function}({c}) as {c}__{suffix}" for columns, suffix, function in TYPED_KINDS for c in columns[feed]]
    return ", ".join(items) if items else "null as _none"


def reasons_array(feed: str) -> str:
    """SQL: the codes of every rule a row fails, in rule order (empty array when the row is good)."""
    parts = [f"case when coalesce(({r.condition}), false) then '{r.code}' end" for r in RULES[feed]]
    return "array_remove(array[" + ", ".join(parts) + "]::text[], null)"
