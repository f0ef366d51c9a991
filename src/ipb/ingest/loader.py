"""Load one landed file into raw, in one transaction: file checks, streaming COPY, row rules in bulk,
quarantine, lineage and the row-accounting invariant. A killed load leaves nothing behind; a file whose
checksum was already loaded is recorded as a duplicate and changes nothing.

CSV feeds are checked by the SQL row rules (ipb.ingest.rules). A plain UTF-8 file is read by the vectorised screen
(ipb.ingest.screen: DuckDB runs the rules and hashes each row while PostgreSQL copies the rows it streams), and
only the rows it flags are checked again, and quarantined, by PostgreSQL; any other file is copied as it is and
checked whole by PostgreSQL. The SEN2 XML return (`send`) is parsed in one streaming pass (ipb.ingest.sen2) whose
Person rules decide each person before the COPY."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import tempfile
import threading
import uuid
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ipb import config, contract, db, feeds, reference
from ipb.feeds import Feed, raw_column
from ipb.ingest import landing, rules, screen, sen2
from ipb.ingest.filecheck import CHUNK, FileFacts, FileRejected, Scan, parse_name
from ipb.raw_tables import ensure_raw_table as _ensure_raw_table

log = logging.getLogger(__name__)

LINEAGE = ("_batch_id", "_file_name", "_file_checksum", "_row_number", "_loaded_at", "_sender_code", "_extract_date",
           "_date_format", "_row_hash")


@dataclass
class LoadResult:
    feed: str
    file_name: str
    status: str  # loaded | rejected | duplicate
    batch_id: int | None = None
    checksum: str | None = None
    reason_code: str | None = None
    reason: str | None = None
    rows_in_file: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_set_aside: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    dropped_columns: list[str] = field(default_factory=list)  # known columns not kept (data minimisation)

    @property
    def accepted(self) -> bool:
        return self.status in ("loaded", "duplicate")

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _record_rejection(feed_name: str, file_name: str, checksum: str | None, exc: FileRejected,
                      run_id: str | None, sender: str | None = None, extract_date=None,
                      rows_in_file: int = 0) -> LoadResult:
    with db.connect(role=db.LOADER) as conn:
        batch_id = conn.execute(
            """insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status,
                   reason_code, reason, run_id, loaded_at, rows_in_file)
               values (%s, %s, %s, %s, %s, 'rejected', %s, %s, %s, now(), %s) returning batch_id""",
            (feed_name, sender, extract_date, file_name, checksum or "", exc.code, str(exc), run_id, rows_in_file),
        ).fetchone()[0]
    log.warning("rejected %s: %s (%s)", file_name, exc.code, exc)
    return LoadResult(feed_name, file_name, "rejected", batch_id, checksum, exc.code, str(exc), rows_in_file)


def load_file(feed_name: str, path: Path | str, run_id: str | None = None) -> LoadResult:
    """Load one landed file. Never raises for bad input: a refused file is a `rejected` result with its reason,
    recorded in audit.batches. A name that is not the contract's is withheld from every record (it may name a
    person); a symlink, folder or entry resolving outside its folder is refused without being read."""
    path = Path(path)
    feed = feeds.LOADABLE.get(feed_name)
    if feed is None:
        raise ValueError(f"unknown feed {feed_name!r}; expected one of {sorted(feeds.LOADABLE)}")
    run_id = run_id or f"manual-{uuid.uuid4().hex[:12]}"
    db.bootstrap()
    file_name = landing.display_name(path.name)
    # A CSV file's checks scan its bytes as the snapshot copies them (one read of the file, two cores).
    scan = None if feed.format == "sen2_xml" else Scan()
    try:
        with landing.snapshot(path, config.load().state_dir / "tmp", observe=scan and scan.feed) as snap:
            return _load_snapshot(feed, snap, file_name, run_id, scan)
    except FileRejected as exc:
        # Refused before its bytes were read (symlink, folder, outside the zone) or while in motion.
        return _record_rejection(feed.name, file_name, None, exc, run_id)


def reject_unclaimed(path: Path | str, run_id: str | None = None) -> LoadResult:
    """A landed entry whose name claims no feed: recorded as rejected (feed `unrecognised`), never skipped."""
    path = Path(path)
    exc = FileRejected("bad_file_name", "the file name matches no feed of the contract (nhs_phb_<ICB>_<YYYYMMDD>"
                       ".csv, social_care_<LA Code>_<YYYYMMDD>.csv, send_<DfE LA number>_<YYYYMMDD>.xml, "
                       "send_budget_<DfE LA number>_<YYYYMMDD>.csv, national_opt_out_<YYYYMMDD>.csv); it was not read")
    db.bootstrap()
    return _record_rejection("unrecognised", landing.display_name(path.name), None, exc, run_id)


def _load_snapshot(feed: Feed, snap: landing.Snapshot, file_name: str, run_id: str, scan: Scan | None) -> LoadResult:
    try:
        name = parse_name(feed, file_name)
    except FileRejected as exc:
        return _record_rejection(feed.name, file_name, snap.checksum, exc, run_id)
    ref = reference.load()
    known = sorted(ref.senders(feed.sender_kind)) if feed.sender_kind else []
    if scan is None:
        return _load_sen2_snapshot(feed, snap, file_name, name, known, run_id)
    try:
        with snap.path.open("rb") as fh:
            facts = scan.facts(fh, feed, snap.checksum)
    except FileRejected as exc:
        return _record_rejection(feed.name, file_name, snap.checksum, exc, run_id, name.sender, name.extract_date)
    if feed.sender_kind and name.sender not in known:
        exc = FileRejected("unknown_sender", f"sender code in the file name is not a known {feed.sender_kind}")
        return _record_rejection(feed.name, file_name, facts.checksum, exc, run_id, name.sender, name.extract_date)

    try:
        return _load_checked(feed, snap.path, file_name, name, facts, known, ref, run_id)
    except FileRejected as exc:
        # Found mid-load (e.g. broken CSV quoting): the transaction rolled back, so nothing of it stays.
        return _record_rejection(feed.name, file_name, facts.checksum, exc, run_id, name.sender, name.extract_date,
                                 exc.rows_in_file)


def _load_checked(feed: Feed, path: Path, file_name: str, name, facts: FileFacts, known: list[str], ref,
                  run_id: str) -> LoadResult:
    """Load the private copy at `path` of the landed file `file_name`."""
    with db.connect(role=db.LOADER) as conn:
        duplicate = _lock_and_check_duplicate(conn, feed, file_name, name, facts.checksum, run_id)
        if duplicate:
            return duplicate
        changed = _ensure_raw_table(conn, feed)
        params = {"sender": name.sender or "", "known_senders": known, "known_sub_icbs": sorted(ref.sub_icb_codes),
                  **rules.code_list_params(feed.name)}
        fingerprint = _rules_fingerprint(feed, params)
        batch_id = conn.execute(
            """insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status, run_id,
                   rules_fingerprint, dropped_columns_list, date_format)
               values (%s, %s, %s, %s, %s, 'loading', %s, %s, %s, %s) returning batch_id""",
            (feed.name, name.sender, name.extract_date, file_name, facts.checksum, run_id, fingerprint,
             ",".join(facts.dropped) or None, facts.date_format),
        ).fetchone()[0]
        result = LoadResult(feed.name, file_name, "loaded", batch_id, facts.checksum, dropped_columns=facts.dropped)
        params["batch"] = batch_id
        params["known_good"] = _known_good_batch(conn, feed, name.sender, fingerprint, batch_id)
        params["suspects"] = _copy(conn, feed, path, file_name, facts, batch_id, name.sender, name.extract_date,
                                   result, params)
        with _summarising_batch_ranges(conn, feed, beside=not changed):
            _quarantine_duplicates(conn, feed, params)
            _quarantine_rule_failures(conn, feed, params)
            _account(conn, feed, result)
        conn.commit()
    log.info("loaded %s: batch %s, %s rows in file, %s loaded, %s quarantined", file_name, batch_id,
             result.rows_in_file, result.rows_loaded, result.rows_quarantined)
    return result


def _lock_and_check_duplicate(conn: psycopg.Connection, feed: Feed, file_name: str, name, checksum: str,
                              run_id: str) -> LoadResult | None:
    """Take the feed's load lock; a file whose checksum is already loaded is recorded as a duplicate (committed)."""
    # One load per feed at a time: the row-number sequence and the checksum registry rely on it.
    conn.execute("select pg_advisory_xact_lock(hashtext('ipb.load.' || %s))", (feed.name,))
    done = conn.execute(
        "select batch_id from audit.batches where feed = %s and checksum = %s and status = 'loaded'",
        (feed.name, checksum),
    ).fetchone()
    if not done:
        return None
    batch_id = conn.execute(
        """insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status,
               reason_code, reason, run_id, loaded_at)
           values (%s, %s, %s, %s, %s, 'duplicate', 'already_loaded', %s, %s, now()) returning batch_id""",
        (feed.name, name.sender, name.extract_date, file_name, checksum,
         f"same checksum as loaded batch {done[0]}: nothing changed", run_id),
    ).fetchone()[0]
    conn.commit()
    return LoadResult(feed.name, file_name, "duplicate", batch_id, checksum, "already_loaded",
                      f"same checksum as loaded batch {done[0]}")


def _set_lineage(conn: psycopg.Connection, feed: Feed, batch_id: int, file_name: str, checksum: str,
                 date_format: str, sender: str | None, extract_date) -> None:
    conn.execute(
        """select set_config('ipb.batch_id', %s, true), set_config('ipb.file_name', %s, true),
                  set_config('ipb.checksum', %s, true), set_config('ipb.sender', %s, true),
                  set_config('ipb.extract_date', %s, true), set_config('ipb.date_format', %s, true),
                  set_config('ipb.row_base', nextval(%s)::text, true)""",
        (str(batch_id), file_name, checksum, sender or "", extract_date.isoformat(), date_format,
         f"raw.{feed.name}_row_seq"),
    )


def _copy(conn: psycopg.Connection, feed: Feed, path: Path, file_name: str, facts: FileFacts, batch_id: int,
          sender: str | None, extract_date, result: LoadResult, params: dict | None = None) -> array | None:
    """Copy the file's rows into raw. Returns the row numbers the screen flagged (only those need the PostgreSQL
    rules), or None when the file was copied as it is (all rows need them)."""
    _set_lineage(conn, feed, batch_id, file_name, facts.checksum, facts.date_format, sender, extract_date)
    if facts.plain_csv and params is not None and len(facts.file_columns) > 1:
        copied, suspects = _copy_screened(conn, feed, path, file_name, facts, params, result)
        if copied:
            return suspects
        _set_lineage(conn, feed, batch_id, file_name, facts.checksum, facts.date_format, sender, extract_date)
    encoding = "WIN1252" if facts.encoding == "windows-1252" else "UTF8"
    dropping = None in facts.file_columns
    # The file's columns in its own order. Columns dropped at the door go to a transaction-local table that is
    # never stored: only the kept columns are copied on into raw.
    target = sql.Identifier("ipb_landed") if dropping else sql.Identifier("raw", feed.name)
    names = [c or f"_dropped_{i}" for i, c in enumerate(facts.file_columns)]
    col_sql = sql.SQL(", ").join(map(sql.Identifier, names))
    stmt = sql.SQL(
        "copy {} ({}) from stdin with (format csv, encoding {}, force_null ({}))"
    ).format(target, col_sql, sql.Literal(encoding), col_sql)
    try:
        with conn.transaction(), conn.cursor() as cur:
            if dropping:
                cur.execute(sql.SQL("create temp table ipb_landed (_n bigint generated always as identity, {})"
                                    " on commit drop").format(
                    sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(n)) for n in names)))
            # Fast path: the file's bytes go straight to COPY, after the header (and BOM).
            with cur.copy(stmt) as copy, path.open("rb") as fh:
                fh.seek(facts.header_bytes)
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    copy.write(chunk)
            result.rows_in_file = cur.rowcount
            if dropping:
                kept = sql.SQL(", ").join(sql.Identifier(c) for c in facts.file_columns if c)
                # Never prepared: the lineage defaults are planned with the statement (raw.load_setting).
                cur.execute(sql.SQL("insert into {} (_row_number, {}) select _n, {} from ipb_landed").format(
                    sql.Identifier("raw", feed.name), kept, kept), prepare=False)
                cur.execute("drop table ipb_landed")
        return None
    except psycopg.errors.DataError:
        # A row with the wrong number of fields, broken quoting or a NUL byte stops COPY; fall back to parsing each
        # record so that the good rows still load and each bad one is quarantined with its row number. (The
        # server's message quotes the row, so it is never logged.)
        log.info("%s: a malformed row stopped COPY; loading record by record", file_name)
    _set_lineage(conn, feed, batch_id, file_name, facts.checksum, facts.date_format, sender, extract_date)
    _copy_record_by_record(conn, feed, path, file_name, facts, batch_id, result)
    return None


def _copy_screened(conn: psycopg.Connection, feed: Feed, path: Path, file_name: str, facts: FileFacts,
                   params: dict, result: LoadResult) -> tuple[bool, array | None]:
    """Stream the screen's rows (raw columns and row hash, in file order) into raw with one COPY, collecting the
    numbers of the rows it flagged. (False, None), with nothing copied, when DuckDB cannot read the file as plain
    CSV."""
    import duckdb

    today = conn.execute("select current_date").fetchone()[0]  # the day the PostgreSQL rules would judge by
    # Every row is screened, the nightly snapshot's too: the screen judges its rows beside the COPY for less than
    # PostgreSQL takes to find its changed rows (0.7-0.9 s against 1.5 s per 1,000,000 CLD rows, bench/ingest.py).
    query = screen.screen_query(feed, path, facts.file_columns, facts.date_format, params, today)
    stmt = sql.SQL("copy {} ({}) from stdin with ({})").format(
        sql.Identifier("raw", feed.name), sql.SQL(", ").join(map(sql.Identifier, screen.copy_columns(feed))),
        sql.SQL(screen.COPY_OPTIONS))
    suspects = array("q")
    rows = 0
    try:
        with conn.transaction(), conn.cursor() as cur:
            with cur.copy(stmt) as copy, screen.stream(query) as chunks:
                for data, flagged, n in chunks:
                    suspects.extend(x + rows + 1 for x in flagged)
                    copy.write(data)
                    rows += n
            if cur.rowcount != rows:
                raise RuntimeError(f"the screen streamed {rows} rows but COPY stored {cur.rowcount}")
    except (duckdb.Error, OSError):
        # DuckDB's message may quote the row: it is not logged. The savepoint left nothing behind. (An error in
        # DuckDB while Arrow pulls its rows, e.g. out of memory, reaches here as Arrow's OSError.)
        log.info("%s: the screen could not read the file; loading it by the PostgreSQL path", file_name)
        return False, None
    result.rows_in_file = rows
    return True, suspects


# The parser's limit on one field: far above any real value (rules.MAX_FIELD_CHARS), low enough that a hostile field
# cannot exhaust memory. A field past it makes the rest of the file unreadable, so the file is refused.
PARSER_FIELD_LIMIT = 16 << 20
# Reasons found while parsing a record, before any row rule can see it.
RECORD_REASONS = {
    "malformed_row": rules.READABLE["malformed_row"],
    "nul_byte": "the row holds a NUL byte, which no text value may contain",
    "field_too_long": rules.READABLE["field_too_long"],
}


def _records(path: Path, facts: FileFacts) -> Iterator[list[str]]:
    csv.field_size_limit(PARSER_FIELD_LIMIT)
    with path.open("rb") as fh:
        fh.seek(facts.header_bytes)
        text = io.TextIOWrapper(fh, encoding=facts.encoding, newline="")
        yield from csv.reader(text, strict=True)


def _record_problem(record: list[str], n: int) -> str | None:
    if len(record) != n:
        return "malformed_row"
    if any("\x00" in v for v in record):
        return "nul_byte"
    if any(len(v) > rules.MAX_FIELD_CHARS for v in record):
        return "field_too_long"
    return None


def _copy_record_by_record(conn: psycopg.Connection, feed: Feed, path: Path, file_name: str, facts: FileFacts,
                           batch_id: int, result: LoadResult) -> None:
    n = len(facts.file_columns)
    keep = [i for i, c in enumerate(facts.file_columns) if c]  # positions of the kept columns
    cols = ["_row_number"] + [facts.file_columns[i] for i in keep]
    stmt = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier("raw", feed.name), sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    problems: list[tuple[int, str, int]] = []
    row_number = 0
    try:
        with conn.cursor() as cur, cur.copy(stmt) as copy:
            for row_number, record in enumerate(_records(path, facts), start=1):  # noqa: B007
                problem = _record_problem(record, n)
                if problem:
                    problems.append((row_number, problem, len(record)))
                    continue
                copy.write_row([row_number] + [record[i] if record[i] != "" else None for i in keep])
    except (csv.Error, UnicodeDecodeError):
        raise FileRejected("malformed_csv", f"CSV quoting is broken near data row {row_number + 1} (an unclosed "
                           "quote, or a field over 16 MiB): the rest of the file cannot be read",
                           rows_in_file=row_number) from None
    result.rows_in_file = row_number
    if problems:
        with conn.cursor() as cur:
            # The record itself is not kept: a malformed row's fields cannot be trusted to be in their columns.
            cur.executemany(
                """insert into quarantine.rows (batch_id, feed, file_name, row_number, reason_code, reason,
                       all_reason_codes, record)
                   values (%s, %s, %s, %s, %s, %s, array[%s], %s)""",
                [(batch_id, feed.name, file_name, rn, code, RECORD_REASONS[code], code,
                  Jsonb({"field_count": count})) for rn, code, count in problems],
            )


def _quarantine_duplicates(conn: psycopg.Connection, feed: Feed, params: dict) -> None:
    if feed.key_column is None:
        return  # no reliable key (CLD): exact repeats are separate events, the key is derived in staging
    key = sql.Identifier(raw_column(feed.key_column))
    table = sql.Identifier("raw", feed.name)
    dup_keys = conn.execute(
        sql.SQL("select 1 from {t} where _batch_id = %(batch)s group by {k} having count(*) > 1 limit 1").format(
            t=table, k=key), params).fetchone()
    if not dup_keys:
        return
    conn.execute(
        sql.SQL(
            """with ranked as (
                   select ctid as row_id, row_number() over (partition by {k} order by _row_number) as occurrence
                   from {t} where _batch_id = %(batch)s and {k} is not null
               ), moved as (
                   delete from {t} as r using ranked
                   where r.ctid = ranked.row_id and ranked.occurrence > 1 and r._batch_id = %(batch)s
                   returning r.*
               )
               insert into quarantine.rows (batch_id, feed, file_name, row_number, reason_code, reason,
                   all_reason_codes, record)
               select _batch_id, {feed}, _file_name, _row_number, 'duplicate_key', {reason},
                   array['duplicate_key'], to_jsonb(moved) - array[{lineage}]
               from moved"""
        ).format(k=key, t=table, feed=sql.Literal(feed.name), reason=sql.Literal(rules.READABLE["duplicate_key"]),
                 lineage=sql.SQL(", ").join(sql.Literal(c) for c in LINEAGE)),
        params,
    )


def _rules_fingerprint(feed: Feed, params: dict) -> str:
    """The row rules as they apply to this sender's file: their SQL and the reference codes they check against."""
    import hashlib

    lists = sorted((name, ",".join(values)) for name, values in rules.code_list_params(feed.name).items())
    text = "\n".join([rules.reasons_array(feed.name), rules.typed_columns(feed.name), params["sender"],
                      ",".join(params["known_senders"]), ",".join(params["known_sub_icbs"]), repr(lists)])
    return hashlib.sha256(text.encode()).hexdigest()


def _known_good_batch(conn: psycopg.Connection, feed: Feed, sender: str | None, fingerprint: str,
                      batch_id: int) -> int:
    """The sender's latest loaded batch checked by the same rules: its rows in raw all passed them. A row equal
    to one of them (same row hash) passes again, so PostgreSQL runs the rules only on new and changed rows (of a
    screened file, only those the screen flagged). (The one rule on today's date, a birth date in the future, cannot
    start failing for a row that passed on an earlier day.) -1 when there is none."""
    row = conn.execute(
        """select batch_id from audit.batches
           where feed = %s and sender_code is not distinct from %s and status = 'loaded'
               and rules_fingerprint = %s and batch_id <> %s
           order by extract_date desc, batch_id desc limit 1""",
        (feed.name, sender, fingerprint, batch_id),
    ).fetchone()
    return row[0] if row else -1


def _quarantine_rule_failures(conn: psycopg.Connection, feed: Feed, params: dict) -> None:
    suspects = params.get("suspects")
    if suspects is not None and not suspects:
        return  # screened, and no row flagged
    # Rule SQL is embedded in a psycopg sql.SQL template: braces (regex counts) must be escaped.
    reasons = rules.reasons_array(feed.name).replace("{", "{{").replace("}", "}}")
    readable = "case reasons[1] " + " ".join(
        f"when '{code}' then '{text.replace(chr(39), chr(39) * 2)}'" for code, text in rules.READABLE.items()
    ) + " end"
    typed = rules.typed_columns(feed.name)
    table = sql.Identifier("raw", feed.name)
    # Step 1 finds failing rows with a read-only query, which PostgreSQL may run in parallel (a DELETE cannot);
    # step 2 moves just those rows. offset 0 keeps each parsed date and amount computed once per row.
    # The rows that need checking: the batch's, only those the screen flagged when it was screened, and of those
    # only the ones that equal no row of the sender's known-good batch (see _known_good_batch): they passed
    # these rules before.
    rows, only = "{t} as r where r._batch_id = %(batch)s", ""
    if suspects is not None:
        # A list of values, which PostgreSQL probes as a hash set: joined to its unnested rows, the batch was
        # hashed whole whenever statistics taken before it made PostgreSQL expect none of its rows.
        only = " and r._row_number = any(%(suspect_rows)s::bigint[])"
        params = {**params, "suspect_rows": list(suspects)}
    if params["known_good"] != -1:
        _find_changed_rows(conn, table, params, only)
        # Fetched by their ctids alone (they are this batch's rows): statistics taken before the batch loaded
        # make PostgreSQL expect no row of it, and with the batch's filter it scanned the whole batch, either
        # hashing it (1.8 s for 8,740 changed rows of 1,000,000) or, with `ctid = any(array)`, searching the array
        # once per row (52 s).
        rows, only = "ipb_changed as c join {t} as r on r.ctid = c.row_id where true", ""
    find = (
        f"""create temp table ipb_failing on commit drop as
            select row_id, reasons from (
                select row_id, {reasons} as reasons
                from (
                    select r.ctid as row_id, r.*, {typed} from {rows}{only}
                    offset 0
                ) as typed
            ) as r
            where cardinality(reasons) > 0"""
    )
    conn.execute(sql.SQL(find).format(t=table), params)
    move = (
        f"""with moved as (
               delete from {{t}} as r using ipb_failing as f
               where r.ctid = f.row_id  -- this batch's rows, by ctid alone (as above)
               returning r.*, f.reasons
           )
           insert into quarantine.rows (batch_id, feed, file_name, row_number, reason_code, reason,
               all_reason_codes, record)
           select _batch_id, {{feed}}, _file_name, _row_number, reasons[1], {readable}, reasons,
               -- an oversized row is not kept: a hostile field cannot fill the quarantine
               case when 'field_too_long' = any(reasons) then jsonb_build_object('field_count', {len(feed.columns)})
                   else to_jsonb(moved) - array[{{lineage}}, 'reasons'] end
           from moved"""
    )
    conn.execute(
        sql.SQL(move).format(t=table, feed=sql.Literal(feed.name),
                             lineage=sql.SQL(", ").join(sql.Literal(c) for c in LINEAGE)),
        params,
    )


def _find_changed_rows(conn: psycopg.Connection, table: sql.Composable, params: dict, only: str = "") -> None:
    """The rows of the new batch (those `only` keeps) whose hash is not in the known-good batch, into `ipb_changed`
    (their ctids). Joined on the hashes alone, whichever side PostgreSQL hashes is narrow: joined on whole rows, a
    table analyzed while it held only the known-good batch made it hash the 1,000,000 new rows with every column
    (estimated at one row), spilling to disk, 3.7 s instead of 1.1 s. Without nested loops the anti-join is a hash
    join whatever the planner guesses about rows that have no statistics yet (a nested loop would probe the
    known-good batch once per new row)."""
    conn.execute("set local enable_nestloop = off")
    conn.execute(sql.SQL(
        """create temp table ipb_changed on commit drop as
           select r.ctid as row_id from {t} as r
           where r._batch_id = %(batch)s{only} and not exists (
               select from {t} as good where good._batch_id = %(known_good)s and good._row_hash = r._row_hash
           )""").format(t=table, only=sql.SQL(only)), params)
    conn.execute("set local enable_nestloop = on")
    conn.execute("analyze ipb_changed")  # its size, for the join that reads these rows


# How long the second connection waits for the raw table before the load summarises its ranges itself.
BESIDE_LOCK_TIMEOUT_S = 5


@contextmanager
def _summarising_batch_ranges(conn: psycopg.Connection, feed: Feed, beside: bool = True) -> Iterator[None]:
    """Summarise the raw table's new block ranges in its _batch_id BRIN index, before commit, while the load's own
    connection goes on (quarantine, accounting). An unsummarised range matches every batch, so without this each
    reader's batch filter (the build, the gate, the next load's unchanged-row test) read the whole table once per
    batch until a vacuum summarised it (at national scale the gate's code-list check took 21.6 s instead of 4.7 s).
    It takes about 0.5 s per 1,000,000 CLD rows, on the second core: a second connection summarises the rows the
    load has copied but not committed (summarising reads every row version in the range, committed or not), and
    the load commits once it is done. Not `beside` when this load changed the table (ipb.raw_tables): its lock
    would keep the other connection waiting for the commit, which waits for it; the load summarises them itself."""
    index = f"raw.{feed.name}_batch_brin"
    if not beside:
        yield
        conn.execute("select brin_summarize_new_values(%s::regclass)", (index,))
        return
    failed: list[BaseException] = []
    waited = threading.Event()

    def summarise() -> None:
        try:
            with db.connect(role=db.LOADER, autocommit=True) as other:
                # Queued behind a lock that waits for this load (DDL from another process), it would wait forever.
                other.execute(sql.SQL("set lock_timeout = {}").format(sql.Literal(f"{BESIDE_LOCK_TIMEOUT_S}s")))
                other.execute("select brin_summarize_new_values(%s::regclass)", (index,))
        except psycopg.OperationalError:  # the lock timed out, or no second connection: the load does it itself
            waited.set()
        except BaseException as exc:  # raised in the load's thread below
            failed.append(exc)

    worker = threading.Thread(target=summarise, name="ipb-brin", daemon=True)
    worker.start()
    try:
        yield
    finally:
        worker.join()
    if failed:
        raise failed[0]
    if waited.is_set():
        log.info("raw.%s was locked or a second connection failed: the load summarises its block ranges itself",
                 feed.name)
        conn.execute("select brin_summarize_new_values(%s::regclass)", (index,))


def _account(conn: psycopg.Connection, feed: Feed, result: LoadResult) -> None:
    """Count what landed where and enforce rows_in_file = loaded + quarantined inside the load's transaction."""
    table = sql.Identifier("raw", feed.name)
    # One scan counts the rows loaded and, for CLD, those set aside (events other than services; the value as the
    # specification spells it is tested first, far cheaper than folding every row's).
    set_aside = sql.SQL("count(*) filter (where event_type <> 'Service' and lower(btrim(event_type)) <> 'service')"
                        if feed.name == "social_care" else "0")
    loaded, set_aside_rows = conn.execute(sql.SQL("select count(*), {} from {} where _batch_id = %s").format(
        set_aside, table), (result.batch_id,)).fetchone()
    reasons = conn.execute(
        "select reason_code, count(*) from quarantine.rows where batch_id = %s group by 1 order by 2 desc, 1",
        (result.batch_id,),
    ).fetchall()
    result.rows_loaded = loaded
    result.rows_set_aside = set_aside_rows
    result.quarantine_reasons = {code: n for code, n in reasons}
    result.rows_quarantined = sum(result.quarantine_reasons.values())
    if result.rows_in_file != result.rows_loaded + result.rows_quarantined:
        raise RuntimeError(
            f"row accounting failed for batch {result.batch_id}: {result.rows_in_file} in file, "
            f"{result.rows_loaded} loaded, {result.rows_quarantined} quarantined"
        )
    # The table's check constraint enforces the same invariant again at update time.
    conn.execute(
        """update audit.batches set status = 'loaded', rows_in_file = %s, rows_loaded = %s, rows_quarantined = %s,
               rows_set_aside = %s, loaded_at = now() where batch_id = %s""",
        (result.rows_in_file, result.rows_loaded, result.rows_quarantined, result.rows_set_aside, result.batch_id),
    )


# -- SEN2 XML (feed `send`) -----------------------------------------------------------------------------------------
QUARANTINE_COLUMNS = ("batch_id", "feed", "file_name", "row_number", "reason_code", "reason", "all_reason_codes",
                      "record")
# Quarantined persons wait in a private spool (on disk in the state folder past this size, never in /tmp) until the
# COPY of the good persons is done: memory stays flat even when every person of a large file is quarantined.
SPOOL_BYTES = 8 << 20


def _load_sen2_snapshot(feed: Feed, snap: landing.Snapshot, file_name: str, name, known: list[str],
                        run_id: str) -> LoadResult:
    if feed.sender_kind and name.sender not in known:
        exc = FileRejected("unknown_sender", f"sender code in the file name is not a known {feed.sender_kind}")
        return _record_rejection(feed.name, file_name, snap.checksum, exc, run_id, name.sender, name.extract_date)
    try:
        return _load_sen2(feed, snap.path, file_name, name, snap.checksum, run_id)
    except FileRejected as exc:
        # The transaction rolled back: nothing of the file stays but this record of it.
        return _record_rejection(feed.name, file_name, snap.checksum, exc, run_id, name.sender, name.extract_date,
                                 exc.rows_in_file)


def _sen2_fingerprint() -> str:
    """The Person rules as data: the element set and code lists the file was read with."""
    sha = hashlib.sha256(b"sen2_xml\n")
    for name in ("sen2_elements.csv", "sen2_codes.csv"):
        sha.update((contract.contract_dir() / name).read_bytes())
    return sha.hexdigest()


def _load_sen2(feed: Feed, path: Path, file_name: str, name, checksum: str, run_id: str) -> LoadResult:
    """Parse the private copy at `path` of a SEN2 return and load it in one transaction: good persons into
    raw.send (one row each, `_row_number` = the Person's ordinal in the file), the others into quarantine.rows."""
    with db.connect(role=db.LOADER) as conn:
        duplicate = _lock_and_check_duplicate(conn, feed, file_name, name, checksum, run_id)
        if duplicate:
            return duplicate
        changed = _ensure_raw_table(conn, feed)
        batch_id = conn.execute(
            """insert into audit.batches (feed, sender_code, extract_date, file_name, checksum, status, run_id,
                   rules_fingerprint, date_format)
               values (%s, %s, %s, %s, %s, 'loading', %s, %s, 'iso') returning batch_id""",
            (feed.name, name.sender, name.extract_date, file_name, checksum, run_id, _sen2_fingerprint()),
        ).fetchone()[0]
        result = LoadResult(feed.name, file_name, "loaded", batch_id, checksum)
        _set_lineage(conn, feed, batch_id, file_name, checksum, "iso", name.sender, name.extract_date)
        columns = feed.raw_columns
        copy_raw = sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier("raw", feed.name), sql.SQL(", ").join(map(sql.Identifier, ("_row_number", *columns))))
        tmp_dir = config.load().state_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("rb") as fh, tempfile.SpooledTemporaryFile(
                SPOOL_BYTES, mode="w+", encoding="utf-8", newline="", dir=tmp_dir) as spool:
            reader = sen2.Sen2Reader(fh, name.sender, today=None)
            held = csv.writer(spool)
            with conn.cursor() as cur, cur.copy(copy_raw) as copy:
                for person in reader.persons():
                    if person.row is not None:
                        copy.write_row([person.ordinal, *(person.row.get(c) for c in columns)])
                    else:
                        held.writerow([batch_id, feed.name, file_name, person.ordinal, person.reasons[0],
                                       rules.SEN2_READABLE[person.reasons[0]],
                                       "{" + ",".join(person.reasons) + "}",
                                       json.dumps(person.record, ensure_ascii=False)])
            spool.seek(0)
            copy_held = sql.SQL("copy quarantine.rows ({}) from stdin with (format csv)").format(
                sql.SQL(", ").join(map(sql.Identifier, QUARANTINE_COLUMNS)))
            with conn.cursor() as cur, cur.copy(copy_held) as copy:
                for chunk in iter(lambda: spool.read(CHUNK), ""):
                    copy.write(chunk)
        result.rows_in_file = reader.persons_in_file
        result.dropped_columns = reader.dropped
        conn.execute("update audit.batches set dropped_columns_list = %s where batch_id = %s",
                     (",".join(reader.dropped) or None, batch_id))
        with _summarising_batch_ranges(conn, feed, beside=not changed):
            _account(conn, feed, result)
        conn.commit()
    log.info("loaded %s: batch %s, %s persons in file, %s loaded, %s quarantined (SEN2 %s)", file_name, batch_id,
             result.rows_in_file, result.rows_loaded, result.rows_quarantined, reader.release)
    return result
