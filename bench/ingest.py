"""Benchmark: loading one 1,000,000-row social care file (--rows N). Writes a realistic, valid file with the
generator's own row builder (one council's file: every row carries that council's LA_Code), then, in a fresh
database and each in its own process so the peak RSS is the step's own:

1. our load_file (file checks + checksum, COPY, duplicate keys, row rules, quarantine, lineage, accounting), timed
   as the call; the process's Python imports are printed apart (a loading task imports once for all its files),
2. a plain `COPY ... FROM STDIN (FORMAT csv, HEADER)` of the same file into an empty all-text table, timed as the
   statement,
3. pandas.DataFrame.to_sql on the first 100,000 rows (--pandas-rows),
4. our load_file of the same council's next-day file, with 1% of its rows changed (the nightly case: PostgreSQL
   checks again only the rows the screen flags that equal no row of the previous accepted snapshot), after an
   ANALYZE of the raw table, as autovacuum's would have been taken in the day between.

Prints rows/s, MB/s, peak RSS and the ratios; goals: our load >= 0.5x the plain COPY rate, peak RSS < 500 MB
(issue 18). Each file is left to settle first (the loader waits for a file written moments ago: a file
that landed earlier in the night does not make it wait).
Ends with one JSON line. Usage: python bench/ingest.py [--rows N] [--pandas-rows N] [--keep]"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

NIGHT = "2026-11-22"
SETTLE = 2.1  # ipb.ingest.landing.SETTLE_SECONDS, and a little
NEXT = "2026-11-23"


def write_social_care_file(folder: str, n_rows: int, seed: int = 1) -> dict:
    """n_rows social care rows for one council, built chunk by chunk with the generator (ipb.generate.rows)."""
    import numpy as np

    from ipb import contract, feeds, reference
    from ipb.generate import dates, population, rows
    from ipb.generate.night import CHUNK, _valid_nhs_bases
    from ipb.generate.params import Params
    from ipb.generate.rand import Rand

    d = dates.day(__import__("datetime").date.fromisoformat(NIGHT))
    geo = population.Geography.build(reference.load())
    r, p = Rand(seed), Params()
    ctx = rows.Ctx(r, p, geo, d)
    sender = geo.council_cld[0]
    path = Path(folder) / feeds.SOCIAL_CARE.file_name(sender, NIGHT.replace("-", ""))
    pool = _valid_nhs_bases(seed)
    used = written = lo = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        fields = contract.cld_fields()  # the council's whole Release 2 file, spec names and order
        w.writerow([f.name for f in fields])
        while written < n_rows:
            idx = np.arange(lo, lo + CHUNK, dtype=np.int64)
            lo += CHUNK
            P = population.people(r, p, geo, idx)
            need = P["has_nhs"]
            k = int(need.sum())
            nhs = np.full(len(idx), "", dtype=object)
            # More people than the 999 test range holds: numbers repeat across people (no loader rule forbids it).
            nhs[need] = pool[(used + np.arange(k)) % len(pool)].astype(str).astype(object)
            used += k
            P["nhs"] = nhs
            block = rows.social_care(ctx, P)
            block.cols["la_code"][:] = sender  # one council's file; keys stay unique (they carry the person slot)
            # One council writes one date format: the rows of senders that write DD/MM/YYYY go back to ISO.
            for f in fields:
                if f.kind == "date":
                    block.cols[f.column] = np.array([_iso(v) for v in block.cols[f.column]], dtype=object)
            take = min(len(block), n_rows - written)
            w.writerows(zip(*(block.cols[f.column][:take].tolist() for f in fields), strict=True))
            written += take
    return {"path": str(path), "rows": written, "people": lo, "bytes": path.stat().st_size}


def _iso(value: str) -> str:
    """DD/MM/YYYY as YYYY-MM-DD; anything else as it is."""
    return f"{value[6:]}-{value[3:5]}-{value[:2]}" if len(value) == 10 and value[2] == "/" else value


def write_next_day(path: str, every: int = 100) -> dict:
    """The next day's file of the same council: every `every`-th row's Unit_Cost changed (still valid)."""
    from ipb import contract

    src = Path(path)
    nxt = src.with_name(src.name.replace(NIGHT.replace("-", ""), NEXT.replace("-", "")))
    cost = [f.name for f in contract.cld_fields()].index("Unit Cost")
    changed = 0
    with src.open(newline="", encoding="utf-8") as fin, nxt.open("w", newline="", encoding="utf-8") as fout:
        r, w = csv.reader(fin), csv.writer(fout, lineterminator="\n")
        w.writerow(next(r))
        for i, row in enumerate(r):
            if i % every == 0 and row[cost]:
                row[cost] = f"{float(row[cost]) + 1:.2f}"
                changed += 1
            w.writerow(row)
    return {"path": str(nxt), "rows_changed": changed}


def our_load(path: str) -> dict:
    """load_file in a fresh process. Its time is the call's, as the plain COPY's is the statement's: the process's
    imports (a loading task imports once for all its files) are reported apart."""
    t0 = time.perf_counter()
    import duckdb  # noqa: F401  (imported by the loader on its first file)
    import pyarrow.compute  # noqa: F401

    from ipb.ingest import load_file

    steps = common.instrument_loader()
    imports = time.perf_counter() - t0
    cpu = time.process_time()
    t0 = time.perf_counter()
    r = load_file("social_care", path, run_id="bench-ingest")
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu  # all threads of the loader (DuckDB's and the COPY's), not its PostgreSQL backend
    return {"seconds": round(seconds, 3), "import_seconds": round(imports, 3),
            "status": r.status, "reason": r.reason_code, "rows_in_file": r.rows_in_file, "cpu_seconds": round(cpu, 2),
            "rows_loaded": r.rows_loaded, "rows_quarantined": r.rows_quarantined,
            "quarantine_reasons": r.quarantine_reasons, "rows_set_aside": r.rows_set_aside,
            "steps_seconds": {k: round(v, 2) for k, v in steps.items()}}


def analyze_raw() -> None:
    """What autovacuum does within a minute of the first load, long before the next day's file: statistics of a
    table that holds only the first batch (the next load's planner then expects no row of its own batch)."""
    from ipb import db

    with db.connect() as conn:
        conn.autocommit = True
        conn.execute("analyze raw.social_care")


def plain_copy(path: str) -> dict:
    """The floor: the same bytes into an empty table of 20 text columns, no checks, one transaction."""
    from psycopg import sql

    from ipb import contract, db
    from ipb.ingest.filecheck import CHUNK

    cols = [f.column for f in contract.cld_fields()]
    with db.connect() as conn:
        conn.execute("create schema if not exists bench")
        conn.execute(sql.SQL("create table bench.social_care_copy ({})").format(
            sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in cols)))
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            with cur.copy("copy bench.social_care_copy from stdin with (format csv, header true)") as copy, \
                    open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    copy.write(chunk)
            n = cur.rowcount
        conn.commit()
        return {"rows": n, "copy_seconds": round(time.perf_counter() - t0, 2)}


def pandas_to_sql(path: str, n_rows: int) -> dict:
    import pandas as pd
    import sqlalchemy

    from ipb import db

    t0 = time.perf_counter()
    df = pd.read_csv(path, nrows=n_rows, dtype=str, keep_default_na=False)
    read = time.perf_counter() - t0
    engine = sqlalchemy.create_engine(db.url().replace("postgresql://", "postgresql+psycopg://", 1))
    t0 = time.perf_counter()
    df.to_sql("social_care_pandas", engine, schema="bench", if_exists="replace", index=False)
    secs = time.perf_counter() - t0
    engine.dispose()
    return {"rows": len(df), "read_csv_seconds": round(read, 2), "to_sql_seconds": round(secs, 2)}


def _steps(load: dict) -> str:
    """The loader's CPU (its threads) and its steps, longest first."""
    steps = sorted(load["steps_seconds"].items(), key=lambda kv: -kv[1])
    return f"  loader CPU {load['cpu_seconds']:.1f}s; steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in steps)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pandas-rows", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="keep the database and the file (printed)")
    args = ap.parse_args()
    load_before = common.loadavg()
    with common.temp_state(args.keep, "ipb-bench-ingest-") as base, common.fresh_database(args.keep) as dbname:
        print(f"database {dbname}, folder {base}, load average {load_before}")
        gen = common.isolated(write_social_care_file, str(base), args.rows)
        f = gen.value
        mb = f["bytes"] / 1e6
        print(f"wrote {f['rows']:,} social care rows ({mb:.0f} MB, from {f['people']:,} people) in {gen.seconds:.1f} s")
        time.sleep(SETTLE)
        with common.ServerMemory(dbname) as server:
            ours = common.isolated(our_load, f["path"])
        nd = common.isolated(write_next_day, f["path"]).value
        common.isolated(analyze_raw)
        time.sleep(SETTLE)
        next_day = common.isolated(our_load, nd["path"])
        plain = common.isolated(plain_copy, f["path"])
        pd_ = common.isolated(pandas_to_sql, f["path"], args.pandas_rows)
        size = common.warehouse_size()
    o, p, q, n = ours.value, plain.value, pd_.value, next_day.value
    if o["status"] != "loaded" or o["rows_in_file"] != f["rows"]:
        print(f"load did not load the file: {o}")
        return 1
    ours_seconds, next_seconds = o["seconds"], n["seconds"]
    ours_rate = f["rows"] / ours_seconds
    copy_rate = p["rows"] / p["copy_seconds"]
    pandas_rate = q["rows"] / q["to_sql_seconds"]
    ratio = ours_rate / copy_rate
    load_after = common.loadavg()
    print(f"our load_file   {ours_seconds:7.1f} s  {ours_rate:>9,.0f} rows/s  {mb / ours_seconds:6.1f} MB/s  "
          f"(its process: {ours.seconds:.1f} s with imports {o['import_seconds']:.1f} s)  "
          f"peak RSS {ours.peak_rss_mb:.0f} MB (process at start {ours.start_rss_mb:.0f} MB; its PostgreSQL backend "
          f"{server.max_backend_mb:.0f} MB); "
          f"{o['rows_loaded']:,} loaded, {o['rows_quarantined']:,} quarantined {o['quarantine_reasons'] or ''}")
    print(_steps(o))
    print(f"next day        {next_seconds:7.1f} s  {f['rows'] / next_seconds:>9,.0f} rows/s  "
          f"{mb / next_seconds:6.1f} MB/s  the same council's next file, {nd['rows_changed']:,} rows changed: "
          f"{n['rows_loaded']:,} loaded, {n['rows_quarantined']:,} quarantined")
    print(_steps(n))
    print(f"plain COPY      {p['copy_seconds']:7.1f} s  {copy_rate:>9,.0f} rows/s  {mb / p['copy_seconds']:6.1f} MB/s  "
          f"peak RSS {plain.peak_rss_mb:.0f} MB")
    print(f"pandas to_sql   {q['to_sql_seconds']:7.1f} s  {pandas_rate:>9,.0f} rows/s  on {q['rows']:,} rows "
          f"(read_csv {q['read_csv_seconds']} s), peak RSS {pd_.peak_rss_mb:.0f} MB")
    next_ratio = (f["rows"] / next_seconds) / copy_rate
    print(f"ratios: ours/COPY {ratio:.2f} (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'}), "
          f"next day/COPY {next_ratio:.2f}, "
          f"ours/to_sql {ours_rate / pandas_rate:.1f}x; peak RSS goal < 500 MB: "
          f"{'met' if ours.peak_rss_mb < 500 else 'NOT met'}")
    print(f"warehouse after the three loads: {size['mb']} MB; load average before {load_before}, after {load_after}")
    common.print_json({
        "bench": "ingest", "rows": f["rows"], "file_mb": round(mb, 1),
        "ours": {"process_seconds": round(ours.seconds, 2), "rows_per_second": round(ours_rate),
                 "mb_per_second": round(mb / ours_seconds, 1), "peak_rss_mb": round(ours.peak_rss_mb),
                 "start_rss_mb": round(ours.start_rss_mb), "server": server.as_dict(), **o},
        "next_day": {"process_seconds": round(next_day.seconds, 2), "rows_changed": nd["rows_changed"],
                     "rows_per_second": round(f["rows"] / next_seconds), "ratio_to_copy": round(next_ratio, 3),
                     "peak_rss_mb": round(next_day.peak_rss_mb), **n},
        "plain_copy": {"seconds": p["copy_seconds"], "rows_per_second": round(copy_rate),
                       "mb_per_second": round(mb / p["copy_seconds"], 1), "peak_rss_mb": round(plain.peak_rss_mb)},
        "pandas_to_sql": {"rows": q["rows"], "seconds": q["to_sql_seconds"], "rows_per_second": round(pandas_rate),
                          "read_csv_seconds": q["read_csv_seconds"], "peak_rss_mb": round(pd_.peak_rss_mb)},
        "ratio_ours_to_copy": round(ratio, 3), "ratio_ours_to_pandas": round(ours_rate / pandas_rate, 2),
        "goal_ratio_met": ratio >= 0.5, "goal_memory_met": ours.peak_rss_mb < 500,
        "generate_seconds": round(gen.seconds, 2), "loadavg_before": load_before, "loadavg_after": load_after,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
