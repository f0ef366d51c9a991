"""The linkage itself, on an in-process DuckDB connection holding table `rec` (int_person_records' linkage
columns). Creates tables `person_links`, `conflicts` and `review` in that connection. No identifier is logged."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from importlib import resources

import duckdb

from ipb.linkage import spec
from ipb.linkage.cluster import Atom, GuardedClusters, conflict_reason
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


def _atoms(con) -> list[Atom]:
    rows = con.execute(
        "select nhs_number, upn, case when local_person_id is not null then feed || ':' || sender_code end,"
        " local_person_id, birth_date, sex_code from atoms order by atom").fetchall()
    return [Atom(n, u, (k, lid) if k else None, d, s) for n, u, k, lid, d, s in rows]


def _splink_pairs(con, model: Model, result: LinkageResult):
    """Splink over the profiles: pairs scored at or above the review threshold, with the name guard's evidence."""
    from splink import DuckDBAPI, Linker

    if not con.execute("select count(*) from profiles").fetchall()[0][0]:
        return []
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("profiles", table_name="ipb_profiles"), model.splink, log_level=None)
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
    return con.execute(f"""
        select unique_id_l, unique_id_r, match_weight,
               {spec.evidence_sql("forename")} as forename_evidence, {spec.evidence_sql("surname")} as surname_evidence
        from {predictions.physical_name}
        order by match_weight desc, unique_id_l, unique_id_r""").fetchall()


def link(con: duckdb.DuckDBPyConnection, model: Model) -> LinkageResult:
    """Link table `rec`: deterministic passes, Splink, guarded clustering, stable anchors."""
    result = LinkageResult()
    t0 = time.perf_counter()
    con.execute(_sql("prepare.sql")).fetchall()
    atoms = _atoms(con)
    result.records = con.execute("select count(*) from rec").fetchall()[0][0]
    clusters = GuardedClusters(atoms)
    n = len(atoms)
    rule = [_UNLINKED] * n
    weight: list[float | None] = [None] * n
    # An atom of several records is linked inside by its strongest identifier.
    for (atom,) in con.execute("select atom from atoms where n_records > 1").fetchall():
        a = atoms[atom]
        rule[atom] = _NHS if a.nhs_number else _UPN if a.upn else _LOCAL
    conflicts: list[tuple] = []
    review: list[tuple] = []

    def accept(i: int, j: int, r: int, w: float | None = None) -> bool:
        merged = clusters.union(i, j)
        if merged is False:
            return False
        for x in (i, j):
            if r < rule[x]:
                rule[x] = r
            if r == _SPLINK and (weight[x] is None or (w is not None and w > weight[x])):
                weight[x] = w
        return True

    # 1. NHS number, then UPN: an identifier's atoms with the same birth date and sex join their head; heads of one
    # identifier join unless their demographics conflict (then: the conflict list).
    for kind, r in (("nhs_number", _NHS), ("upn", _UPN)):
        for head, members in con.execute(
                "select head, members from id_profiles where kind = ? and len(members) > 1", [kind]).fetchall():
            for m in members:
                if m != head:
                    accept(m, head, r)
        pairs = con.execute("""
            select a.head, b.head, a.birth_date, a.sex_code, b.birth_date, b.sex_code
            from id_profiles as a inner join id_profiles as b
                on a.kind = b.kind and a.value = b.value and a.head < b.head
            where a.kind = ? order by a.head, b.head""", [kind]).fetchall()
        for ha, hb, da, sa, db, sb in pairs:
            reason = conflict_reason(da, sa, db, sb)
            if reason:
                conflicts.append((kind, reason, ha, hb))
            elif not accept(ha, hb, r):
                conflicts.append((kind, "guard", ha, hb))
    # 2. Local ids: a sender's own records of one person in one feed.
    for atom, head in con.execute("""
            select atom, min(atom) over (partition by feed, sender_code, local_person_id) as head
            from atoms where local_person_id is not null""").fetchall():
        if atom != head and not accept(atom, head, _LOCAL):
            conflicts.append(("local_id", "guard", head, atom))
    result.seconds["deterministic"] = round(time.perf_counter() - t0, 2)

    # 3. Splink for the rest, strongest first.
    t1 = time.perf_counter()
    pairs = _splink_pairs(con, model, result)
    result.seconds["splink"] = round(time.perf_counter() - t1, 2)
    t2 = time.perf_counter()
    heads = dict(con.execute("select distinct unique_id, head from profile_atoms").fetchall())
    members: dict[int, list[int]] = {}
    for uid, atom in con.execute(
            "select unique_id, atom from profile_atoms where n_atoms > 1 and atom <> head").fetchall():
        members.setdefault(uid, []).append(atom)
    for ul, ur, w, forename_ok, surname_ok in pairs:
        if not forename_ok:
            continue  # never a link or a review without forename evidence (twins; birth date and postcode alone)
        linkable = surname_ok and w >= model.link_threshold
        if ul == ur:  # a profile against itself: each atom joins its head, else the first earlier atom it may
            earlier = [heads[ul]]
            for atom in members.get(ul, []):
                if not linkable:
                    review.append(("no_surname_evidence" if not surname_ok else "between_thresholds", w,
                                   heads[ul], atom))
                elif not any(accept(atom, other, _SPLINK, w) for other in earlier):
                    review.append(("guard", w, heads[ul], atom))
                earlier.append(atom)
            continue
        if linkable:
            if not accept(heads[ul], heads[ur], _SPLINK, w):
                review.append(("guard", w, heads[ul], heads[ur]))
        else:
            review.append(("no_surname_evidence" if not surname_ok else "between_thresholds", w,
                           heads[ul], heads[ur]))
    result.guard_refusals = sum(1 for r in review if r[0] == "guard")

    # 4. Results back into DuckDB: each atom's person, rule and weight; then anchors in SQL.
    roots = [clusters.find(i) for i in range(n)]
    _insert(con, "atom_people", "atom bigint, root bigint, rule varchar, match_weight double",
            [(i, roots[i], RULES[rule[i]], weight[i] if rule[i] == _SPLINK else None) for i in range(n)])
    _insert(con, "conflict_atoms", "identifier varchar, reason varchar, atom_l bigint, atom_r bigint", conflicts)
    _insert(con, "review_atoms", "reason varchar, match_weight double, atom_l bigint, atom_r bigint", review)
    con.execute(_sql("people.sql")).fetchall()
    result.seconds["cluster"] = round(time.perf_counter() - t2, 2)
    result.people = con.execute("select count(distinct person_number) from person_links").fetchall()[0][0]
    result.by_rule = dict(con.execute(
        "select link_rule, count(*) from person_links group by link_rule order by link_rule").fetchall())
    result.conflicts = len(conflicts)
    result.review = len(review)
    return result


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
