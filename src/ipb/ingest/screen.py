"""The vectorised screen: DuckDB reads a landed CSV file (in process, two threads), evaluates the feed's row rules
over every row and computes each row's hash, while PostgreSQL copies the rows it streams (two cores at once).

The rules are the ones of ipb.ingest.rules, their SQL text run as it is: `to_duckdb` only binds the parameters
as literals, and src/ipb/sql/duckdb/util.sql gives DuckDB twins of the util.* functions. The screen never decides
alone: a row it flags (`suspect`: a rule fails, or a value it cannot judge exactly, `uncertain`) is checked again
by PostgreSQL with the very same rules, whose reasons are the ones recorded. A row it passes is loaded without a
second look, so a twin may be stricter than PostgreSQL, never more lenient (tests/test_ingest_screen.py).

Used only for files the two parsers read alike (FileFacts.plain_csv); any other file, and any DuckDB error, takes
the loader's PostgreSQL path.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path

from ipb import feeds
from ipb.feeds import Feed
from ipb.ingest import rules

# DuckDB's share of the machine and of its memory (the rows stream; nothing holds the file).
THREADS = 2
MEMORY_LIMIT = "300MB"
BATCH_ROWS = 16384
# Batches from DuckDB ready ahead of the COPY (each ~8 MB of text for CLD): enough to keep both engines busy.
QUEUE_BATCHES = 2
# The longest line the screen reads (a longer one is a DuckDB error: the file then takes the PostgreSQL path), and
# the size of its read buffers (the least DuckDB allows; its default, 16 lines' worth, would be 256 MiB, past
# MEMORY_LIMIT: a file over 256 MiB failed).
MAX_LINE_BYTES = 16 << 20

_PARAM = re.compile(r"%\((\w+)\)s")
_LONGER_THAN = re.compile(r"\blength\((\w+)\) > (\d+)")
# `x = any(%(list)s)` / `x <> all(%(list)s)`: DuckDB plans each one as a join against the unnested list (one MARK
# hash join per test, every row of the file probing each); an IN list of literals is a plain expression.
_QUANTIFIED = re.compile(r"(=\s*any|<>\s*all)\(%\((\w+)\)s\)", re.IGNORECASE)
# Columns PostgreSQL (C locale) case-folds in the rules: DuckDB folds beyond ASCII, so a non-ASCII value there is
# uncertain.
_FOLDED = re.compile(r"\b(?:lower|upper)\((?:btrim\()?(\w+)\)|util\.is_valid_postcode\((\w+)\)")


def _literal(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]::varchar[]"
    if isinstance(value, int):
        return str(value)
    raise TypeError(f"no DuckDB literal for {type(value).__name__}")


def _in_list(match: re.Match, params: dict) -> str:
    negated = match[1].lower().startswith("<>")
    values = params[match[2]]
    if not values:  # x = any('{}') is false, x <> all('{}') true (NULL for a NULL x, as IN)
        return ("not in" if negated else "in") + " (select unnest([]::varchar[]))"
    return ("not in" if negated else "in") + " (" + ", ".join(_literal(str(v)) for v in values) + ")"


def to_duckdb(condition: str, params: dict, today: date) -> str:
    """A rule's PostgreSQL condition as DuckDB SQL: parameters bound as literals (a list compared with ANY/ALL as
    an IN list), `current_date` as the load transaction's date (so both engines judge a birth date against the
    same day), a length limit tested on bytes first."""
    text = _QUANTIFIED.sub(lambda m: _in_list(m, params), condition)
    text = _PARAM.sub(lambda m: _literal(params[m[1]]), text)
    # A value has at least as many bytes as characters, and DuckDB knows its bytes without reading it: characters
    # are counted only in a value with more bytes than the limit (counting every value's took 0.3 s of CPU per
    # 1,000,000 CLD rows).
    text = _LONGER_THAN.sub(r"(strlen(\1) > \2 and length(\1) > \2)", text)
    return re.sub(r"\bcurrent_date\b", f"date '{today.isoformat()}'", text)


def folded_columns(feed: str) -> list[str]:
    found = set()
    for rule in rules.RULES[feed]:
        for m in _FOLDED.finditer(rule.condition):
            found.add(m[1] or m[2])
    return sorted(found & set(feeds.LOADABLE[feed].raw_columns))


def uncertain(feed: str) -> str:
    """DuckDB SQL: true when a value of the row is one the twins cannot judge exactly."""
    # Non-ASCII: more bytes than characters (a test far cheaper than a regex).
    parts = [f"coalesce(strlen({c}) <> length({c}), false)" for c in folded_columns(feed)]
    parts += [f"(not {rules._blank(c)} and not coalesce(util.is_iso_timestamp(btrim({c})), false))"
              for c in rules.TIMESTAMP_COLUMNS[feed]]
    return " or ".join(parts) if parts else "false"


def _condition(rule: rules.Rule, params: dict, today: date) -> str:
    """DuckDB SQL: the rule's condition (`to_duckdb`), for a row with its `_line` (`row_line`)."""
    text = to_duckdb(rule.condition, params, today)
    if rule.code == "field_too_long":
        # No value has more characters than its row's line has bytes: the columns are tested one by one only in
        # a line past the limit (testing all 45 CLD columns on every row took 0.65 CPU-s per 1,000,000 rows).
        return f"(case when strlen(_line) > {rules.MAX_FIELD_CHARS} then ({text}) else false end)"
    return text


def reasons(feed: str, params: dict, today: date) -> str:
    """DuckDB SQL: the codes of the rules a row fails, in rule order (as rules.reasons_array)."""
    parts = [f"case when coalesce(({_condition(r, params, today)}), false) then '{r.code}' end"
             for r in rules.RULES[feed]]
    return "list_filter([" + ", ".join(parts) + "]::varchar[], lambda x: x is not null)"


def suspect(feed: str, params: dict, today: date) -> str:
    """DuckDB SQL: true when any rule fails or a value is uncertain."""
    conds = [f"coalesce(({_condition(r, params, today)}), false)" for r in rules.RULES[feed]]
    return "(" + " or ".join([*conds, f"({uncertain(feed)})"]) + ")"


def typed_columns(feed: str, date_format: str) -> str:
    """rules.typed_columns for a file of one date format: an ISO file's dates are parsed without the DD/MM/YYYY
    branch of util.iso_date_text (the same value: util.to_date trims, as iso_date_text does for 'iso')."""
    text = rules.typed_columns(feed)
    if date_format == "iso":
        text = re.sub(r"util\.to_date\((\w+), _date_format\)", r"util.to_date(\1)", text)
    return text


def row_line(feed: Feed) -> str:
    """DuckDB SQL: the text the raw row hash is the md5 of (ipb.raw_tables.row_hash_sql): the raw values joined by
    the unit separator (x1f), NULL as the record separator (x1e). It is also the row's COPY text (`COPY_OPTIONS`)."""
    parts = ", ".join(f"coalesce({c}, chr(30))" for c in feed.raw_columns)
    return f"concat_ws(chr(31), {parts})"


# The screen hands COPY the very line it hashes, in PostgreSQL's text format with the hash's separators (a plain file
# holds neither: filecheck._Plainness): no per-value export from DuckDB, no CSV writer, no second concatenation
# (0.8 CPU-s per 1,000,000 CLD rows). Text format reads a backslash as an escape, so a line holding a backslash,
# line feed or carriage return has them escaped; COPY compares the NULL mark before it reads escapes.
COPY_OPTIONS = "format text, delimiter E'\\x1f', null E'\\x1e'"


def copy_text(line: str) -> str:
    """DuckDB select-list items: `_text`, the row's `line` as COPY text (escaped only where needed), and `_hash`,
    its md5 and the line feed that ends the row."""
    needs = f"contains({line}, '\\') or contains({line}, chr(10)) or contains({line}, chr(13))"
    escaped = f"replace(replace(replace({line}, '\\', '\\\\'), chr(10), '\\n'), chr(13), '\\r')"
    return f"(case when {needs} then {escaped} else {line} end) as _text, md5({line}) || chr(10) as _hash"


def _util_sql() -> str:
    return resources.files("ipb").joinpath("sql", "duckdb", "util.sql").read_text(encoding="utf-8")


@contextmanager
def connect() -> Iterator:
    import duckdb

    con = duckdb.connect(config={"threads": THREADS, "memory_limit": MEMORY_LIMIT,
                                 "preserve_insertion_order": True, "autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False, "enable_external_access": True})
    try:
        con.execute("set enable_progress_bar = false")  # a load's log is no place for a progress bar
        con.execute(_util_sql())
        yield con
    finally:
        con.close()


def source(path: Path, file_columns: tuple[str | None, ...], raw_columns: tuple[str, ...],
           date_format: str) -> str:
    """DuckDB SQL: the file's data rows with the feed's raw columns (text, NULL for empty, as PostgreSQL's COPY
    with force_null reads them) and `_date_format`. Columns dropped at the door are read and never selected."""
    names = [c or f"_dropped_{i}" for i, c in enumerate(file_columns)]
    columns = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
    quoted = str(path).replace("'", "''")
    read = (f"read_csv('{quoted}', header = false, skip = 1, columns = {columns}, delim = ',', quote = '\"', "
            "escape = '\"', strict_mode = true, auto_detect = false, null_padding = false, ignore_errors = false, "
            f"all_varchar = true, max_line_size = {MAX_LINE_BYTES}, buffer_size = {MAX_LINE_BYTES})")
    kept = set(file_columns)
    select = ", ".join(f"nullif({c}, '') as {c}" if c in kept else f"null::varchar as {c}" for c in raw_columns)
    return f"(select {select}, '{date_format}' as _date_format from {read})"


# A column's trimmed lower-case value and its blank test, which several rules repeat: DuckDB evaluates each
# occurrence (it shares no subexpression across the rules' CASEs), so `judged` computes each once, beside the typed
# values, and the rules read that column.
_REPEATED = re.compile(r"lower\(btrim\((\w+)\)\)|nullif\(btrim\((\w+)\), ''\) is null")


def _hoist(text: str, found: dict[str, str]) -> str:
    def column(m: re.Match) -> str:
        name = f"{m[1]}__lower" if m[1] else f"{m[2]}__blank"
        found[name] = m[0]
        return name

    return _REPEATED.sub(column, text)


def judged(feed: str, params: dict, today: date, date_format: str, rows: str, explain: bool = False) -> str:
    """DuckDB SQL: every column of `rows` (raw values and `_date_format`), `_line` (`row_line`) and `_suspect`;
    with `explain`, also `_reasons` and `_uncertain`. The rules read typed values and repeated expressions computed
    once per row."""
    found: dict[str, str] = {}
    out = f"{_hoist(suspect(feed, params, today), found)} as _suspect"
    if explain:
        out += (f", {_hoist(reasons(feed, params, today), found)} as _reasons, "
                f"{_hoist(uncertain(feed), found)} as _uncertain")
    first = ", ".join([f"{row_line(feeds.LOADABLE[feed])} as _line", typed_columns(feed, date_format),
                       *(f"{e} as {n}" for n, e in found.items())])
    return f"select *, {out} from (select *, {first} from {rows})"


def copy_columns(feed: Feed) -> list[str]:
    """The raw columns a `screen_query`'s COPY text fills, in its order."""
    return ["_row_number", *feed.raw_columns, "_row_hash"]


def screen_query(feed: Feed, path: Path, file_columns: tuple[str | None, ...], date_format: str, params: dict,
                 today: date) -> str:
    """DuckDB SQL: per data row in file order, its COPY text (`copy_columns`, `COPY_OPTIONS`) without the row number
    that `stream` puts in front: `_text`, the raw values (escaped), and `_hash`, their hash and the line feed; and
    `_suspect`."""
    rows = judged(feed.name, params, today, date_format, source(path, file_columns, feed.raw_columns, date_format))
    return f"select {copy_text('_line')}, _suspect from ({rows})"


Chunk = tuple[memoryview, list[int], int]  # COPY text of a batch, offsets of its flagged rows, its number of rows


def _put(out: queue.Queue, stop: threading.Event, item: object) -> None:
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _numbered(text, hashes, first: int) -> memoryview:
    """A batch's COPY text: per row its number (first, first + 1, ...), `_text` and `_hash` (which ends the line)
    joined by the separator, back to back in one Arrow buffer."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # From the numpy buffer itself: pa.array(ndarray) first loads pyarrow's pandas shim (0.15 s, once a process).
    numbers = pa.Array.from_buffers(pa.int64(), len(text), [None, pa.py_buffer(
        np.arange(first, first + len(text), dtype=np.int64))]).cast(pa.string())
    lines = pc.binary_join_element_wise(numbers, text, hashes, "\x1f")
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    offsets = np.frombuffer(lines.buffers()[1], dtype=width)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def _produce(query: str, out: queue.Queue, stop: threading.Event) -> None:
    """Only fetches: DuckDB computes on this thread while it is asked for a batch, and on its other thread only
    meanwhile (building each batch's text here left DuckDB at half speed for 0.2-0.4 s per 1,000,000 CLD rows)."""
    try:
        with connect() as duck:
            for batch in duck.sql(query).to_arrow_reader(BATCH_ROWS):
                if stop.is_set():
                    return
                _put(out, stop, batch)
        _put(out, stop, None)
    except BaseException as exc:  # handed to the consuming thread, which raises it
        _put(out, stop, exc)


@contextmanager
def stream(query: str) -> Iterator[Iterator[Chunk]]:
    """The rows of a `screen_query` as COPY text (`copy_columns`, `COPY_OPTIONS`; `_row_number` 1, 2, ... in file
    order, as the raw table's default would number them at a higher cost), batch by batch, with the offsets
    of the rows it flagged. A thread reads them from DuckDB while the caller turns the previous batch into text
    and copies it, so that DuckDB and PostgreSQL work at once. A DuckDB error is raised in the caller's thread."""
    out: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(query, out, stop), name="ipb-screen", daemon=True)
    worker.start()

    def chunks() -> Iterator[Chunk]:
        import pyarrow as pa
        import pyarrow.compute as pc

        # Arrow's compute functions take 0.15 s to set up on their first call in a process: done here while DuckDB
        # computes the first batch, not after.
        pc.indices_nonzero(pa.array([False])).to_pylist()
        _numbered(pa.array([""]), pa.array([""]), 1)
        rows = 0
        while (batch := out.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            flagged = pc.indices_nonzero(batch.column("_suspect")).to_pylist()
            yield _numbered(batch.column("_text"), batch.column("_hash"), rows + 1), flagged, batch.num_rows
            rows += batch.num_rows

    try:
        yield chunks()
    finally:
        stop.set()
        worker.join()
