"""The Splink model's structure: comparisons, their levels and the blocking rules (one definition, used by the
nightly run through model.json and by `ipb linkage train`, which fills in m and u and writes model.json).

Input columns (one row per distinct demographic profile, see sql/prepare.sql): forename, forename_canonical (the
forename_aliases seed), surname, surname_tokens (a list: the parts of a double or hyphenated surname), birth_date,
sex_code, postcode, postcode_district, postcode_area. Names arrive with accents folded (dbt macro fold_accents).
"""

from __future__ import annotations

from typing import Any

NAME_FUZZY = 0.92  # Jaro-Winkler similarity of a misspelt name (JACK/JAKE 0.87 and twins' names stay below)

_DOB_SWAPPED = ("day(birth_date_l) = month(birth_date_r) and month(birth_date_l) = day(birth_date_r)"
                " and year(birth_date_l) = year(birth_date_r)")
_DOB_ONE_PART = ("((day(birth_date_l) <> day(birth_date_r))::int + (month(birth_date_l) <> month(birth_date_r))::int"
                 " + (year(birth_date_l) <> year(birth_date_r))::int) = 1")

# (output column, [(label, sql condition, is null level, tf column)]), best level first, `else` last. The gamma
# value of a level counts down from the first (the guard reads them: 0 is `else`, -1 is null).
COMPARISONS: list[tuple[str, list[tuple[str, str, bool, str | None]]]] = [
    ("forename", [
        ("null", "forename_l is null or forename_r is null", True, None),
        ("exact", "forename_l = forename_r", False, "forename"),
        ("alias", "forename_canonical_l = forename_canonical_r", False, None),
        ("swapped with surname", "forename_l = surname_r", False, None),
        ("similar", f"jaro_winkler_similarity(forename_l, forename_r) >= {NAME_FUZZY}", False, None),
        ("else", "ELSE", False, None),
    ]),
    ("surname", [
        ("null", "surname_l is null or surname_r is null", True, None),
        ("exact", "surname_l = surname_r", False, "surname"),
        ("swapped with forename", "surname_l = forename_r", False, None),
        ("a part of a double surname", "list_has_any(surname_tokens_l, surname_tokens_r)", False, None),
        ("similar", f"jaro_winkler_similarity(surname_l, surname_r) >= {NAME_FUZZY}", False, None),
        ("else", "ELSE", False, None),
    ]),
    ("birth_date", [
        ("null", "birth_date_l is null or birth_date_r is null", True, None),
        ("exact", "birth_date_l = birth_date_r", False, None),
        ("day and month swapped", _DOB_SWAPPED, False, None),
        ("one of day, month, year differs", _DOB_ONE_PART, False, None),
        ("else", "ELSE", False, None),
    ]),
    ("postcode", [
        ("null", "postcode_l is null or postcode_r is null", True, None),
        ("exact", "postcode_l = postcode_r", False, None),
        ("same district", "postcode_district_l = postcode_district_r", False, None),
        ("same area", "postcode_area_l = postcode_area_r", False, None),
        ("else", "ELSE", False, None),
    ]),
    ("sex", [
        ("unknown", "sex_code_l not in ('1', '2') or sex_code_r not in ('1', '2')", True, None),
        ("same", "sex_code_l = sex_code_r", False, None),
        ("else", "ELSE", False, None),
    ]),
]

# Narrow blocking: every rule needs a birth date or both names, so a block never grows with a common postcode.
# Birth date + postcode is a block (twins and married names must be compared to be kept apart or reviewed), never
# a link on its own: the guard needs forename and surname evidence (run.py).
BLOCKING_RULES = [
    "l.birth_date = r.birth_date and l.surname = r.surname",
    "l.birth_date = r.birth_date and l.forename_canonical = r.forename_canonical",
    "l.birth_date = r.birth_date and l.postcode = r.postcode",
    "l.forename = r.surname and l.surname = r.forename",
    "l.surname = r.surname and l.forename_canonical = r.forename_canonical"
    " and year(l.birth_date) = year(r.birth_date)",
    "l.surname = r.surname and l.forename_canonical = r.forename_canonical and l.postcode = r.postcode",
]

# Hand-set starting values (what `ipb linkage train` replaces with estimates): (m, u) per non-null level.
INITIAL_MU: dict[str, list[tuple[float, float]]] = {
    "forename": [(0.88, 0.005), (0.04, 0.001), (0.01, 0.00005), (0.04, 0.002), (0.03, 0.992)],
    "surname": [(0.85, 0.002), (0.01, 0.00005), (0.04, 0.0005), (0.05, 0.001), (0.05, 0.9965)],
    "birth_date": [(0.93, 0.00005), (0.01, 0.00001), (0.05, 0.002), (0.01, 0.998)],
    "postcode": [(0.80, 0.0001), (0.06, 0.005), (0.06, 0.03), (0.08, 0.965)],
    "sex": [(0.99, 0.5), (0.01, 0.5)],
}


# A misspelt forename is no evidence when both sexes are known and differ: NICOLA / NICHOLAS, LOUIS / LOUISE,
# FRANCIS / FRANCES are twins, not typos (FEEDS.md: different forenames that are not aliases are different people).
_SEXES_DIFFER = "sex_code_l in ('1', '2') and sex_code_r in ('1', '2') and sex_code_l <> sex_code_r"
_NOT_EVIDENCE_WHEN = {("forename", "similar"): _SEXES_DIFFER}


def evidence_sql(comparison: str) -> str:
    """True when a pair meets one of the comparison's levels above `else` (the name guard's evidence), from the same
    level conditions Splink scores."""
    conditions = []
    for label, cond, is_null, _ in dict(COMPARISONS)[comparison]:
        if is_null or cond == "ELSE":
            continue
        unless = _NOT_EVIDENCE_WHEN.get((comparison, label))
        conditions.append(f"({cond}) and not coalesce({unless}, false)" if unless else cond)
    return "coalesce(" + " or ".join(f"({c})" for c in conditions) + ", false)"


def settings(mu: dict[str, list[tuple[float, float]]], prior: float) -> dict[str, Any]:
    """Splink settings with fixed m and u values (never re-estimated by the nightly run)."""
    comparisons = []
    for name, levels in COMPARISONS:
        values = iter(mu[name])
        out = []
        for label, condition, is_null, tf in levels:
            level: dict[str, Any] = {"sql_condition": condition, "label_for_charts": label}
            if is_null:
                level["is_null_level"] = True
            else:
                m, u = next(values)
                level.update(m_probability=m, u_probability=u, fix_m_probability=True, fix_u_probability=True)
                if tf:
                    level.update(tf_adjustment_column=tf, tf_adjustment_weight=1.0, tf_minimum_u_value=0.0001)
            out.append(level)
        comparisons.append({"output_column_name": name, "comparison_levels": out})
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": prior,
        "comparisons": comparisons,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r, "sql_dialect": "duckdb"}
                                                   for r in BLOCKING_RULES],
        "retain_matching_columns": True,  # the name guard evaluates its levels on them (evidence_sql)
        "retain_intermediate_calculation_columns": False,
    }
