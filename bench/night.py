"""Benchmark: one whole night at national scale (or --people N): wall time per phase (generate, ingest, dbt seed,
dbt build, GX gate, publish, outputs) and end to end, peak RSS per phase, warehouse size, the slowest dbt models and
loader steps. A fresh database and temp IPB_OUTPUT_DIR / IPB_AIRFLOW_HOME per run.

    python bench/night.py [--people N] [--via direct|airflow] [--date YYYY-MM-DD] [--keep]

--via direct (default) calls each phase in its own process; --via airflow runs ipb.orchestration.night.run_night
(Airflow dag.test(), Cosmos) and reads the phases from Airflow's task instances. Ends with one JSON line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def report(run: common.NightRun) -> None:
    print(f"night {run.night}, {run.people:,} people, {run.mode}")
    for phase, p in run.phases.items():
        server = p.get("server", {}).get("max_backend_rss_mb")
        print(f"  {phase:<16} {p['seconds']:8.1f} s   peak RSS {p['peak_rss_mb']:>5} MB"
              + (f"   largest PostgreSQL backend {server:>5} MB" if server is not None else ""))
    print(f"  {'pipeline':<16} {run.pipeline_seconds:8.1f} s   (all phases but generate)")
    print(f"  {'end to end':<16} {run.wall_seconds:8.1f} s   (incl. generate and process start-up)")
    print(f"  warehouse {run.size['mb']:,} MB; largest: "
          + ", ".join(f"{t} {mb} MB" for t, mb in list(run.size["largest_mb"].items())[:5]))
    ingest = run.phases.get("ingest", {}).get("detail") or {}
    if "feeds" in ingest:
        for feed, f in ingest["feeds"].items():
            print(f"  ingest {feed:<12} {f['seconds']:7.1f} s  {f['files']} files, {f['rows_loaded']:,} rows loaded"
                  f" = {f['rows_loaded'] / max(f['seconds'], 1e-9):,.0f} rows/s")
        if ingest.get("deadlock_retries"):
            print(f"  load_file deadlocked with autovacuum and was retried {ingest['deadlock_retries']} time(s)")
        print("  loader steps (summed over the feeds loading side by side): " + ", ".join(f"{k} {v:.1f}s" for k, v in
                                            sorted(ingest["steps_seconds"].items(), key=lambda kv: -kv[1])))
    build = run.phases.get("dbt_build", {}).get("detail") or {}
    if "slowest" in build:
        print(f"  dbt build by type: {build['by_type_seconds']}")
        print("  slowest dbt nodes: " + ", ".join(f"{n['node']} {n['seconds']}s" for n in build["slowest"][:8]))
    total = run.phases.get("run_night_total", {}).get("detail") or {}
    if total.get("slowest_dbt_tasks"):
        print("  slowest Cosmos tasks: " + ", ".join(f"{t['task']} {t['seconds']}s"
                                                     for t in total["slowest_dbt_tasks"][:8]))


def main() -> int:
    from ipb.generate.params import NATIONAL_PEOPLE

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=NATIONAL_PEOPLE)
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--via", choices=("direct", "airflow"), default="direct")
    ap.add_argument("--keep", action="store_true", help="keep the database and temp folder (printed)")
    args = ap.parse_args()
    load_before = common.loadavg()
    t0 = time.perf_counter()
    with common.temp_state(args.keep) as base, common.fresh_database(args.keep) as dbname:
        print(f"database {dbname}, state {base}, load average {load_before}")
        runner = common.run_direct if args.via == "direct" else common.run_airflow
        run = runner(args.date, args.people, base, seed=args.seed)
    secs = time.perf_counter() - t0
    report(run)
    load_after = common.loadavg()
    print(f"load average before {load_before}, after {load_after} (2 cores, shared)")
    common.print_json({"bench": "night", **run.as_dict(), "total_seconds_incl_db_setup": round(secs, 2),
                       "loadavg_before": load_before, "loadavg_after": load_after})
    return 0


if __name__ == "__main__":
    sys.exit(main())
