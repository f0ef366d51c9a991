"""The linkage itself, on an in-process DuckDB connection holding table `rec` (int_person_records' linkage
columns). Creates tables `person_links`, `conflicts` and `review` in that connection. No identifier is logged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from importlib import resources

import duckdb
import numpy as np

from ipb.linkage import spec
from ipb.linkage.cluster import Atom, GuardedClusters, components
from ipb.linkage.model import Model

log = logging.getLogger(__name__)

RULES = ("nhs_number", "upn", "local_id", "splink", "unlinked")  # priority order: a record keeps its best
_NHS, _UPN, _LOCAL, _SPLINK, _UNLINKED = range(5)

REC_COLUMNS = (
    "record_id varchar, feed varchar, sender_code varchar, local_person_id varchar, nhs_number varchar,"
    " upn varchar, forename varchar, forename_canonical varchar, surname varchar, surname_tokens varchar,"
    " birth_date date, sex_code varchar, postcode varchar, postcode_district varchar"
)


@dataclass
class LinkageResult:
    records: int = 0
    people: int = 0
    comparisons: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    conflicts: int = 0
    review: int = 0
    guard_refusals: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        rules = ", ".join(f"{k} {v:,}" for k, v in self.by_rule.items())
        return (f"linkage: {self.records:,} records, {self.people:,} people ({rules}); {self.comparisons:,} Splink"
                f" comparisons; {self.conflicts:,} identity conflicts; {self.review:,} pairs for review"
                f" ({self.guard_refusals:,} refused by the guard)")


def _sql(name: str) -> str:
    return resources.files("ipb.linkage").joinpath("sql", name).read_text(encoding="utf-8")


def create_input(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create table rec ({REC_COLUMNS})").fetchall()


def _splink_scores(con, model: Model, result: LinkageResult) -> None:
    """Splink over the profiles: table `scored` (ul, ur, w, fe, se) of the pairs at or above the review threshold,
    with the name guard's evidence. Splink's own tables are dropped afterwards."""
    from splink import DuckDBAPI, Linker

    columns = "ul bigint, ur bigint, w double, fe boolean, se boolean"
    profiles = con.execute("select count(*) from profiles").fetchall()[0][0]
    if not profiles:
        con.execute(f"create table scored ({columns})").fetchall()
        return
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("profiles", table_name="ipb_profiles"), model.settings_for(profiles),
                    log_level=None)
    for col in ("forename", "surname"):  # frequency-aware: tonight's term frequencies of each name
        linker.table_management.compute_tf_table(col)
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    result.comparisons = con.execute(f"select count(*) from {blocked.physical_name}").fetchall()[0][0]
    # Each profile held by more than one atom is also scored against itself: the weight that joins its atoms.
    con.execute(f"""create table ipb_pairs as
        select match_key, join_key_l, join_key_r from {blocked.physical_name}
        union all
        select distinct '99', unique_id::varchar, unique_id::varchar from profile_atoms where n_atoms > 1""").fetchall()
    linker.table_management.register_blocked_pairs_for_predict(db_api.register("ipb_pairs", table_name="ipb_pairs_r"))
    predictions = linker.inference.predict(threshold_match_weight=model.review_threshold, warning_mode="never")
    con.execute(f"""create table scored as
        select unique_id_l as ul, unique_id_r as ur, match_weight as w,
               {spec.evidence_sql("forename")} as fe, {spec.evidence_sql("surname")} as se
        from {predictions.physical_name}""").fetchall()
    con.execute("drop table ipb_pairs").fetchall()
    for (name,) in con.execute(
            "select table_name from duckdb_tables() where starts_with(table_name, '__splink')").fetchall():
        con.execute(f'drop table if exists "{name}"').fetchall()


def link(con: duckdb.DuckDBPyConnection, model: Model) -> LinkageResult:
    """Link table `rec`: deterministic passes, Splink, guarded clustering, stable anchors."""
    result = LinkageResult()
    t0 = time.perf_counter()
    con.execute(_sql("prepare.sql")).fetchall()
    result.records = con.execute("select count(*) from rec_p").fetchall()[0][0]
    con.execute(_sql("conflict.sql")).fetchall()
    con.execute(_sql("deterministic.sql")).fetchall()
    result.seconds["deterministic"] = round(time.perf_counter() - t0, 2)

    t1 = time.perf_counter()
    _splink_scores(con, model, result)
    con.execute(f"set variable ipb_link = {float(model.link_threshold)!r}").fetchall()
    con.execute(_sql("splink_edges.sql")).fetchall()
    result.seconds["splink"] = round(time.perf_counter() - t1, 2)

    t2 = time.perf_counter()
    _cluster(con)
    con.execute(_sql("people.sql")).fetchall()
    result.seconds["cluster"] = round(time.perf_counter() - t2, 2)
    result.people, result.conflicts, result.review, result.guard_refusals = con.execute("""select
        (select count(distinct person_number) from person_links), (select count(*) from conflicts),
        (select count(*) from review), (select count(*) from review where reason = 'guard')""").fetchall()[0]
    result.by_rule = dict(con.execute(
        "select link_rule, count(*) from person_links group by link_rule order by link_rule").fetchall())
    return result


def _cluster(con) -> None:
    """Every link (det_edges, splink_edges) into people: table atom_people (atom, root, rule, match_weight), and the
    links the guard refused: guard_conflicts, guard_review (cluster.py)."""
    import pyarrow as pa

    n = con.execute("select count(*) from atoms").fetchall()[0][0]
    con.execute("""create table edges as
        select stage, rule, identifier, null::double as w, a, b, null::bigint as profile from det_edges
        union all
        select stage, rule, null, w, a, b, profile from splink_edges""").fetchall()
    ends = con.execute("select a, b from edges").fetchnumpy()
    label = components(n, ends["a"], ends["b"])
    con.register("ipb_labels", pa.table({"atom": np.arange(n, dtype=np.int64), "comp": label}))
    con.execute("create table atom_comp as select * from ipb_labels").fetchall()
    con.unregister("ipb_labels")
    del ends, label
    con.execute(_sql("guard.sql")).fetchall()

    # The components that break the guard (few): re-clustered link by link, strongest first.
    atoms_rows = con.execute("""
        select a.atom, a.nhs_number,
               case when a.local_person_id is not null then a.feed || ':' || a.sender_code end, a.local_person_id,
               coalesce(list_distinct(list(h.head) filter (where h.head is not null)), []),
               a.n_records, a.upn is not null
        from atoms as a
        inner join atom_comp as c on a.atom = c.atom
        inner join bad_comps as b on c.comp = b.comp
        left join atom_id_heads as h on a.atom = h.atom
        group by all
        order by a.atom""").fetchall()
    index = {row[0]: i for i, row in enumerate(atoms_rows)}
    conflicting = {(int(x), int(y)) for x, y in con.execute(
        "select least(atom_l, atom_r), greatest(atom_l, atom_r) from id_conflicts").fetchall()}
    clusters = GuardedClusters(
        [Atom(nhs, (key, lid) if key else None, tuple(heads)) for _, nhs, key, lid, heads, _, _ in atoms_rows],
        conflicting)
    rule = [(_NHS if nhs else _UPN if has_upn else _LOCAL) if n_rec > 1 else _UNLINKED
            for _, nhs, _, _, _, n_rec, has_upn in atoms_rows]
    weight: list[float | None] = [None] * len(atoms_rows)
    refused_det: list[tuple] = []
    refused_splink: list[tuple] = []
    earlier: dict[int, list[int]] = {}

    def accept(i: int, j: int, r: int, w: float | None) -> bool:
        if clusters.union(i, j) is False:
            return False
        for x in (i, j):
            rule[x] = min(rule[x], r)
            if r == _SPLINK and w is not None and (weight[x] is None or w > weight[x]):
                weight[x] = w
        return True

    for stage, r, identifier, w, a, b, profile in con.execute("""
            select e.stage, e.rule, e.identifier, e.w, e.a, e.b, e.profile
            from edges as e inner join atom_comp as c on e.a = c.atom inner join bad_comps as b on c.comp = b.comp
            order by e.stage, e.w desc, e.profile, e.a, e.b""").fetchall():
        i, j = index[a], index[b]
        if profile is not None:  # a profile's atom joins its head, else the first earlier atom of it the guard allows
            others = earlier.setdefault(profile, [i])
            if not any(accept(j, k, r, w) for k in others):
                refused_splink.append(("guard", w, a, b))
            others.append(j)
        elif not accept(i, j, r, w):
            (refused_splink if stage == 5 else refused_det).append(
                ("guard", w, a, b) if stage == 5 else (identifier, "guard", a, b))
    roots = [atoms_rows[clusters.find(i)][0] for i in range(len(atoms_rows))]
    _insert(con, "bad_atom_people", "atom bigint, root bigint, rule varchar, match_weight double",
            [(row[0], roots[i], RULES[rule[i]], weight[i] if rule[i] == _SPLINK else None)
             for i, row in enumerate(atoms_rows)])
    _insert(con, "guard_conflicts", "identifier varchar, reason varchar, atom_l bigint, atom_r bigint", refused_det)
    _insert(con, "guard_review", "reason varchar, match_weight double, atom_l bigint, atom_r bigint", refused_splink)
    con.execute(_sql("atom_people.sql")).fetchall()


def _insert(con, table: str, columns: str, rows: list[tuple]) -> None:
    """Create `table` and fill it from Python rows through Arrow (executemany is slow at national scale)."""
    import pyarrow as pa

    con.execute(f"create table {table} ({columns})").fetchall()
    if not rows:
        return
    names = [c.split()[0] for c in columns.split(",")]
    kinds = {"bigint": pa.int64(), "varchar": pa.string(), "double": pa.float64()}
    types = [kinds[c.split()[1]] for c in columns.split(",")]
    columns_of_rows = zip(*rows, strict=True)
    data = pa.table({name: pa.array(col, typ) for name, typ, col in zip(names, types, columns_of_rows, strict=True)})
    con.register("ipb_arrow_rows", data)
    con.execute(f"insert into {table} select * from ipb_arrow_rows").fetchall()
    con.unregister("ipb_arrow_rows")
