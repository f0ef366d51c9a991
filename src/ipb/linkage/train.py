"""`ipb linkage train --truth DIR`: estimate the model's m and u values once, from a built night and the
generator's truth, and write model.json for review (the nightly run never re-estimates).

m: from pairs of profiles of the same true person (Splink's estimate_m_from_label_column). u: from random pairs
(estimate_u_using_random_sampling, seeded). The prior is the share of true pairs among all pairs. Thresholds are
kept from the current model unless given. Prints counts and parameters only, never a record.
"""

from __future__ import annotations

from pathlib import Path

from ipb import db
from ipb.linkage import model as model_file
from ipb.linkage import spec
from ipb.linkage.run import _copy_in, duckdb_in_memory


def train(truth_dir: Path, link: float | None = None, review: float | None = None, version: str | None = None,
          max_pairs: float = 5e6) -> dict:
    from splink import DuckDBAPI, Linker

    from ipb.linkage.engine import _sql
    from ipb.transform.linkage_quality import read_truth

    truth = read_truth(truth_dir)
    current = model_file.load()
    with db.connect(role=db.TRANSFORMER) as pg, duckdb_in_memory() as con:
        _copy_in(pg, con)
        lineage = pg.execute("select record_id, source_file_name, source_row_number"
                             " from restricted.int_person_records").fetchall()
        con.execute("create table truth (record_id varchar, person varchar)").fetchall()
        rows = [(rid, truth[(f, int(n))]) for rid, f, n in lineage if (f, int(n)) in truth]
        con.executemany("insert into truth values (?, ?)", rows)
        con.execute(_sql("prepare.sql")).fetchall()
        con.execute("""create table train_profiles as
            select p.*, min(t.person) as true_person
            from profiles as p
            inner join rec_p as r on r.pkey = p.pkey
            left join truth as t on t.record_id = r.record_id
            group by all""").fetchall()
        n, pairs = con.execute("""select (select count(*) from train_profiles),
            (select coalesce(sum(c * (c - 1) / 2), 0) from (select count(*) as c from train_profiles
             where true_person is not null group by true_person))""").fetchall()[0]
        prior = max(float(pairs) / max(n * (n - 1) / 2, 1), 1e-9)
        db_api = DuckDBAPI(con)
        unfixed = spec.settings(spec.INITIAL_MU, prior)
        for comparison in unfixed["comparisons"]:
            for level in comparison["comparison_levels"]:
                level.pop("fix_m_probability", None)
                level.pop("fix_u_probability", None)
        linker = Linker(db_api.register("train_profiles", table_name="ipb_train"), unfixed, log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=20)
        linker.training.estimate_m_from_label_column("true_person")
        trained = linker.misc.save_model_to_json()
    mu: dict[str, list[tuple[float, float]]] = {}
    for comparison in trained["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        start = spec.INITIAL_MU[comparison["output_column_name"]]
        mu[comparison["output_column_name"]] = [
            (float(lv.get("m_probability") or m0), float(lv.get("u_probability") or u0))
            for lv, (m0, u0) in zip(levels, start, strict=True)]
    version = version or f"trained-{truth_dir.name}"
    model_file.write(spec.settings(mu, prior), link if link is not None else current.link_threshold,
                     review if review is not None else current.review_threshold, version,
                     {"how": "ipb linkage train --truth " + truth_dir.name, "profiles": n, "true_pairs": int(pairs),
                      "u_max_pairs": max_pairs})
    return {"profiles": n, "true_pairs": int(pairs), "prior": prior, "version": version}
