"""The nightly linkage task: int_person_records out of PostgreSQL into this process's in-memory DuckDB (COPY), the
linkage (engine.py), the results back by COPY into new tables swapped in for the old ones in one transaction.

Identifiers never leave this process: DuckDB runs in memory with a memory limit; if it must spill, it spills into a
private temporary folder (mode 0700) removed when the task ends. Logs and the result carry counts only.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from ipb import db
from ipb.linkage.engine import LinkageResult, create_input, link
from ipb.linkage.model import Model, load

log = logging.getLogger(__name__)

INPUT = "restricted.int_person_records"
MEMORY_LIMIT = os.environ.get("IPB_LINKAGE_MEMORY_LIMIT", "500MB")  # the whole process stays under 1 GiB
_INPUT_COLUMNS = ("record_id, feed, sender_code, local_person_id, nhs_number, upn, forename, forename_canonical,"
                  " surname, surname_tokens, birth_date, sex_code, postcode, postcode_district")
# Output tables (restricted; dbt sources `linkage`): name -> (PostgreSQL columns, DuckDB query)
OUTPUTS = {
    "linkage_person_links": (
        "record_id text not null, person_anchor text not null, person_number bigint not null,"
        " link_rule text not null, match_weight double precision",
        "select record_id, person_anchor, person_number, link_rule, match_weight from person_links"),
    "linkage_conflicts": (
        "identifier text not null, reason text not null, record_id_l text not null, feed_l text, sender_l text,"
        " record_id_r text not null, feed_r text, sender_r text",
        "select identifier, reason, record_id_l, feed_l, sender_l, record_id_r, feed_r, sender_r from conflicts"),
    "linkage_review": (
        "reason text not null, match_weight double precision, record_id_l text not null, feed_l text,"
        " sender_l text, record_id_r text not null, feed_r text, sender_r text",
        "select reason, match_weight, record_id_l, feed_l, sender_l, record_id_r, feed_r, sender_r from review"),
}
_BATCH = 100_000


@contextmanager
def duckdb_in_memory(memory_limit: str = MEMORY_LIMIT) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with a memory limit and every core; spills only into a private folder, removed after."""
    spill = tempfile.mkdtemp(prefix="ipb-linkage-")
    os.chmod(spill, 0o700)
    con = duckdb.connect(":memory:", config={
        "memory_limit": memory_limit, "threads": os.cpu_count() or 1, "temp_directory": spill,
        "preserve_insertion_order": False, "enable_external_access": True})
    try:
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


class _CopyReader:
    """A COPY ... TO STDOUT as a read-only file for Arrow's CSV reader: blocks are read as Arrow asks for them, so
    only a few MB of the input are ever in Python."""

    def __init__(self, copy) -> None:
        self._blocks = iter(copy)
        self._buffer = bytearray()
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            block = next(self._blocks, None)
            if block is None:
                break
            self._buffer += block
        size = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True


def _copy_in(pg, con: duckdb.DuckDBPyConnection) -> int:
    """int_person_records into DuckDB table `rec`: COPY as CSV, parsed by Arrow into record batches that DuckDB reads
    as one stream in one insert (no Python object per record; 3x faster than an insert per batch)."""
    import pyarrow as pa
    from pyarrow import csv

    create_input(con)
    names = [c.strip() for c in _INPUT_COLUMNS.split(",")]
    types = {n: pa.date32() if n == "birth_date" else pa.string() for n in names}
    with pg.cursor() as cur, cur.copy(f"copy (select {_INPUT_COLUMNS} from {INPUT}) to stdout (format csv)") as cp:
        reader = csv.open_csv(
            _CopyReader(cp),
            read_options=csv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=csv.ParseOptions(newlines_in_values=True),
            # PostgreSQL's CSV: NULL is an empty unquoted field, an empty string is ""
            convert_options=csv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                               quoted_strings_can_be_null=False, null_values=[""]))
        con.register("ipb_input", reader)
        try:
            con.execute("insert into rec select * from ipb_input").fetchall()
        finally:
            con.unregister("ipb_input")
    pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed blocks: give them back before linking
    return con.execute("select count(*) from rec").fetchall()[0][0]


def _copy_out(pg, con: duckdb.DuckDBPyConnection) -> None:
    """Each output into a new table, then every swap in one transaction (readers see old or new, never half)."""
    for name, (columns, query) in OUTPUTS.items():
        pg.execute(f"drop table if exists restricted.{name}__new")
        pg.execute(f"create table restricted.{name}__new ({columns})")
        res = con.execute(query)
        with pg.cursor() as cur, cur.copy(f"copy restricted.{name}__new from stdin") as cp:
            while rows := res.fetchmany(_BATCH):
                for row in rows:
                    cp.write_row(row)
    for name in OUTPUTS:
        pg.execute(f"drop table if exists restricted.{name}")
        pg.execute(f"alter table restricted.{name}__new rename to {name}")
        pg.execute(f"analyze restricted.{name}")


def run_linkage(model: Model | None = None) -> LinkageResult:
    """Link tonight's int_person_records and swap the linkage tables in. Returns counts only."""
    model = model or load()
    t0 = time.perf_counter()
    with db.connect(role=db.TRANSFORMER) as pg, duckdb_in_memory() as con:
        n = _copy_in(pg, con)
        t_in = time.perf_counter() - t0
        result = link(con, model)
        t1 = time.perf_counter()
        _copy_out(pg, con)
        pg.commit()
        result.seconds.update(copy_in=round(t_in, 2), copy_out=round(time.perf_counter() - t1, 2),
                              total=round(time.perf_counter() - t0, 2))
        result.records = n
    log.info(result.summary())
    return result
