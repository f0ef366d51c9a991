"""Benchmark: generate a national-scale night (~200k nhs_phb, ~850k social_care, ~580k send rows) into a temp
dir and print rows/s, seconds, peak RSS and a final JSON line. Usage: python bench/generate.py [--people N]
[--truth] [--keep DIR]."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ipb.generate import generate_night
from ipb.generate.params import NATIONAL_PEOPLE


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=NATIONAL_PEOPLE)
    ap.add_argument("--date", default="2026-11-22")
    ap.add_argument("--defects", type=float, default=0.0)
    ap.add_argument("--truth", action="store_true", help="also write the truth (records.csv, people.csv)")
    ap.add_argument("--keep", type=Path, help="write here instead of a temp dir, and keep it")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="ipb-gen-bench-"))
    try:
        t0 = time.perf_counter()
        s = generate_night(args.date, args.people, base / "landing", seed=1, defects=args.defects,
                           truth_dir=base / "truth" if args.truth else None, progress=False)
        secs = time.perf_counter() - t0
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        total = sum(s.rows.values())
        size_mb = sum(f.stat().st_size for f in (base / "landing").iterdir()) / 1e6
        print(f"people {args.people:,}: {total:,} rows ({', '.join(f'{k} {v:,}' for k, v in s.rows.items())}) "
              f"in {secs:.1f} s = {total / secs:,.0f} rows/s, {size_mb:.0f} MB written, peak RSS {rss_mb:.0f} MB")
        print(json.dumps({"bench": "generate", "people": args.people, "rows": s.rows, "rows_total": total,
                          "seconds": round(secs, 2), "rows_per_second": round(total / secs),
                          "peak_rss_mb": round(rss_mb), "landing_mb": round(size_mb), "truth": args.truth}))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
