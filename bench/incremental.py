"""Benchmark: the incremental night. Night D at scale, then D+1 in the same warehouse (the generator's next day,
same seed: about 1% of records changed), both with every phase run directly, each in its own process. Prints the
time per phase for D and D+1 and the ratio D+1 / D; goal: the D+1 pipeline (all phases but generate) < 25% of D's.
Ends with one JSON line.

    python bench/incremental.py [--people N] [--date YYYY-MM-DD] [--keep]"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main() -> int:
    from ipb.generate.params import NATIONAL_PEOPLE

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=NATIONAL_PEOPLE)
    ap.add_argument("--date", default="2026-11-22", help="night D")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    d0 = args.date
    d1 = (date.fromisoformat(d0) + timedelta(days=1)).isoformat()
    load_before = common.loadavg()
    t0 = time.perf_counter()
    with common.temp_state(args.keep, "ipb-bench-incr-") as base, common.fresh_database(args.keep) as dbname:
        print(f"database {dbname}, state {base}, load average {load_before}")
        print(f"night D = {d0}")
        first = common.run_direct(d0, args.people, base, seed=args.seed)
        print(f"night D+1 = {d1}")
        second = common.run_direct(d1, args.people, base, seed=args.seed)
    secs = time.perf_counter() - t0
    print(f"{args.people:,} people; seconds per phase (D, D+1, D+1/D):")
    ratios = {}
    for phase in common.PHASES:
        a = first.phases.get(phase, {}).get("seconds")
        b = second.phases.get(phase, {}).get("seconds")
        if a is None or b is None:
            continue
        ratios[phase] = round(b / a, 3) if a else None
        print(f"  {phase:<10} {a:8.1f} {b:8.1f}   {b / a:6.0%}")
    pipe = round(second.pipeline_seconds / first.pipeline_seconds, 3)
    print(f"  {'pipeline':<10} {first.pipeline_seconds:8.1f} {second.pipeline_seconds:8.1f}   {pipe:6.0%}"
          f"   goal < 25%: {'met' if pipe < 0.25 else 'NOT met'}")
    rows = [sum(r.phases["ingest"]["detail"]["feeds"][f]["rows_loaded"] for f in ("nhs_phb", "social_care", "send"))
            for r in (first, second)]
    print(f"  rows loaded D {rows[0]:,}, D+1 {rows[1]:,} (every file is a full snapshot: all of it reloads)")
    print(f"  warehouse after D {first.size['mb']} MB, after D+1 {second.size['mb']} MB")
    b1 = second.phases.get("dbt_build", {}).get("detail") or {}
    if b1.get("slowest"):
        print("  D+1 slowest dbt nodes: " + ", ".join(f"{n['node']} {n['seconds']}s" for n in b1["slowest"][:6]))
    load_after = common.loadavg()
    print(f"load average before {load_before}, after {load_after}")
    common.print_json({"bench": "incremental", "people": args.people, "night_d": first.as_dict(),
                       "night_d1": second.as_dict(), "ratio_by_phase": ratios, "ratio_pipeline": pipe,
                       "goal_met": pipe < 0.25, "total_seconds": round(secs, 2),
                       "loadavg_before": load_before, "loadavg_after": load_after})
    return 0


if __name__ == "__main__":
    sys.exit(main())
