"""The gate's checks, grouped in suites: each check's SQL is a Jinja template in ipb/quality/sql/ (one per check,
listed in docs/data-quality.md); this module chooses their parameters and assembles them. Pure text: no GX and no
database at import.

Every check is one query returning rows `(location text, n bigint, detail text, breach boolean)`:
`location` names where (schema.table.column, or feed/sender batch id), `n` counts offending values or rows,
`detail` gives figures and thresholds, `breach` fails the check. Queries return catalogue names, codes and
counts only, never a row's values, so validation results and Data Docs cannot carry an identifier.
Casts inside checks are guarded by patterns, so a database error cannot quote a value either.

The raw feeds' rules (code lists and policy rules) stay here as SQL conditions: they are built from the contract's
code lists, and their exact text is fingerprinted (`rules_fingerprint`, recorded by the gate for the batches a check
passed), so they are parameters of raw_rules.sql rather than part of it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ipb.quality.settings import ANALYST_SCHEMAS, GateConfig
from ipb.quality.sql import lit as _lit
from ipb.quality.sql import render

RAW_FEEDS = {"nhs_phb": "raw.nhs_phb", "social_care": "raw.social_care", "send": "raw.send",
             "send_budget": "raw.send_budget"}
BATCH_FEEDS = {**RAW_FEEDS, "national_opt_out": "raw.national_opt_out"}
NHS_COLUMNS = {"nhs_phb": "nhs_number", "social_care": "nhs_number", "send_budget": "nhsnumber"}  # SEN2 has none
VALIDATION_VIEWS = {
    "linkage": "restricted.validation_linkage",
    "linkage_pairs": "restricted.validation_linkage_pairs",
    "names": "restricted.validation_name_hashes",
    "opted_out": "restricted.validation_opted_out_people",
    "totals": "restricted.validation_funder_totals",
    "send_budgets": "restricted.validation_send_budgets",
}
# Batches whose rows a raw-row check passed, per check and rules fingerprint (written by ipb.quality.gate).
CHECKED_BATCHES = "audit.gate_checked_batches"
RUNNER = "quality.query_rows"  # created by ipb.quality.gate.prepare (see RUNNER_DDL there); named in the templates


@dataclass(frozen=True)
class Check:
    suite: str
    key: str  # stable machine name
    name: str  # what the IG lead reads
    notes: str  # what the check proves
    sql: str


def _union(parts: list[str]) -> str:
    return "\nunion all\n".join(parts)


def _when_exists(relation: str, query: str) -> str:
    """Rows of `query` when `relation` exists, none otherwise (a feed that never arrived has no raw table)."""
    return render("_when_exists.sql", relation=relation, query=query)


def _measured(location: str) -> str:
    return render("_measured.sql", location=location)


# ---------------------------------------------------------------- raw feeds and the batch log


def row_accounting() -> str:
    raw_counts = _union([
        _when_exists(table, render("row_accounting_raw_rows.sql", feed=feed, table=table))
        for feed, table in BATCH_FEEDS.items()
    ])
    return render("row_accounting.sql", raw_counts=raw_counts)


def identifier_validity(kind: str, thresholds: dict[str, float], min_sent: int = 0) -> str:
    """Validity rate per current batch: valid / (present in raw + quarantined for this identifier). A batch that
    sent fewer than `min_sent` identifiers is reported but cannot breach (a rate of 4 in 6 is noise, not a trend)."""
    parts = []
    for feed, minimum in sorted(thresholds.items()):
        column, reason = (NHS_COLUMNS[feed], "invalid_nhs_number") if kind == "nhs_number" else ("upn", "invalid_upn")
        parts.append(_when_exists(RAW_FEEDS[feed], render(
            "identifier_validity.sql", kind=kind, feed=feed, table=RAW_FEEDS[feed], column=column, reason=reason,
            minimum=minimum, min_sent=int(min_sent))))
    return _union(parts) if parts else render("_empty.sql")


def _d(col: str) -> str:
    """A date column as a date (NULL unless valid): parsed once per row by `raw_rules`' typed projection."""
    return f"r.{col}__d"


def _m(col: str) -> str:
    """An amount column as numeric, 0 unless valid: parsed once per row by `raw_rules`' typed projection."""
    return f"coalesce(r.{col}__m, 0)"


def _age_at_least(dob: str, at: str, years: int) -> str:
    """Age at `at` is `years` or more (date arithmetic, as the loader's rules: cheaper than age() on every row)."""
    return f"({_d(dob)} + interval '{years} years' <= {_d(at)})"


def _typed_projection(conditions: list[str]) -> str:
    """Select-list items parsing each date (`<col>__d`) and amount (`<col>__m`) the conditions use."""
    dates = sorted(set(re.findall(r"\br\.(\w+)__d\b", " ".join(conditions))))
    money = sorted(set(re.findall(r"\br\.(\w+)__m\b", " ".join(conditions))))
    items = [f"util.to_date(r.{c}, r._date_format) as {c}__d" for c in dates]
    items += [f"case when util.is_money(btrim(r.{c})) then btrim(r.{c})::numeric end as {c}__m" for c in money]
    return "".join(f", {i}" for i in items)


def _not_in(col: str, codes: tuple[str, ...]) -> str:
    return f"(nullif(btrim({col}), '') is not null and btrim({col}) not in ({', '.join(map(_lit, codes))}))"


def _not_listed(col: str, code_list: str, keep=lambda code: True) -> str:
    """A present value that is no accepted spelling of a contract code list (dbt_project/seeds/contract)."""
    from ipb import contract

    spellings = sorted({c.spelling.strip().lower() for c in contract.codes(code_list) if keep(c)})
    return f"(nullif(btrim({col}), '') is not null and lower(btrim({col})) not in ({', '.join(map(_lit, spellings))}))"


def _listed(col: str, code_list: str, keep=lambda code: True) -> str:
    return f"(nullif(btrim({col}), '') is not null and not {_not_listed(col, code_list, keep)})"


def _code_rules() -> dict[str, dict[str, str]]:
    """Coded columns outside their FEEDS.md code lists, per feed (independent of the loader's own rules)."""
    from ipb import feeds as f

    return {
        "nhs_phb": {"sex": _not_in("sex", f.PERSON_SEX_CODES),
                    "phb_category": _not_in("phb_category", f.PHB_CATEGORIES),
                    "management_option": _not_in("management_option", f.PHB_MANAGEMENT_OPTIONS),
                    "budget_basis": _not_in("budget_basis", f.PHB_BUDGET_BASIS)},
        # CLD: only the fields that decide money must hold a listed value (any accepted spelling, any case);
        # descriptive fields may hold anything and are reported as Unknown (FEEDS.md).
        "social_care": {"event_type": _not_listed("event_type", "cld_event_type"),
                        "delivery_mechanism": _not_listed("delivery_mechanism", "cld_delivery_mechanism"),
                        "cost_frequency_unit_type": _not_listed("cost_frequency_unit_type", "cld_cost_frequency")},
        # SEN2: PB and OA decide money (a plan's flags sit in the person's Requests JSON); a SEN need outside its
        # list is descriptive (kept as Unknown, counted in send_plans_and_budgets).
        "send": {"sex": _not_listed("sex", "sen2_sex"), "pb_oa": _sen2_flags_not_listed()},
        "send_budget": {"sex": _not_listed("sex", "sen2_sex")},
    }


def _sen2_flags_not_listed() -> str:
    """A NamedPlan of the person whose PB or OA is present and not a sen2_flag spelling (any case)."""
    from ipb import contract

    spellings = "|".join(sorted(contract.accepted_spellings("sen2_flag")))
    path = ('$[*].Assessment[*].NamedPlan[*] ? ((exists(@.PB) && @.PB != null && !(@.PB like_regex "^ *(' + spellings
            + ') *$" flag "i")) || (exists(@.OA) && @.OA != null && !(@.OA like_regex "^ *(' + spellings
            + ') *$" flag "i")))')
    # Parsing every person's Requests as jsonb is the costly part: a regex on the text first passes on only persons
    # with a PB or OA that is not exactly one of the common accepted spellings (any case) or null, so every other
    # person is settled without parsing. The regex can only let through too many, never too few.
    plain = [s for s in ("0", "1", "true", "false") if s in {x.lower() for x in spellings.split("|")}]
    settled = (f'"({"|".join(plain)})"|' if plain else "") + "null"
    maybe = r'"(PB|OA)"\s*:\s*(?!(' + settled + r')\s*[,}])'
    return f"(requests ~* {_lit(maybe)} and jsonb_path_exists(coalesce(requests, '[]')::jsonb, {_lit(path)}))"


def _personal_budget(code) -> bool:
    return code.warehouse_code in ("direct_payment", "notional")


def _direct_payment(code) -> bool:
    return code.value == "Direct payment"


def _per_unit(code) -> bool:
    return code.warehouse_code == "per_unit"


def _policy_rules() -> dict[str, dict[str, str]]:
    """National policy rules of FEEDS.md, per feed, on the raw text (casts guarded)."""
    dp, nt, tp = _m("direct_payment_gbp"), _m("notional_gbp"), _m("third_party_gbp")
    n_nonzero = f"(({dp} > 0)::int + ({nt} > 0)::int + ({tp} > 0)::int)"
    single = f"(case when {dp} > 0 then 'DIRECT_PAYMENT' when {nt} > 0 then 'NOTIONAL' else 'THIRD_PARTY' end)"
    units = ("case when btrim(planned_units_per_week) ~ '^[0-9]+(\\.[0-9]+)?$'"
             " then btrim(planned_units_per_week)::numeric end")
    return {
        "nhs_phb": {
            "PMCB notional only": f"btrim(phb_category) = 'PMCB' and ({dp} > 0 or {tp} > 0)",
            "no direct payment for wheelchair budgets": f"btrim(phb_category) = 'WHEELCHAIR' and {dp} > 0",
            "CHC 18 or over at start":
                f"btrim(phb_category) = 'CHC' and not {_age_at_least('date_of_birth', 'start_date', 18)}",
            "CYP_CC under 18 at start":
                f"btrim(phb_category) = 'CYP_CC' and {_age_at_least('date_of_birth', 'start_date', 18)}",
            "age 0-120": f"{_age_at_least('date_of_birth', 'start_date', 121)} or {_d('date_of_birth')} > current_date",
            "management option agrees with amounts":
                f"{n_nonzero} > 0 and btrim(management_option) is distinct from "
                f"(case when {n_nonzero} = 1 then {single} else 'MIXED' end)",
        },
        "social_care": {
            "adults only (18 or over at event start)":
                f"not {_age_at_least('date_of_birth', 'event_start_date', 18)}",
            "planned units for hourly, daily and per-session costs":
                f"lower(btrim(event_type)) = 'service' and "
                f"({_listed('delivery_mechanism', 'cld_delivery_mechanism', _personal_budget)} or "
                "(nullif(btrim(delivery_mechanism), '') is null and "
                f"{_listed('service_component', 'cld_service_component', _direct_payment)})) and "
                f"{_listed('cost_frequency_unit_type', 'cld_cost_frequency', _per_unit)} and coalesce({units}, 0) <= 0",
        },
        "send_budget": {
            "age 0-25 at plan start": f"{_d('personbirthdate')} > {_d('planstartdate')}"
                                      f" or {_age_at_least('personbirthdate', 'planstartdate', 26)}",
            "an education or social care element": "nullif(btrim(educationelementgbp), '') is null"
                                                    " and nullif(btrim(socialcareelementgbp), '') is null",
            "direct payment no more than the budget":
                f"{_m('directpaymentgbp')} > {_m('educationelementgbp')} + {_m('socialcareelementgbp')}",
        },
    }


def raw_row_checks() -> dict[str, dict[str, dict[str, str]]]:
    """The checks that read raw rows, by key, with their rules by feed: a batch one of them passed is recorded, so
    that the next gate checks only the rows that differ from it."""
    return {"code_lists": _code_rules(), "policy_rules": _policy_rules()}


def rules_fingerprint(feed: str, feed_rules: dict[str, str]) -> str:
    """The rules of one feed as a check applies them: another rule, or a rule changed, gives another fingerprint, so
    a row is never taken as checked by rules other than these."""
    text = "\n".join([feed, *(f"{name}\t{cond}" for name, cond in feed_rules.items()),
                      _typed_projection(list(feed_rules.values()))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def raw_rules(check_key: str, rules_by_feed: dict[str, dict[str, str]]) -> str:
    """Rows of the current snapshots that break a rule (must be none: the loader quarantines them), checking only
    the rows that differ from the sender's batch this check passed with the same rules (raw_rules.sql).

    Every rule reads the row's own values, and the one on today's date (a birth date in the future) cannot start
    failing for a row that passed on an earlier day."""
    parts = [
        _when_exists(RAW_FEEDS[feed], render(
            "raw_rules.sql", feed=feed, table=RAW_FEEDS[feed], rules=list(feed_rules.items()),
            typed_projection=_typed_projection(list(feed_rules.values())), check_key=check_key,
            fingerprint=rules_fingerprint(feed, feed_rules), checked_batches=CHECKED_BATCHES))
        for feed, feed_rules in sorted(rules_by_feed.items())
    ]
    n_rules = sum(len(r) for r in rules_by_feed.values())
    return _union([*parts, _measured(f"{n_rules} rules checked on the current snapshots")])


# ---------------------------------------------------------------- integration (restricted validation views)


def cld_kept_values() -> str:
    """What CLD rows carried that was kept rather than quarantined (FEEDS.md), counted per current council batch for
    the IG lead: descriptive values outside their code list (staged as Unknown), blank event references (key
    derived), blank delivery mechanisms (derived as a direct payment, or an unknown mechanism that is not a personal
    budget). Reported, never a breach; invalid optional NHS numbers are in the validity check."""
    descriptive = {"gender": "cld_gender", "client_type": "cld_client_type", "service_type": "cld_service_type",
                   "service_component": "cld_service_component", "client_funding_status": "cld_client_funding_status",
                   "primary_support_reason": "cld_primary_support_reason"}
    service = "lower(btrim(event_type)) = 'service'"
    blank_mechanism = "nullif(btrim(delivery_mechanism), '') is null"
    dp_component = _listed("service_component", "cld_service_component", _direct_payment)
    measures = {f"{col}: value outside the code list, kept as Unknown": _not_listed(col, code_list)
                for col, code_list in descriptive.items()}
    measures["event reference blank: key derived"] = "nullif(btrim(event_reference), '') is null"
    measures["delivery mechanism blank on a direct-payment component: derived"] = (
        f"{service} and {blank_mechanism} and {dp_component}")
    measures["delivery mechanism blank: service kept, not a personal budget"] = (
        f"{service} and {blank_mechanism} and not coalesce({dp_component}, false)")
    table = RAW_FEEDS["social_care"]
    return _when_exists(table, render("cld_kept_values.sql", feed="social_care", table=table,
                                      measures=list(measures.items())))


def send_plans_and_budgets() -> str:
    """Per SEND council: plans and budgets by how they matched (a budget without a plan, a personal budget without
    amounts), needs kept as Unknown, invalid optional UPNs and ULNs kept without them (FEEDS.md). Reported, never a
    breach."""
    view = VALIDATION_VIEWS["send_budgets"]
    return _when_exists(view, render("send_plans_and_budgets.sql", view=view))


def linkage_rules(t: dict) -> str:
    bounds = [(rule, float(b["min"]), float(b["max"])) for rule, b in sorted((t.get("rule_share") or {}).items())]
    default = t.get("default_rule_share") or {"min": 0.0, "max": 1.0}
    return render("linkage_rates.sql", view=VALIDATION_VIEWS["linkage"], bounds=bounds,
                  default_min=float(default["min"]), default_max=float(default["max"]),
                  min_records=int(t.get("min_records", 1)))


def unlinked_records(t: dict) -> str:
    return render("unlinked_records.sql", view=VALIDATION_VIEWS["linkage"],
                  max_share=float(t.get("max_unlinked_share", 1.0)),
                  max_records=int(t.get("max_unlinked_records", 10**12)))


def linkage_pairs(t: dict) -> str:
    """Identity conflicts and pairs awaiting review per sender and reason, and Splink's links per match weight band
    (counts for the IG lead); fails when conflicts or review pairs exceed their bounds (a sender's feed gone wrong)."""
    query = render("linkage_pairs.sql", linkage_view=VALIDATION_VIEWS["linkage"],
                   pairs_view=VALIDATION_VIEWS["linkage_pairs"],
                   max_conflicts=int(t.get("max_identity_conflicts", 10**12)),
                   max_review=int(t.get("max_review_pairs", 10**12)))
    # Both from tonight's linkage validation (a warehouse built before it has neither table nor weight bands).
    return _when_exists(VALIDATION_VIEWS["linkage_pairs"], query)


def components_have_people(r: dict) -> str:
    return render("components_have_people.sql", components=r["components_table"], people=r["people_table"],
                  key=r["person_key"])


def totals_reconcile(r: dict) -> str:
    return render("totals_reconcile.sql", components=r["components_table"], funder=r["funder_column"],
                  annual=r["annual_column"], one_off=r["one_off_column"], totals_view=VALIDATION_VIEWS["totals"],
                  tolerance=float(r.get("tolerance_gbp", 0.01)))


# ---------------------------------------------------------------- analyst-visible tables (build schemas)


def tables_built() -> str:
    return render("tables_built.sql", schemas=ANALYST_SCHEMAS, schema_rows=[(s,) for s in ANALYST_SCHEMAS])


def approved_columns(cfg: GateConfig) -> str:
    return render("approved_columns.sql", schemas=ANALYST_SCHEMAS, approved=cfg.approved_columns())


def minimisation(age_bands: list[str]) -> str:
    return render("minimisation.sql", schemas=ANALYST_SCHEMAS, age_bands=age_bands)


def nhs_numbers() -> str:
    return render("no_nhs_numbers.sql", schemas=ANALYST_SCHEMAS)


def upns_and_ulns() -> str:
    return render("no_upns_ulns.sql", schemas=ANALYST_SCHEMAS)


def postcodes() -> str:
    return render("no_postcodes.sql", schemas=ANALYST_SCHEMAS)


def names(cfg: GateConfig) -> str:
    return render("no_names.sql", schemas=ANALYST_SCHEMAS, names_view=VALIDATION_VIEWS["names"],
                  exempt=cfg.name_scan_exempt())


def opted_out() -> str:
    return render("opt_out.sql", schemas=ANALYST_SCHEMAS, keys_view=VALIDATION_VIEWS["opted_out"])


def suppression(cfg: GateConfig) -> str:
    """Below national level: counts are `*`, 0 or a multiple of 5 from 10; a rate is `*` when its count is; exact
    national-only counts are empty. A configured report that was not built is a breach."""
    parts = []
    for table, spec in sorted(cfg.report_specs().items()):
        rel = f"build_reports.{table}"
        national_when = spec.get("national_when") or "false"  # an SQL condition of approved_columns.yml
        tests = [("count", col, None) for col in spec.get("suppressed_counts") or []]
        tests += [("rate", rate, count) for rate, count in (spec.get("rates") or {}).items()]
        tests += [("national_only", col, None) for col in spec.get("national_only") or []]
        for test, column, count_column in tests:
            parts.append(_when_exists(rel, render("suppression.sql", relation=rel, test=test, column=column,
                                                  count_column=count_column, national_when=national_when)))
        parts.append(render("suppression_missing.sql", relation=rel))
    parts.append(_measured(f"{len(cfg.report_specs())} reports checked"))
    return _union(parts)


def suites(cfg: GateConfig) -> dict[str, list[Check]]:
    t = cfg.thresholds
    row_checks = raw_row_checks()
    validity = t.get("identifier_validity") or {}
    raw = [
        Check("raw_feeds", "row_accounting", "Row accounting per file",
              "Every loaded file: rows in file = rows loaded + rows quarantined; the current snapshot's raw and "
              "quarantine rows agree with the batch log.", row_accounting()),
        Check("raw_feeds", "nhs_number_validity", "NHS number validity rate per feed and sender",
              "Share of NHS numbers sent that are valid (modulus 11), per current batch, at least the threshold.",
              identifier_validity("nhs_number", validity.get("nhs_number") or {}, validity.get("min_sent", 0))),
        Check("raw_feeds", "upn_validity", "UPN validity rate per sender",
              "Share of UPNs sent that are valid (DfE modulus 23), per current SEND batch, at least the threshold.",
              identifier_validity("upn", validity.get("upn") or {}, validity.get("min_sent", 0))),
        Check("raw_feeds", "cld_kept_values", "CLD values kept as Unknown or derived, per council",
              "Counts per current social care batch of descriptive values outside their code list (kept as "
              "Unknown), blank event references (key derived) and blank delivery mechanisms (derived or unknown); "
              "reported, not a failure.", cld_kept_values()),
        Check("raw_feeds", "send_plans_and_budgets", "SEND plans and budgets matched, per council",
              "Counts per SEND council of budgets with and without a plan in its latest SEN2 return, plans with a "
              "personal budget and no amounts, needs kept as Unknown and invalid UPNs/ULNs kept without them; "
              "reported, not a failure.", send_plans_and_budgets()),
    ]
    # The row rules checked again in raw, apart from the batch log checks: the gate's checkpoints run side by side,
    # and these two are the longest at national scale (a night's first load checks every row).
    row_rules = [
        Check("raw_rules", "code_lists", "Code lists respected in raw feeds",
              "No row of a current snapshot holds a coded value outside its FEEDS.md code list.",
              raw_rules("code_lists", row_checks["code_lists"])),
        Check("raw_rules", "policy_rules", "Policy rules hold in raw feeds",
              "PMCB notional only, no direct payment for wheelchair budgets, ages per category and feed, "
              "management option agrees with amounts, SEND budget ages and amounts.",
              raw_rules("policy_rules", row_checks["policy_rules"])),
    ]
    link = t.get("linkage") or {}
    rec = t.get("reconciliation") or {}
    integration = [
        Check("integration", "linkage_rates", "Linkage rate per rule within bounds",
              "Share of records linked by each rule (NHS number, UPN, local id, Splink) within configured bounds.",
              linkage_rules(link)),
        Check("integration", "unlinked_records", "Unlinked records within bounds",
              "Records linked to no other record are counted and within bounds; every record has a person key.",
              unlinked_records(link)),
        Check("integration", "linkage_pairs", "Identity conflicts and pairs for review counted",
              "Per sender: pairs with one NHS number or UPN and conflicting birth dates or sexes (not linked), pairs "
              "between the link and no-link thresholds or held back by a guard (not linked, for review); records "
              "linked by Splink per match weight band. Within configured bounds.", linkage_pairs(link)),
        Check("integration", "components_have_people", "Every budget component has a person",
              "Each mart budget component carries a person key present in the person dimension.",
              components_have_people(rec)),
        Check("integration", "totals_reconcile", "Budget totals reconcile with staged source amounts",
              "Per funder, mart component totals equal the staged source amounts less opted-out people.",
              totals_reconcile(rec)),
    ]
    analyst = [
        Check("analyst_ig", "tables_built", "Analyst tables built and readable by the gate",
              "Both build schemas hold tables and the gate can read every one (an unreadable table fails).",
              tables_built()),
        Check("analyst_ig", "approved_columns", "Only approved columns in analyst tables",
              "Every column of every table discovered in build_marts and build_reports is approved.",
              approved_columns(cfg)),
        Check("analyst_ig", "no_nhs_numbers", "No NHS numbers in analyst tables",
              "No analyst-visible value is 10 digits passing the NHS modulus-11 check.", nhs_numbers()),
        Check("analyst_ig", "no_upns_ulns", "No UPNs or ULNs in analyst tables",
              "No analyst-visible value is shaped like a UPN or a ULN.", upns_and_ulns()),
        Check("analyst_ig", "no_postcodes", "No full postcodes in analyst tables",
              "No analyst-visible value is a full UK postcode (districts only).", postcodes()),
        Check("analyst_ig", "no_names", "No names from the linkage layer in analyst tables",
              "No analyst-visible text equals a forename, surname or full name held in the restricted layer "
              "(compared as SHA-256 hashes of normalised names).", names(cfg)),
        Check("analyst_ig", "minimisation", "Age bands and postcode districts only",
              "No date-of-birth or exact-age column; age bands are IG bands; postcode columns hold districts.",
              minimisation(list(t.get("age_bands") or []))),
        Check("analyst_ig", "suppression", "Small numbers suppressed in quarterly return and published reports",
              "Every published count below national level is *, 0 or a multiple of 5 from 10 (no 1-7 shown).",
              suppression(cfg)),
        Check("analyst_ig", "opt_out", "Opted-out people absent from analyst tables",
              "No person key of a person on the national data opt-out list appears in an analyst table.",
              opted_out()),
    ]
    return {"raw_feeds": raw, "raw_rules": row_rules, "integration": integration, "analyst_ig": analyst}
