"""Benchmark: the night at several sizes (default 10k, 100k, 1M and 1.6M people; --sizes 10000,100000 to change,
up to 1.6M), each in a fresh database with every phase run directly in its own process. Prints seconds per phase per
size and each phase's growth against the growth in rows, so what scales worse than linearly shows.
Ends with one JSON line.

    python bench/scaling.py [--sizes 10000,100000,1000000,1600000]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000,1600000")
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if any(s > 1_600_000 for s in sizes):
        ap.error("sizes above 1,600,000 people exceed the generator's NHS number range")
    load_before = common.loadavg()
    runs: list[common.NightRun] = []
    for people in sizes:
        with common.temp_state(prefix="ipb-bench-scale-") as base, common.fresh_database() as dbname:
            print(f"{people:,} people (database {dbname}, load average {common.loadavg()})")
            runs.append(common.run_direct(args.date, people, base, seed=args.seed))
    rows = [sum(r.phases["generate"]["detail"]["rows"].values()) for r in runs]
    header = f"{'phase':<10}" + "".join(f"{p:>12,}" for p in sizes)
    print("\nseconds per phase by people" + (" (growth vs first size; rows grew " +
                                             ", ".join(f"{n / rows[0]:.0f}x" for n in rows[1:]) + ")"
                                             if len(runs) > 1 else ""))
    print(header)
    print(f"{'rows':<10}" + "".join(f"{n:>12,}" for n in rows))
    table: dict[str, list[float | None]] = {}
    for phase in common.PHASES:
        vals = [r.phases.get(phase, {}).get("seconds") for r in runs]
        table[phase] = vals
        cells = "".join(f"{v:>12.1f}" if v is not None else f"{'-':>12}" for v in vals)
        growth = ""
        if len(vals) > 1 and vals[0] and all(v is not None for v in vals):
            growth = "   x" + ", x".join(f"{v / vals[0]:.1f}" for v in vals[1:])
        print(f"{phase:<10}{cells}{growth}")
    print(f"{'pipeline':<10}" + "".join(f"{r.pipeline_seconds:>12.1f}" for r in runs))
    print(f"{'peak MB':<10}" + "".join(f"{r.peak_rss_mb:>12.0f}" for r in runs))
    print(f"{'wh MB':<10}" + "".join(f"{r.size['mb']:>12,}" for r in runs))
    for r in runs:
        b = r.phases.get("dbt_build", {}).get("detail") or {}
        if b.get("slowest"):
            print(f"  {r.people:,}: slowest dbt nodes " +
                  ", ".join(f"{n['node']} {n['seconds']}s" for n in b["slowest"][:5]))
    load_after = common.loadavg()
    print(f"load average before {load_before}, after {load_after}")
    common.print_json({"bench": "scaling", "sizes": sizes, "rows": rows, "seconds_by_phase": table,
                       "pipeline_seconds": [r.pipeline_seconds for r in runs],
                       "peak_rss_mb": [round(r.peak_rss_mb) for r in runs],
                       "warehouse_mb": [r.size["mb"] for r in runs],
                       "slowest_dbt_nodes": {r.people: (r.phases.get("dbt_build", {}).get("detail") or {})
                                             .get("slowest", [])[:5] for r in runs},
                       "loadavg_before": load_before, "loadavg_after": load_after})
    return 0


if __name__ == "__main__":
    sys.exit(main())
