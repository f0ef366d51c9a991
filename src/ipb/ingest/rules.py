"""Row rules from FEEDS.md as set-based SQL: one ordered list of (reason code, failing condition, readable reason)
per feed. The loader evaluates them over a whole batch in one statement; a row's first failing rule is its reason.

Conditions see the raw row as sent (text, NULL for empty), its typed values (`typed_columns`: parsed by the
util.to_* SQL functions of src/ipb/sql/util.sql, which the dbt staging models cast through too, so a value that
loads always fits the warehouse's types) and these bind parameters: %(sender)s, %(known_senders)s (text[]),
%(known_sub_icbs)s (text[]). Reasons never contain row values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ipb import contract, feeds


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
    "send_budget": ("personbirthdate", "planstartdate", "budgetstartdate", "budgetenddate"),
    "national_opt_out": (),
}
MONEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": ("direct_payment_gbp", "notional_gbp", "third_party_gbp", "indicative_budget_gbp"),
    "social_care": ("unit_cost",),
    "send_budget": ("educationelementgbp", "socialcareelementgbp", "directpaymentgbp", "indicativebudgetgbp"),
    "national_opt_out": (),
}
UNITS_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": (), "social_care": ("planned_units_per_week",), "send_budget": (), "national_opt_out": (),
}
TIMESTAMP_COLUMNS: dict[str, tuple[str, ...]] = {
    "nhs_phb": ("record_updated_at",), "social_care": (), "send_budget": ("lastupdated",), "national_opt_out": (),
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
INVALID_DATE = "a date is not a calendar date in the file's date format (YYYY-MM-DD or DD/MM/YYYY throughout)"
TIMESTAMP_RANGE = "a timestamp is outside 1900-01-01 to 9999-12-30 (UTC)"
MONEY_RANGE = "an amount is 10 million pounds or more"
UNITS_RANGE = "Planned_units_per_week is negative or over 1000"


def _blank(col: str) -> str:
    return f"nullif(btrim({col}), '') is null"


def _required(cols: list[str]) -> Rule:
    cond = " or ".join(_blank(c) for c in cols)
    return Rule("missing_required", cond, "a required field is empty")


def _if_null(col: str, suffix: str, failing: str) -> str:
    """`failing`, judged only where the typed value is NULL (a valid value passes without it). A CASE, not an AND:
    DuckDB's screen evaluates both sides of an AND on every row, but a CASE branch only on the rows it takes."""
    return f"(case when {col}{suffix} is null then {failing} else false end)"


def _typed_any(kind: Callable[[str], str], cols: tuple[str, ...], suffix: str) -> str:
    """`kind` (one of the _if_null rules) on any of `cols`, behind one test of their typed values: a row whose values
    all parsed (nearly every row) is judged by one CASE, not one per column."""
    nulls = " or ".join(f"{c}{suffix} is null" for c in cols)
    return f"(case when {nulls} then {_any([kind(c) for c in cols])} else false end)"


def _iso(col: str) -> str:
    """A date column as ISO text, from the file's detected format (raw `_date_format`)."""
    return f"util.iso_date_text({col}, _date_format)"


def _date(col: str) -> str:
    """A date that is not a calendar date in the file's format (typed value first: valid rows stop there)."""
    return _if_null(col, "__d", f"not {_blank(col)} and not coalesce(util.is_iso_date({_iso(col)}), false)")


def _date_out_of_range(col: str) -> str:
    """A calendar date util.to_date refuses (before 1900)."""
    return _if_null(col, "__d", f"coalesce(util.is_iso_date({_iso(col)}), false)")


def _timestamp_bad(col: str) -> str:
    """Not an ISO 8601 timestamp (typed value first: valid rows stop there)."""
    return _if_null(col, "__t", f"not util.is_iso_timestamp(btrim({col}))")


def _timestamp_out_of_range(col: str) -> str:
    """A timestamp util.to_timestamp refuses (before 1900 or from 9999-12-31 UTC)."""
    return _if_null(col, "__t", f"util.is_iso_timestamp(btrim({col}))")


def _d(col: str) -> str:
    """A date column as a date, NULL unless valid (so later rules never fail on a bad date). Computed once per
    row in the typed projection (`typed_columns`), not once per rule."""
    return f"{col}__d"


def _money_bad(col: str) -> str:
    """Not pounds with at most 2 decimals (typed value first: valid rows stop there)."""
    return _if_null(col, "__m", f"not {_blank(col)} and not util.is_money(btrim({col}))")


def _money_out_of_range(col: str) -> str:
    """Pounds util.to_money refuses: 10 million or more either way."""
    return _if_null(col, "__m", f"util.is_money(btrim({col}))")


def _units_bad(col: str) -> str:
    """Not a number at all (a number out of range is `_units_out_of_range`)."""
    return _if_null(col, "__u", f"not {_blank(col)} and btrim({col}) !~ '^-?[0-9]+(\\.[0-9]+)?$'")


def _units_out_of_range(col: str) -> str:
    """A number util.to_units refuses: negative or over 1000."""
    return _if_null(col, "__u", f"btrim({col}) ~ '^-?[0-9]+(\\.[0-9]+)?$'")


def _u(col: str) -> str:
    return f"{col}__u"


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
    Rule("invalid_date", _typed_any(_date, DATE_COLUMNS["nhs_phb"], "__d"), INVALID_DATE),
    Rule("date_out_of_range", _typed_any(_date_out_of_range, DATE_COLUMNS["nhs_phb"], "__d"), DATE_RANGE),
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
    Rule("invalid_amount", _typed_any(_money_bad, MONEY_COLUMNS["nhs_phb"], "__m"),
         "an amount is not pounds with at most 2 decimals"),
    Rule("amount_out_of_range", _typed_any(_money_out_of_range, MONEY_COLUMNS["nhs_phb"], "__m"), MONEY_RANGE),
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

# CLD Release 2 (FEEDS.md). Code lists are data (dbt_project/seeds/contract/cld_codes.csv), passed to the rules as
# bind parameters of accepted spellings (trimmed, lower case): see `code_list_params`.
_SC_SERVICE = "lower(btrim(event_type)) = 'service'"
_SC_UNIT = "lower(btrim(cost_frequency_unit_type)) = any(%(cld_unit_frequencies)s)"
# A personal budget: a direct payment or a council-managed budget, or a blank mechanism on a direct-payment component
# (the mechanism is then derived as a direct payment).
_SC_PB = ("(lower(btrim(delivery_mechanism)) = any(%(cld_personal_budget_mechanisms)s) or "
          f"({_blank('delivery_mechanism')} and "
          "lower(btrim(service_component)) = any(%(cld_direct_payment_components)s)))")


def _not_listed(col: str, code_list: str) -> str:
    """A present value that is no accepted spelling of its code list."""
    return f"(not {_blank(col)} and lower(btrim({col})) <> all(%({code_list})s))"


SOCIAL_CARE: list[Rule] = [
    _required(["la_code", "reporting_period_start_date", "reporting_period_end_date", "la_person_unique_identifier",
               "date_of_birth", "event_type", "event_start_date"]),
    # Service rows carry the service; personal budgets their cost (FEEDS.md: values required in Service rows).
    Rule("missing_required", f"{_SC_SERVICE} and ({_blank('service_type')} or {_blank('service_component')})",
         "a service event has no service type or service component"),
    Rule("missing_required", f"{_SC_SERVICE} and {_SC_PB} and ({_blank('unit_cost')} or "
         f"{_blank('cost_frequency_unit_type')})", "a personal budget has no unit cost or cost frequency"),
    Rule("invalid_date", _typed_any(_date, DATE_COLUMNS["social_care"], "__d"), INVALID_DATE),
    Rule("date_out_of_range", _typed_any(_date_out_of_range, DATE_COLUMNS["social_care"], "__d"), DATE_RANGE),
    Rule("birth_date_in_future", f"{_d('date_of_birth')} > current_date", "date of birth is in the future"),
    Rule("age_out_of_range", f"({_age_under('date_of_birth', 'event_start_date', 18)} or "
                          f"{_age_at_least('date_of_birth', 'event_start_date', 121)})",
         "CLD is adults only: age at event start outside 18-120"),
    # Only fields that decide money quarantine an unknown value; descriptive fields keep the row as `Unknown`.
    Rule("invalid_code", _any([_not_listed("event_type", "cld_event_type"),
                               _not_listed("delivery_mechanism", "cld_delivery_mechanism"),
                               _not_listed("cost_frequency_unit_type", "cld_cost_frequency")]),
         "a field that decides money (event type, delivery mechanism, cost frequency) holds a value outside its "
         "code list"),
    Rule("unknown_organisation", "btrim(la_code) <> all(%(known_senders)s)",
         "LA Code is not a council in the reference data"),
    Rule("sender_mismatch", "btrim(la_code) <> %(sender)s", "LA Code differs from the sender in the file name"),
    Rule("invalid_amount", _any([_money_bad("unit_cost"), _units_bad("planned_units_per_week")]),
         "Unit Cost is not pounds with at most 2 decimals, or Planned units per week is not a number"),
    Rule("amount_out_of_range", _money_out_of_range("unit_cost"), MONEY_RANGE),
    Rule("units_out_of_range", _units_out_of_range("planned_units_per_week"), UNITS_RANGE),
    Rule("negative_amount", _neg("unit_cost"), "Unit Cost is negative"),
    Rule("invalid_units", f"{_SC_SERVICE} and {_SC_PB} and {_SC_UNIT} and coalesce({_u('planned_units_per_week')}, 0)"
         " <= 0", "hourly, daily or per-session costs need Planned units per week above 0"),
    # The weekly cost is an amount too: within the money range, so that its annual value (x 52.18) and a person's
    # sum of them stay far inside the marts' numeric(14, 2).
    Rule("weekly_cost_out_of_range", f"case when {_SC_UNIT} and {_m('unit_cost')} * {_u('planned_units_per_week')}"
         f" is not null then not util.in_money_range(round({_m('unit_cost')} * {_u('planned_units_per_week')}, 2))"
         " else false end", "Unit Cost x Planned units per week is outside the range of an amount"),
    Rule("end_before_start", f"{_d('event_end_date')} < {_d('event_start_date')}",
         "event end date is before its start date"),
]


def code_list_params(feed: str) -> dict[str, list[str]]:
    """Bind parameters of the code lists a feed's rules read: accepted spellings, trimmed and lower case."""
    if feed == "send_budget":
        return {"sen2_sex": list(contract.accepted_spellings("sen2_sex"))}
    if feed != "social_care":
        return {}

    def spellings(code_list: str, keep=lambda c: True) -> list[str]:
        return sorted({c.spelling.strip().lower() for c in contract.codes(code_list) if keep(c)})

    return {
        "cld_event_type": spellings("cld_event_type"),
        "cld_delivery_mechanism": spellings("cld_delivery_mechanism"),
        "cld_cost_frequency": spellings("cld_cost_frequency"),
        "cld_unit_frequencies": spellings("cld_cost_frequency", lambda c: c.warehouse_code == "per_unit"),
        "cld_personal_budget_mechanisms": spellings(
            "cld_delivery_mechanism", lambda c: c.warehouse_code in ("direct_payment", "notional")),
        "cld_direct_payment_components": spellings("cld_service_component", lambda c: c.value == "Direct payment"),
    }


# Ours (FEEDS.md "Feed send_budget"): the money in EHC plans' personal budgets. UPN, ULN, NHSNumber and PostCode are
# optional identifiers: an invalid one costs only itself (staging treats it as absent, the gate counts it).
_SB_MONEY = MONEY_COLUMNS["send_budget"]
_SB_TOTAL = f"(coalesce({_m('educationelementgbp')}, 0) + coalesce({_m('socialcareelementgbp')}, 0))"
SEND_BUDGET: list[Rule] = [
    Rule("missing_value", _any([_blank(c) for c in (
        "lea", "budgetid", "localpersonid", "surname", "forename", "personbirthdate", "sex", "planstartdate",
        "directpaymentgbp", "budgetstartdate", "lastupdated")]), "a required value is empty"),
    Rule("invalid_date", _typed_any(_date, DATE_COLUMNS["send_budget"], "__d"), INVALID_DATE),
    Rule("date_out_of_range", _typed_any(_date_out_of_range, DATE_COLUMNS["send_budget"], "__d"), DATE_RANGE),
    Rule("invalid_timestamp", _timestamp_bad("lastupdated"), "LastUpdated is not an ISO 8601 timestamp"),
    Rule("timestamp_out_of_range", _timestamp_out_of_range("lastupdated"), TIMESTAMP_RANGE),
    Rule("birth_date_in_future", f"{_d('personbirthdate')} > current_date", "date of birth is in the future"),
    Rule("age_out_of_range",
         f"({_d('personbirthdate')} > {_d('planstartdate')} or "
         f"{_age_at_least('personbirthdate', 'planstartdate', 26)})",
         "EHC plans are for ages 0-25: age at PlanStartDate outside that"),
    Rule("invalid_code", _not_listed("sex", "sen2_sex"), "Sex is not M, F or U"),
    Rule("sender_mismatch", "btrim(lea) <> %(sender)s", "LEA differs from the sender in the file name"),
    Rule("invalid_amount", _typed_any(_money_bad, _SB_MONEY, "__m"), "an amount is not pounds with at most 2 decimals"),
    Rule("amount_out_of_range", _typed_any(_money_out_of_range, _SB_MONEY, "__m"), MONEY_RANGE),
    Rule("missing_amounts", f"{_blank('educationelementgbp')} and {_blank('socialcareelementgbp')}",
         "a budget needs EducationElementGBP or SocialCareElementGBP (or both)"),
    Rule("negative_amount", _any([_neg(c) for c in _SB_MONEY]), "an amount is negative"),
    Rule("direct_payment_exceeds_total", f"{_m('directpaymentgbp')} > {_SB_TOTAL}",
         "DirectPaymentGBP is more than the education and social care elements together"),
    Rule("end_before_start", f"{_d('budgetenddate')} < {_d('budgetstartdate')}",
         "BudgetEndDate is before BudgetStartDate"),
]

OPT_OUT: list[Rule] = [
    _required(["nhs_number"]),
    Rule("invalid_nhs_number", _nhs_bad("nhs_number", True), "NHS number is not 10 digits with a valid check digit"),
]

# No value of the contract comes near this many characters: a longer field quarantines its row (the record is not
# kept), whichever path loaded it (COPY, or the record-by-record parser, which checks the same limit as it parses).
MAX_FIELD_CHARS = 4096
TOO_LONG = f"a field is longer than {MAX_FIELD_CHARS} characters, more than any value of the contract"


def _field_too_long(feed: str) -> Rule:
    columns = feeds.LOADABLE[feed].raw_columns
    return Rule("field_too_long", " or ".join(f"length({c}) > {MAX_FIELD_CHARS}" for c in columns), TOO_LONG)


# send (SEN2 XML) has no SQL row rules: its Person rules are applied as the file is parsed (ipb.ingest.sen2).
_BY_FEED = {"nhs_phb": NHS_PHB, "social_care": SOCIAL_CARE, "send_budget": SEND_BUDGET, "national_opt_out": OPT_OUT}
RULES: dict[str, list[Rule]] = {feed: [_field_too_long(feed), *rules] for feed, rules in _BY_FEED.items()}

READABLE: dict[str, str] = {}
for _rules in RULES.values():
    for _r in _rules:
        READABLE.setdefault(_r.code, _r.reason)
READABLE["duplicate_key"] = "the record key repeats an earlier row of the same file; the first row is kept"
READABLE["malformed_row"] = "the row does not have the contract's number of fields"
READABLE["nul_byte"] = "a value holds a NUL or other control character, which no text value may contain"
# SEN2 Person rules (ipb.ingest.sen2, applied as the XML is parsed): the readable reason of a quarantined Person.
SEN2_READABLE: dict[str, str] = {
    "missing_value": "a required item is missing (Surname, Forename, or a NamedPlan's StartDate)",
    "invalid_date": "PersonBirthDate is missing, or a date item is not a calendar date YYYY-MM-DD from 1900",
    "birth_date_in_future": "PersonBirthDate is in the future",
    "invalid_code": "Sex, PB or OA holds a value outside its code list, or a SENtypeRank is not a positive integer",
    "field_too_long": TOO_LONG,
    "nul_byte": READABLE["nul_byte"],
}
for _code, _text in SEN2_READABLE.items():
    READABLE.setdefault(_code, _text)


def typed_columns(feed: str) -> str:
    """SQL select-list items `<col>__<kind>` (see TYPED_KINDS): each value parsed by its util.to_* function, the
    same function the staging model casts it with; NULL when blank, malformed or out of range."""
    items = [f"{function}({c}{', _date_format' if suffix == 'd' else ''}) as {c}__{suffix}"
             for columns, suffix, function in TYPED_KINDS for c in columns[feed]]
    return ", ".join(items) if items else "null as _none"


def reasons_array(feed: str) -> str:
    """SQL: the codes of every rule a row fails, in rule order (empty array when the row is good)."""
    parts = [f"case when coalesce(({r.condition}), false) then '{r.code}' end" for r in RULES[feed]]
    return "array_remove(array[" + ", ".join(parts) + "]::text[], null)"
