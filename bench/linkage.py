"""Benchmark: the linkage step of a night at national scale (or --people N): generate, load, dbt build of the link
input, then the linkage task alone in a fresh process: seconds per part (COPY out, deterministic passes, Splink,
clustering, COPY back), Splink comparisons, peak RSS of the task's process (DuckDB runs inside it, with its memory
limit), and, with --truth, pairwise precision and recall against the generator's truth.

    python bench/linkage.py [--people N] [--seed S] [--keep]

Ends with one JSON line. Counts only: no identifier is printed."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def _link() -> dict:
    from ipb.orchestration.build import link_people

    return link_people()


def main() -> int:
    from ipb.generate.params import NATIONAL_PEOPLE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=NATIONAL_PEOPLE)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("IPB_PSEUDONYM_KEY", "bench-linkage-key-0123456789abcdef")
    target = tempfile.mkdtemp(prefix="ipb-bench-linkage-target-")
    with common.fresh_database(args.keep), common.temp_state(args.keep) as base:
        from ipb import db
        from ipb.orchestration.build import DBT_BEFORE_LINKAGE, dbt_args
        from ipb.transform.linkage_quality import linkage_quality

        db.bootstrap()
        landing, truth = base / "landing", base / "truth"
        from ipb.generate import generate_night

        generate_night(args.date, args.people, landing, seed=args.seed, truth_dir=truth)
        common.do_ingest(args.date, str(landing), "bench-linkage")
        common._dbt(["build", "--quiet", *dbt_args(DBT_BEFORE_LINKAGE)], target)
        load = common.loadavg()  # the machine is shared: note what else was running
        m = common.isolated(_link)
        linked = m.value
        # The person index (for the quality figures) is built by the second dbt step.
        from ipb.transform.dbt import run_dbt

        run_dbt(["run", "--quiet", "--select", "int_person_index", "--target-path", target])
        q = linkage_quality(truth)
    out = {"people": args.people, "records": linked["records"], "seconds": round(m.seconds, 1),
           "parts_seconds": linked["seconds"], "comparisons": linked["comparisons"],
           "peak_rss_mb": round(m.peak_rss_mb), "by_rule": linked["by_rule"], "conflicts": linked["conflicts"],
           "review": linked["review"], "precision": round(q.precision, 6), "recall": round(q.recall, 6),
           "linkable_recall": round(q.linkable_recall, 6), "true_pairs": q.true_pairs,
           "linkable_pairs": q.linkable_pairs, "best_recall": round(q.best_recall, 6),
           "hard_case_false_merges": {c: h.false_merges for c, h in q.hard_cases.items()},
           "meets_goal": q.meets_goal(), "load_average_before": load,
           "compared_records": q.compared_records, "memory_limit": os.environ.get("IPB_LINKAGE_MEMORY_LIMIT", "500MB")}
    print(f"linkage, {args.people:,} people: {out['records']:,} records in {out['seconds']} s"
          f" ({out['parts_seconds']}); {out['comparisons']:,} Splink comparisons; peak RSS {out['peak_rss_mb']} MB;"
          f" precision {q.precision:.4%}, recall {q.recall:.4%} (of the pairs the rules can link:"
          f" {q.linkable_recall:.4%}, the goal's measure); hard-case records in a false merge:"
          f" {q.hard_case_false_merges}; goal {'met' if q.meets_goal() else 'NOT met'}; load average before {load}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
