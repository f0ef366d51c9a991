"""The gate's checks as SQL, grouped in suites. Pure text: no GX and no database at import.

Every check is one query returning rows `(location text, n bigint, detail text, breach boolean)`:
`location` names where (schema.table.column, or feed/sender batch id), `n` counts offending values or rows,
`detail` gives figures and thresholds, `breach` fails the check. Queries return catalogue names, codes and
counts only, never a row's values, so validation results and Data Docs cannot carry an identifier.
Casts inside checks are guarded by patterns, so a database error cannot quote a value either.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ipb.quality.settings import ANALYST_SCHEMAS, GateConfig

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
# Types that cannot hold an identifier-shaped text value: skipped by the value scans.
_NON_TEXT_TYPES = "('boolean'::regtype, 'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)"
_TEXT_TYPES = "('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)"
# Columns the digit-shaped scans (NHS numbers, UPNs/ULNs) read: every column whose text form could be all digits.
# Left out: smallint (5 digits at most) and numeric with a scale (always printed with a decimal point), so that the
# amounts, half the columns of the fact tables, are not cast to text on every row.
_DIGIT_SHAPED = (f"a.atttypid not in {_NON_TEXT_TYPES} and a.atttypid <> 'smallint'::regtype"
                 " and not (a.atttypid = 'numeric'::regtype and a.atttypmod >= 4 and ((a.atttypmod - 4) & 65535) > 0)")
# Numbers never print letters (only digits, sign, point, exponent, NaN, Infinity): the postcode scan, whose values
# end in a digit and two letters, skips every numeric type.
_NUMERIC_TYPES = ("('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,"
                  " 'real'::regtype, 'double precision'::regtype)")
# Batches whose rows a raw-row check passed, per check and rules fingerprint (written by ipb.quality.gate).
CHECKED_BATCHES = "audit.gate_checked_batches"
RUNNER = "quality.query_rows"  # created by ipb.quality.gate.prepare (see RUNNER_DDL there)
_EMPTY = "select null::text as location, 0::bigint as n, null::text as detail, false as breach where false"


@dataclass(frozen=True)
class Check:
    suite: str
    key: str  # stable machine name
    name: str  # what the IG lead reads
    notes: str  # what the check proves
    sql: str


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _values(rows: list[tuple], cols: str, alias: str = "v") -> str:
    """A VALUES list as a derived table named `alias`, or an empty one with the same typed columns."""
    pairs = [c.strip().split() for c in cols.split(",")]
    if not rows:
        nulls = ", ".join(f"null::{typ} as {name}" for name, typ in pairs)
        return f"(select {nulls} where false) as {alias}"
    body = ", ".join(
        "(" + ", ".join(_lit(v) if isinstance(v, str) else repr(float(v)) for v in row) + ")" for row in rows
    )
    return f"(values {body}) as {alias} ({', '.join(name for name, _ in pairs)})"


def _dynamic_rows(text_expr: str) -> str:
    """Rows of a query given as SQL text (quality.query_rows runs it with the caller's rights), so a check may
    name tables that might not exist or that it discovers from the catalogue."""
    return f"select * from {RUNNER}({text_expr})"


def _when_exists(relation: str, inner: str) -> str:
    """Rows of `inner` when `relation` exists, none otherwise (a feed that never arrived has no raw table)."""
    exists = f"to_regclass({_lit(relation)}) is not null"
    return _dynamic_rows(f"case when {exists} then $q${inner}$q$ else $q${_EMPTY}$q$ end")


def _current_batches(feed: str) -> str:
    """The current snapshot per sender (shared interface): latest extract date, ties to the highest batch id."""
    return (
        "(select distinct on (coalesce(sender_code, '')) batch_id, feed, sender_code"
        f" from audit.batches where feed = {_lit(feed)} and status = 'loaded'"
        " order by coalesce(sender_code, ''), extract_date desc, batch_id desc)"
    )


def _batch_label(alias: str) -> str:
    return f"{alias}.feed || '/' || coalesce({alias}.sender_code, '-') || ' batch ' || {alias}.batch_id"


def _catalogue(column_filter: str = "true") -> str:
    """Columns of every analyst-visible relation, discovered from the catalogue (visible whatever the grants)."""
    schemas = ", ".join(_lit(s) for s in ANALYST_SCHEMAS)
    return (
        "select n.nspname as schema_name, c.relname as table_name, a.attname as column_name, a.attnum,"
        " a.atttypid, c.oid as table_oid"
        " from pg_catalog.pg_attribute as a"
        " inner join pg_catalog.pg_class as c on a.attrelid = c.oid"
        " inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid"
        f" where n.nspname in ({schemas}) and c.relkind in ('r', 'v', 'm', 'p', 'f')"
        f" and a.attnum > 0 and not a.attisdropped and ({column_filter})"
    )


def _scan(predicate: str, what: str, column_filter: str = "true", shape: str | None = None,
          distinct: bool = False) -> str:
    """Count, per analyst-visible column, values for which `predicate` (on text `v.x`) holds. One pass per table.

    `shape` is a cheap condition every offending value meets (e.g. its length), tested first so that the costly
    predicate runs on few values. With `distinct`, the predicate runs once per distinct shaped value of a column
    (for shapes that only low-cardinality values pass, such as name-shaped text), not once per row."""
    shaped = f"({shape}) and " if shape else ""
    if distinct:
        # One pass with a grouping set per column: each column's value (null unless shaped) is grouped on its own,
        # without a row per value (an unpivot of every text value took 40% longer at national scale).
        per_table = (
            "'select %L || v.c, sum(v.n)::bigint, null::text, true from (select case %s end as c, coalesce(%s) as x,"
            " count(*) as n from %I.%I as t group by grouping sets (%s)) as v where v.x is not null and %s"
            " group by v.c',"
            " tables.schema_name || '.' || tables.table_name || '.', tables.label_list, tables.shaped_list,"
            f" tables.schema_name, tables.table_name, tables.set_list, $p${predicate}$p$"
        )
    else:
        # One row-wise pass: a filtered count per column (no unpivot, so no row per value).
        per_table = (
            "'select %L || u.c, u.n, null::text, true from (select array[%s] as cs, array[%s] as ns from %I.%I as t)"
            " as s cross join lateral unnest(s.cs, s.ns) as u (c, n) where u.n > 0',"
            " tables.schema_name || '.' || tables.table_name || '.', tables.name_list, tables.count_list,"
            " tables.schema_name, tables.table_name"
        )
    test = f"$p${shaped}({predicate})$p$"
    return f"""with cols as ({_catalogue(column_filter)}),
shaped_cols as (
    select cols.*, format('(case when %s then t.%I::text end)',
        replace($s${shape or 'true'}$s$, 'v.x', format('(t.%I::text)', column_name)), column_name) as shaped
    from cols
),
tables as (
    select schema_name, table_name,
        string_agg(shaped, ', ' order by attnum) as shaped_list,
        string_agg(format('(%s)', shaped), ', ' order by attnum) as set_list,
        string_agg(format('when grouping(%s) = 0 then %L', shaped, column_name), ' ' order by attnum) as label_list,
        string_agg(format('%L', column_name), ', ' order by attnum) as name_list,
        string_agg(format('count(*) filter (where %s)', replace({test}, 'v.x', format('(t.%I::text)', column_name))),
            ', ' order by attnum) as count_list
    from shaped_cols group by schema_name, table_name
),
hits as (
    select h.location, h.n
    from tables
    cross join lateral {RUNNER}(format({per_table})) as h
)
select location, n, {_lit(what)} as detail, true as breach from hits
union all
select count(*) || ' columns in ' || count(distinct schema_name || '.' || table_name) || ' tables scanned',
    0, null, false
from cols"""


# ---------------------------------------------------------------- raw feeds and the batch log


def row_accounting() -> str:
    raw_counts = " union all ".join(
        _when_exists(
            table,
            f"select b.batch_id::text as location, count(r._batch_id) as n, null as detail, false as breach"
            f" from {_current_batches(feed)} as b left join {table} as r on r._batch_id = b.batch_id"
            " group by b.batch_id",
        )
        for feed, table in BATCH_FEEDS.items()
    )
    return f"""with loaded as (
    select batch_id, feed, sender_code, rows_in_file, rows_loaded, rows_quarantined
    from audit.batches where status = 'loaded'
),
current_batches as (
    select distinct on (feed, coalesce(sender_code, '')) batch_id
    from audit.batches where status = 'loaded'
    order by feed, coalesce(sender_code, ''), extract_date desc, batch_id desc
),
raw_counts as (select location::bigint as batch_id, n from ({raw_counts}) as rc),
quarantined as (select batch_id, sum(row_count)::bigint as n from quarantine.reason_counts group by batch_id)
select {_batch_label('l')} as location, abs(l.rows_in_file - l.rows_loaded - l.rows_quarantined) as n,
    'rows in file ' || l.rows_in_file || ' <> loaded ' || l.rows_loaded || ' + quarantined ' || l.rows_quarantined
        as detail,
    true as breach
from loaded as l where l.rows_in_file <> l.rows_loaded + l.rows_quarantined
union all
select {_batch_label('l')}, abs(coalesce(rc.n, 0) - l.rows_loaded),
    'raw rows ' || coalesce(rc.n, 0) || ', batch log says loaded ' || l.rows_loaded, true
from loaded as l
inner join current_batches as cb on l.batch_id = cb.batch_id
left join raw_counts as rc on l.batch_id = rc.batch_id
where coalesce(rc.n, 0) <> l.rows_loaded
union all
select {_batch_label('l')}, abs(coalesce(q.n, 0) - l.rows_quarantined),
    'quarantined rows ' || coalesce(q.n, 0) || ', batch log says ' || l.rows_quarantined, true
from loaded as l
inner join current_batches as cb on l.batch_id = cb.batch_id
left join quarantined as q on l.batch_id = q.batch_id
where coalesce(q.n, 0) <> l.rows_quarantined
union all
select (select count(*) from loaded) || ' loaded files accounted; '
    || (select count(*) from current_batches) || ' current snapshots recounted', 0, null, false"""


def identifier_validity(kind: str, thresholds: dict[str, float], min_sent: int = 0) -> str:
    """Validity rate per current batch: valid / (present in raw + quarantined for this identifier). A batch that
    sent fewer than `min_sent` identifiers is reported but cannot breach (a rate of 4 in 6 is noise, not a trend)."""
    parts = []
    for feed, minimum in sorted(thresholds.items()):
        if kind == "nhs_number":
            col, reason = NHS_COLUMNS[feed], "invalid_nhs_number"
            valid = f"util.is_valid_nhs_number({col})"
        else:
            col, valid, reason = "upn", "util.is_valid_upn(upper(btrim(upn)))", "invalid_upn"
        inner = f"""select {_batch_label('b')} as location, s.present - s.valid + coalesce(q.n, 0) as n,
    s.valid || ' of ' || (s.present + coalesce(q.n, 0)) || ' valid, rate '
        || coalesce(round(s.valid::numeric / nullif(s.present + coalesce(q.n, 0), 0), 4)::text, 'n/a (none sent)')
        || ', threshold ' || {minimum} || ' from {int(min_sent)} sent' as detail,
    s.present + coalesce(q.n, 0) >= {int(min_sent)}
        and coalesce(s.valid::numeric / nullif(s.present + coalesce(q.n, 0), 0), 1) < {minimum} as breach
from {_current_batches(feed)} as b
cross join lateral (
    select count(*) filter (where nullif(btrim({col}), '') is not null) as present,
        count(*) filter (where {valid}) as valid
    from {RAW_FEEDS[feed]} where _batch_id = b.batch_id
) as s
left join (
    select batch_id, sum(row_count)::bigint as n from quarantine.reason_counts
    where reason_code = {_lit(reason)} group by batch_id
) as q on b.batch_id = q.batch_id"""
        parts.append(_when_exists(RAW_FEEDS[feed], inner))
    return " union all ".join(parts) if parts else _EMPTY


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
    return f"jsonb_path_exists(coalesce(requests, '[]')::jsonb, {_lit(path)})"


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


def _checked_batch(check_key: str, fingerprint: str, alias: str) -> str:
    """The sender's latest earlier batch that this check passed with the same rules (recorded by the gate), or NULL."""
    return (
        f"(select max(c.batch_id) from {CHECKED_BATCHES} as c"
        " inner join audit.batches as cb on c.batch_id = cb.batch_id"
        f" where c.check_key = {_lit(check_key)} and c.rules_fingerprint = {_lit(fingerprint)}"
        f" and cb.feed = {alias}.feed and cb.sender_code is not distinct from {alias}.sender_code"
        f" and c.batch_id <> {alias}.batch_id)"
    )


def raw_rules(check_key: str, rules_by_feed: dict[str, dict[str, str]]) -> str:
    """Rows of the current snapshots that break a rule (must be none: the loader quarantines them). One pass per
    batch: a filtered count per rule (not a row per row and rule, which took twice as long at national scale).

    A row equal to a row of the sender's batch that this check passed with the same rules (same row hash) passed
    them, so only new and changed rows are checked: the next night's full snapshot costs about its changes. Every
    rule reads the row's own values, and the one on today's date (a birth date in the future) cannot start failing
    for a row that passed on an earlier day. A measured row per feed says how many rows were checked."""
    parts = []
    for feed, feed_rules in sorted(rules_by_feed.items()):
        counts = ", ".join(f"count(*) filter (where {cond})" for cond in feed_rules.values())
        names = ", ".join(_lit(name) for name in feed_rules)
        table = RAW_FEEDS[feed]
        checked = _checked_batch(check_key, rules_fingerprint(feed, feed_rules), "cur")
        # Each row's dates and amounts are parsed once (offset 0 keeps the projection from being inlined per rule).
        inner = f"""with b as (
    select cur.batch_id, cur.feed, cur.sender_code, {checked} as checked_batch_id
    from {_current_batches(feed)} as cur
),
s as (
    select b.batch_id, b.feed, b.sender_code, s.ns, s.n_rows, lb.rows_loaded
    from b
    inner join audit.batches as lb on b.batch_id = lb.batch_id
    cross join lateral (
        select array[{counts}] as ns, count(*) as n_rows
        from (
            select r.*{_typed_projection(list(feed_rules.values()))}
            from {table} as r
            where r._batch_id = b.batch_id and not exists (
                select from {table} as g where g._batch_id = b.checked_batch_id and g._row_hash = r._row_hash
            )
            offset 0
        ) as r
    ) as s
)
select {_batch_label('s')} || ': ' || u.rule as location, u.n, 'rows breaking the rule' as detail, true as breach
from s
cross join lateral unnest(array[{names}], s.ns) as u (rule, n)
where u.n > 0
union all
select {_lit(feed + ': rows checked')}, coalesce(sum(s.n_rows), 0)::bigint,
    'of ' || coalesce(sum(s.rows_loaded), 0) || ' rows: the others equal rows of a batch this check passed', false
from s"""
        parts.append(_when_exists(table, inner))
    n_rules = sum(len(r) for r in rules_by_feed.values())
    parts.append(f"select {_lit(f'{n_rules} rules checked on the current snapshots')}, 0, null, false")
    return " union all ".join(parts)


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
    counts = ", ".join(f"count(*) filter (where {cond})" for cond in measures.values())
    names = ", ".join(_lit(name) for name in measures)
    inner = f"""select {_batch_label('b')} || ': ' || u.measure as location, u.n, 'rows kept and counted' as detail,
    false as breach
from {_current_batches('social_care')} as b
cross join lateral (
    select array[{counts}] as ns from raw.social_care where _batch_id = b.batch_id
) as s
cross join lateral unnest(array[{names}], s.ns) as u (measure, n)
where u.n > 0"""
    return _when_exists(RAW_FEEDS["social_care"], inner)


def send_plans_and_budgets() -> str:
    """Per SEND council: plans and budgets by how they matched (a budget without a plan, a personal budget without
    amounts), needs kept as Unknown, invalid optional UPNs and ULNs kept without them (FEEDS.md). Reported, never a
    breach."""
    view = VALIDATION_VIEWS["send_budgets"]
    return _when_exists(view, f"""select 'send ' || sender_code || ': ' || replace(measure, '_', ' ') as location, n,
    'counted, not an error' as detail, false as breach
from {view}""")


def linkage_rules(t: dict) -> str:
    bounds = [(rule, float(b["min"]), float(b["max"])) for rule, b in sorted((t.get("rule_share") or {}).items())]
    default = t.get("default_rule_share") or {"min": 0.0, "max": 1.0}
    return f"""with per_rule as (
    select link_rule, sum(records)::bigint as records from {VALIDATION_VIEWS['linkage']} group by link_rule
),
total as (select coalesce(sum(records), 0) as records from per_rule),
bounds as (select * from {_values(bounds, 'rule text, lo float8, hi float8')})
select 'rule ' || p.link_rule as location, p.records as n,
    'share ' || round(p.records::numeric / nullif(t.records, 0), 4) || ' of ' || t.records || ' records, bounds '
        || coalesce(b.lo, {float(default['min'])}) || '-' || coalesce(b.hi, {float(default['max'])}) as detail,
    p.records::float8 / nullif(t.records, 0) not between coalesce(b.lo, {float(default['min'])})
        and coalesce(b.hi, {float(default['max'])}) as breach
from per_rule as p cross join total as t left join bounds as b on p.link_rule = b.rule
where p.link_rule not in ('unlinked', 'no_person_key')
union all
select 'all records', t.records, 'at least {int(t.get('min_records', 1))} records expected',
    t.records < {int(t.get('min_records', 1))}
from total as t"""


def unlinked_records(t: dict) -> str:
    return f"""with per_rule as (
    select link_rule, sum(records)::bigint as records from {VALIDATION_VIEWS['linkage']} group by link_rule
),
total as (select coalesce(sum(records), 0) as records from per_rule),
unlinked as (select coalesce(sum(records), 0) as records from per_rule where link_rule = 'unlinked'),
no_key as (select coalesce(sum(records), 0) as records from per_rule where link_rule = 'no_person_key')
select 'unlinked records' as location, u.records as n,
    'share ' || coalesce(round(u.records::numeric / nullif(t.records, 0), 4)::text, 'n/a')
        || ', at most {float(t.get('max_unlinked_share', 1.0))} and {int(t.get('max_unlinked_records', 10**12))}'
        as detail,
    coalesce(u.records::float8 / nullif(t.records, 0), 0) > {float(t.get('max_unlinked_share', 1.0))}
        or u.records > {int(t.get('max_unlinked_records', 10**12))} as breach
from unlinked as u cross join total as t
union all
select 'records without a person key', k.records, 'must be 0', k.records > 0 from no_key as k"""


def linkage_pairs(t: dict) -> str:
    """Identity conflicts and pairs awaiting review per sender and reason, and Splink's links per match weight band
    (counts for the IG lead); fails when conflicts or review pairs exceed their bounds (a sender's feed gone wrong)."""
    max_conflicts = int(t.get("max_identity_conflicts", 10**12))
    max_review = int(t.get("max_review_pairs", 10**12))
    bands = f"""select 'records linked by Splink, match weight ' || weight_band as location, sum(records)::bigint as n,
    'counted' as detail, false as breach
from {VALIDATION_VIEWS['linkage']} where link_rule = 'splink' group by weight_band"""
    pairs = f"""with per_sender as (
    select measure, feed, sender_code, reason, sum(pairs)::bigint as pairs
    from {VALIDATION_VIEWS['linkage_pairs']} group by measure, feed, sender_code, reason
),
totals as (
    select coalesce(sum(pairs) filter (where measure = 'identity_conflict'), 0)::bigint as conflicts,
        coalesce(sum(pairs) filter (where measure = 'review'), 0)::bigint as review
    from {VALIDATION_VIEWS['linkage_pairs']}
)
select measure || ' ' || feed || '/' || coalesce(sender_code, '?') || ': ' || reason as location, pairs as n,
    'counted (not linked)' as detail, false as breach
from per_sender
union all
select 'identity conflicts (pairs, all senders)', t.conflicts, 'at most {max_conflicts}', t.conflicts > {max_conflicts}
from totals as t
union all
select 'pairs awaiting review (all senders)', t.review, 'at most {max_review}', t.review > {max_review}
from totals as t"""
    # Both from tonight's linkage validation (a warehouse built before it has neither table nor weight bands).
    return _when_exists(VALIDATION_VIEWS["linkage_pairs"], f"{bands}\nunion all\nselect * from ({pairs}) as pairs")


def components_have_people(r: dict) -> str:
    comp, people, key = r["components_table"], r["people_table"], r["person_key"]
    return f"""select {_lit(comp)} || ': components without a person key' as location, count(*) as n,
    null as detail, count(*) > 0 as breach
from {comp} as c where c.{key} is null
union all
select {_lit(comp)} || ': components whose person is not in ' || {_lit(people)}, count(*), null, count(*) > 0
from {comp} as c where c.{key} is not null and not exists (select 1 from {people} as p where p.{key} = c.{key})
union all
select {_lit(comp)} || ': components checked', count(*), null, false from {comp}"""


def totals_reconcile(r: dict) -> str:
    comp, funder, annual, one_off = r["components_table"], r["funder_column"], r["annual_column"], r["one_off_column"]
    tol = float(r.get("tolerance_gbp", 0.01))
    return f"""with mart as (
    select {funder} as funder, coalesce(sum({annual}), 0) as annual_gbp, coalesce(sum({one_off}), 0) as one_off_gbp
    from {comp} group by {funder}
),
staged as (select funder, annual_gbp, one_off_gbp from {VALIDATION_VIEWS['totals']})
select 'funder ' || coalesce(m.funder, s.funder) as location,
    round(abs(coalesce(m.annual_gbp, 0) - coalesce(s.annual_gbp, 0))
        + abs(coalesce(m.one_off_gbp, 0) - coalesce(s.one_off_gbp, 0)))::bigint as n,
    'annual: marts ' || coalesce(m.annual_gbp, 0) || ', staged ' || coalesce(s.annual_gbp, 0)
        || '; one-off: marts ' || coalesce(m.one_off_gbp, 0) || ', staged ' || coalesce(s.one_off_gbp, 0)
        || ' (tolerance {tol})' as detail,
    abs(coalesce(m.annual_gbp, 0) - coalesce(s.annual_gbp, 0)) > {tol}
        or abs(coalesce(m.one_off_gbp, 0) - coalesce(s.one_off_gbp, 0)) > {tol} as breach
from mart as m full outer join staged as s on m.funder = s.funder"""


# ---------------------------------------------------------------- analyst-visible tables (build schemas)


def tables_built() -> str:
    schemas = _values([(s,) for s in ANALYST_SCHEMAS], "schema_name text", "s")
    return f"""with rels as (
    select n.nspname as schema_name, c.relname as table_name, c.oid
    from pg_catalog.pg_class as c inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
    where n.nspname in ({', '.join(_lit(s) for s in ANALYST_SCHEMAS)}) and c.relkind in ('r', 'v', 'm', 'p', 'f')
)
select s.schema_name as location, count(r.oid) as n, 'tables built' as detail, count(r.oid) = 0 as breach
from {schemas} left join rels as r on s.schema_name = r.schema_name
group by s.schema_name
union all
select r.schema_name || '.' || r.table_name, 1, 'the gate cannot read this table', true
from rels as r
where not has_schema_privilege(r.schema_name, 'usage') or not has_table_privilege(r.oid, 'select')"""


def approved_columns(cfg: GateConfig) -> str:
    approved = _values(cfg.approved_columns(), "schema_name text, table_name text, column_name text")
    return f"""with discovered as ({_catalogue()}),
approved as (select * from {approved})
select d.schema_name || '.' || d.table_name || '.' || d.column_name as location, 1 as n,
    'column not approved for analysts (expectations/approved_columns.yml)' as detail, true as breach
from discovered as d
left join approved as a
    on d.schema_name = a.schema_name and d.table_name = a.table_name and d.column_name = a.column_name
where a.column_name is null
union all
select count(*) || ' columns discovered', 0, null, false from discovered"""


def minimisation(age_bands: list[str]) -> str:
    bands = ", ".join(_lit(b) for b in age_bands)
    names = f"""select schema_name || '.' || table_name || '.' || column_name as location, 1 as n,
    'column name says date of birth or exact age' as detail, true as breach
from ({_catalogue()}) as c
where column_name ~* '(birth|(^|_)dob($|_)|^age$|(^|_)age_(years|in_years|at_[a-z_]+)$)'"""
    ages = _scan(f"v.x not in ({bands})", "values that are not an IG age band", "a.attname ~* 'age_band$'")
    districts = _scan(
        r"v.x !~ '^[A-Z]{1,2}[0-9][A-Z0-9]?$'", "values that are not a postcode district", "a.attname ~* 'postcode'"
    )
    return (f"select * from ({names}) as n union all select * from ({ages}) as a"
            f" union all select * from ({districts}) as d")


def nhs_numbers() -> str:
    return _scan("v.x ~ '^[0-9 ]{10,13}$' and util.is_valid_nhs_number(v.x)",
                 "values that look like NHS numbers (10 digits, valid check digit)",
                 _DIGIT_SHAPED, shape="octet_length(v.x) between 10 and 13")


def upns_and_ulns() -> str:
    return _scan(r"upper(btrim(v.x)) ~ '^[A-Z][0-9]{11}[0-9A-Z]$' or btrim(v.x) ~ '^[0-9]{10}$'",
                 "values shaped like UPNs (letter + 12) or ULNs (10 digits)",
                 _DIGIT_SHAPED, shape="octet_length(btrim(v.x)) in (10, 13)")


def postcodes() -> str:
    return _scan("v.x ~ '[0-9][A-Za-z]{2}\\s*$' and util.is_valid_postcode(v.x)",
                 "values that look like full postcodes",
                 f"a.atttypid not in {_NON_TEXT_TYPES} and a.atttypid not in {_NUMERIC_TYPES}",
                 # util.is_valid_postcode: 5-7 characters once spaces are removed
                 shape="octet_length(replace(v.x, ' ', '')) between 5 and 7")


def names(cfg: GateConfig) -> str:
    exempt = ", ".join(_lit(x) for x in cfg.name_scan_exempt()) or "''"
    norm = "regexp_replace(upper(v.x), '[^A-Z]', '', 'g')"
    # Only name-shaped values (letters, spaces, hyphens, apostrophes, dots): "LE1" is a postcode district, not Le.
    # Hashed once per distinct name-shaped value of a column (category labels repeat on every row).
    return _scan(
        f"length({norm}) >= 2 and encode(sha256(convert_to({norm}, 'UTF8')), 'hex') in "
        f"(select name_hash from {VALIDATION_VIEWS['names']})",
        "values equal to a name in the linkage layer",
        f"a.atttypid in {_TEXT_TYPES} and (n.nspname || '.' || c.relname || '.' || a.attname) not in ({exempt})",
        shape="v.x ~ '^\\s*[A-Za-z][A-Za-z .''-]*$'", distinct=True,
    )


def opted_out() -> str:
    keys = VALIDATION_VIEWS["opted_out"]
    return _scan(f"v.x in (select person_key from {keys})",
                 "person keys of people who opted out", f"a.atttypid in {_TEXT_TYPES}",
                 shape=f"octet_length(v.x) in (select distinct octet_length(person_key) from {keys})")


def suppression(cfg: GateConfig) -> str:
    """Below national level: counts are `*`, 0 or a multiple of 5 from 10; a rate is `*` when its count is; exact
    national-only counts are empty. A configured report that was not built is a breach."""
    ok = ("case when c.v is null or c.v = '*' then true when c.v ~ '^[0-9]+$' then c.v::numeric = 0"
          " or (c.v::numeric >= 10 and mod(c.v::numeric, 5) = 0) else false end")
    parts = []
    for table, spec in sorted(cfg.report_specs().items()):
        rel = f"build_reports.{table}"
        below = f"not coalesce(({spec.get('national_when') or 'false'}), false)"
        tests = [(f"{col}: count not *, 0 or a multiple of 5 from 10", f"t.{col}::text", f"not ({ok})")
                 for col in spec.get("suppressed_counts") or []]
        tests += [(f"{rate}: rate shown for a suppressed count", f"t.{rate}::text",
                   f"t.{count}::text = '*' and c.v is distinct from '*'")
                  for rate, count in (spec.get("rates") or {}).items()]
        tests += [(f"{col}: exact count below national level", f"t.{col}::text", "c.v is not null")
                  for col in spec.get("national_only") or []]
        for label, value, bad in tests:
            parts.append(_when_exists(rel, f"""select {_lit(f'{rel}.{label}')} as location, count(*) as n,
    'cells below national level' as detail, count(*) > 0 as breach
from {rel} as t cross join lateral (select {value} as v) as c
where {below} and {bad}"""))
        parts.append(f"select {_lit(f'{rel} not built')}, 1::bigint, 'a published report is missing', true"
                     f" where to_regclass({_lit(rel)}) is null")
    parts.append(f"select {_lit(f'{len(cfg.report_specs())} reports checked')}, 0::bigint, null, false")
    return " union all ".join(parts)


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
        Check("raw_feeds", "code_lists", "Code lists respected in raw feeds",
              "No row of a current snapshot holds a coded value outside its FEEDS.md code list.",
              raw_rules("code_lists", row_checks["code_lists"])),
        Check("raw_feeds", "cld_kept_values", "CLD values kept as Unknown or derived, per council",
              "Counts per current social care batch of descriptive values outside their code list (kept as "
              "Unknown), blank event references (key derived) and blank delivery mechanisms (derived or unknown); "
              "reported, not a failure.", cld_kept_values()),
        Check("raw_feeds", "send_plans_and_budgets", "SEND plans and budgets matched, per council",
              "Counts per SEND council of budgets with and without a plan in its latest SEN2 return, plans with a "
              "personal budget and no amounts, needs kept as Unknown and invalid UPNs/ULNs kept without them; "
              "reported, not a failure.", send_plans_and_budgets()),
        Check("raw_feeds", "policy_rules", "Policy rules hold in raw feeds",
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
    return {"raw_feeds": raw, "integration": integration, "analyst_ig": analyst}
