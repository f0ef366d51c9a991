"""The vectorised screen (ipb.ingest.screen) runs the row rules' own SQL in DuckDB with DuckDB twins of util.*
(src/ipb/sql/duckdb/util.sql). Every feed's rules run in both engines over a corpus (the fixtures, feedrows'
rows, and edge values for dates, amounts, units, timestamps and codes): on every row the screen can judge
(not `uncertain`) the reason codes must be identical, and on every row PostgreSQL quarantines the screen must flag
it (a twin may be stricter, never more lenient: a row the screen passes is loaded unchecked)."""

from __future__ import annotations

import csv
import itertools
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ipb import contract, db, feeds
from ipb.ingest import filecheck, rules, screen
from ipb.raw_tables import row_hash
from tests import feedrows

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = date.today()  # PostgreSQL judges by current_date
PARAMS = {"sender": "886", "known_senders": ["886", "850", "QKS"], "known_sub_icbs": ["91Q"]}

DATES = ["2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "31/02/2024", "29/02/2024", "2024-1-5", "5/1/2024",
         "05/01/2024", " 2024-01-05 ", "0001-01-01", "1899-12-31", "1900-01-01", "9999-12-31", "0000-01-01",
         "2024-13-01", "2024-00-10", "2024-01-32", "infinity", "epoch", "2024-01-05T00:00", "20240105", "",
         "2030-01-01", "1905-06-07", "2007-06-07", "1900-1-1", "1/1/1900", "31/12/9999", "2024/01/05", "١٢-٠١-٢٠٢٤",
         # the screen's round-trip parse (a text that casts to a date and reads back as itself)
         "-infinity", "2024-01-05 (BC)", "+2024-01-05", "2024-01-05x", "2024 01 05", "2024.01.05", "１９９０-01-01",
         "\u00a02024-01-05", "2024-01-05\t", "02024-01-05", "1900-01-01 ", "  5/1/2024  ", "05/01/24", "2024-02-30"]
MONEY = ["12.5", " 12.5 ", "1e3", "-0", "-0.00", "£5", "5.001", "0012.50", "9999999.99", "10000000", "-9999999.99",
         "99999999999999999999999", "1,000", ".5", "5.", "-1.00", "0", "", "NaN", "Infinity", "٣"]
UNITS = ["10", "0", "0.004", "0.005", "1000", "1000.004", "1000.005", "1000.01", "-1", "-0", "9999.999", "1e3",
         " 7.5 ", "", "12345", "0.5", "00010"]
TIMESTAMPS = ["2026-11-21T22:00:00Z", "2026-11-21 22:00:00", "2026-11-21T22:00", "2026-11-21", "2026-11-21T22:00:00+01",
              "2026-11-21T22:00:00+0130", "2026-11-21T22:00:00-14:00", "2026-11-21T22:00:00.123456Z",
              "2026-11-21T24:00:00Z", "2026-02-30T10:00:00Z", "1900-01-01T00:00:00Z", "1899-12-31T23:00:00-02:00",
              "9999-12-30T23:59:59Z", "9999-12-31T00:00:00Z", "2026-11-21 22:00:00 Europe/London", "epoch",
              "infinity", "21/11/2026 22:00", "2026-11-21T22:00:00.1234567Z", ""]
CODES = ["SERVICE", " Service ", "service", "\u212aelvin", "Hourly", "HOURLY", "W\u212aEKLY", "Weekly", "Unknown", "",
         "Direct payment", "direct payment only", "CASSR managed personal budget", "M", "m", "x", "CHC", "PMCB",
         "WHEELCHAIR", "DIRECT_PAYMENT", "NOTIONAL", "2", "9",
         # blanks and spaces as PostgreSQL's btrim sees them (spaces only)
         " ", "   ", "\u00a0", "\t", "\u00a0Service", "Service\u3000", "service\t", "  Hourly"]
POSTCODES = ["ME14 1XX", "me141xx", "ME14 1XX ", "GIR0AA", "ME14 ıXX", "ßW1 1AA", "M1 1AA", "X", ""]
NHS = ["9434765919", "943 476 5919", "9434765918", "943476591", "", "１２３４５６７８９０"]


def _raw(feed: str, row: dict[str, str]) -> dict[str, str | None]:
    by_norm = {contract.normalise(k): v for k, v in row.items()}
    return {c: (by_norm.get(c) or None) for c in feeds.LOADABLE[feed].raw_columns}


def _fixture_rows(feed: str) -> list[dict[str, str | None]]:
    folder = {"social_care": "cld", "send_budget": "send_budget"}.get(feed)
    out = []
    for path in sorted((FIXTURES / folder).glob("*.csv")) if folder else []:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            out += [_raw(feed, r) for r in csv.DictReader(fh)]
    return out


def corpus(feed: str) -> list[dict[str, str | None]]:
    base = [_raw(feed, feedrows.ROWS[feed](i)) for i in range(3)] if feed in feedrows.ROWS else [
        {"nhs_number": v or None} for v in NHS]
    rows = list(base) + _fixture_rows(feed)
    edits: list[tuple[tuple[str, ...], list[str]]] = [
        (rules.DATE_COLUMNS[feed], DATES), (rules.MONEY_COLUMNS[feed], MONEY), (rules.UNITS_COLUMNS[feed], UNITS),
        (rules.TIMESTAMP_COLUMNS[feed], TIMESTAMPS), (tuple(screen.folded_columns(feed)), CODES + POSTCODES),
        (tuple(c for c in feeds.LOADABLE[feed].raw_columns if "nhs" in c), NHS),
    ]
    for columns, values in edits:
        for column, value, template in itertools.product(columns, values, base[:2]):
            rows.append({**template, column: value or None})
    last = feeds.LOADABLE[feed].raw_columns[-1]
    rows.append({**base[0], last: "x" * (rules.MAX_FIELD_CHARS + 1)})
    # More bytes than the limit in fewer characters (the screen counts bytes first): within it, and past it.
    rows.append({**base[0], last: "\u00e9" * rules.MAX_FIELD_CHARS})
    rows.append({**base[0], last: "\u00e9" * (rules.MAX_FIELD_CHARS + 1)})
    return rows


def _params(feed: str) -> dict:
    return {**PARAMS, "sender": "QKS" if feed == "nhs_phb" else "886", **rules.code_list_params(feed)}


def _postgres(conn: psycopg.Connection, feed: str, rows: list[dict], date_format: str) -> list[list[str]]:
    columns = feeds.LOADABLE[feed].raw_columns
    conn.execute(sql.SQL("create temp table corpus (_n int, _date_format text, {})").format(
        sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)))
    with conn.cursor().copy(sql.SQL("copy corpus (_n, _date_format, {}) from stdin").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
        for n, row in enumerate(rows):
            copy.write_row([n, date_format, *(row[c] for c in columns)])
    conn.execute("set local timezone = 'UTC'")
    got = conn.execute(
        f"select {rules.reasons_array(feed)} from (select *, {rules.typed_columns(feed)} from corpus offset 0) as r"
        " order by _n", _params(feed)).fetchall()
    conn.execute("drop table corpus")
    return [r[0] for r in got]


def _duckdb(feed: str, rows: list[dict], date_format: str) -> list[tuple[list[str], bool, bool]]:
    columns = feeds.LOADABLE[feed].raw_columns
    with screen.connect() as duck:
        duck.execute("create table corpus (_n integer, _date_format varchar, "
                     + ", ".join(f"{c} varchar" for c in columns) + ")")
        duck.executemany(f"insert into corpus values ({', '.join(['?'] * (len(columns) + 2))})",
                         [[n, date_format, *(row[c] for c in columns)] for n, row in enumerate(rows)])
        params = _params(feed)
        judged = screen.judged(feed, params, TODAY, date_format, "corpus", explain=True)
        return duck.execute(f"select _reasons, _suspect, _uncertain from ({judged}) order by _n").fetchall()


@pytest.mark.parametrize("feed", ["nhs_phb", "social_care", "send_budget", "national_opt_out"])
def test_rules_agree_in_both_engines(fresh_db: str, feed: str) -> None:
    db.bootstrap()
    rows = corpus(feed)
    for date_format in ("iso", "dmy"):
        with psycopg.connect(fresh_db) as conn:
            conn.execute("set timezone = 'UTC'")
            # The rules judge birth dates against current_date: the screen is given the same day.
            postgres = _postgres(conn, feed, rows, date_format)
        duck = _duckdb(feed, rows, date_format if feed != "national_opt_out" else "iso")
        today = date.today()
        assert len(postgres) == len(duck) == len(rows)
        judged = 0
        for n, (pg, (dk, flagged, uncertain)) in enumerate(zip(postgres, duck, strict=True)):
            if pg:
                assert flagged, f"{feed} row {n}: PostgreSQL quarantines ({pg}) but the screen passes it"
            if not uncertain:
                judged += 1
                assert list(dk) == list(pg), f"{feed} row {n} ({date_format}, {today}): {dk} != {pg}"
        assert judged > len(rows) * 0.8  # the screen judges most rows itself
        assert any(postgres) and (date_format == "dmy" or not all(postgres))


@pytest.mark.fast
def test_row_hash_is_one_definition_in_python_duckdb_and_the_table() -> None:
    feed = feeds.SOCIAL_CARE
    values = [None if i % 3 == 0 else f"v{i} é" for i in range(len(feed.raw_columns))]
    with screen.connect() as duck:
        duck.execute("create table t as select " + ", ".join(
            f"{'null::varchar' if v is None else repr(v)} as {c}" for c, v in zip(feed.raw_columns, values,
                                                                                   strict=True)))
        got = duck.execute(f"select md5({screen.row_line(feed)})::uuid::varchar from t").fetchall()[0][0]
    assert got == row_hash(values)


def test_row_hash_in_postgres_matches_python(fresh_db: str) -> None:
    db.bootstrap()
    feed = feeds.SOCIAL_CARE
    values = [None if i % 3 == 0 else f"v{i} é" for i in range(len(feed.raw_columns))]
    with psycopg.connect(fresh_db) as conn:
        conn.execute("set timezone = 'UTC'")
        for k, v in {"ipb.batch_id": "1", "ipb.file_name": "f", "ipb.checksum": "c", "ipb.sender": "886",
                     "ipb.extract_date": "2026-11-22", "ipb.row_base": "0"}.items():
            conn.execute("select set_config(%s, %s, true)", (k, v))
        cols = sql.SQL(", ").join(map(sql.Identifier, feed.raw_columns))
        got = conn.execute(sql.SQL("insert into raw.social_care ({}) values ({}) returning _row_hash::text").format(
            cols, sql.SQL(", ").join(sql.Placeholder() * len(values))), values).fetchone()[0]
        assert got == row_hash(values)
        # An update recomputes it, as the generated column it replaces did.
        changed = conn.execute("update raw.social_care set la_code = 'X' returning _row_hash::text").fetchone()[0]
        assert changed == row_hash(["X", *values[1:]])
        conn.rollback()


def test_a_screen_error_while_rows_stream_loads_the_file_by_postgres(fresh_db: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A DuckDB error after the first batches (out of memory on a large file, say) reaches the loader through Arrow
    as an OSError, not a duckdb.Error: the file still loads, by the PostgreSQL path, and nothing the screen had
    copied stays."""
    from ipb.ingest import load_file

    db.bootstrap()
    with (FIXTURES / "cld" / "social_care_886_20261122.csv").open(newline="", encoding="utf-8") as fh:
        header, *body = list(csv.reader(fh))
    n = 3 * screen.BATCH_ROWS
    path = tmp_path / "social_care_886_20261122.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for i in range(n):
            row = list(body[i % len(body)])
            row[header.index("First Name")] = "BOOM" if i == n - 10 else f"P{i}"
            out.writerow(row)
    real_line = screen.row_line
    monkeypatch.setattr(screen, "row_line", lambda feed: (
        f"case when first_name = 'BOOM' then cast(first_name as integer)::varchar else {real_line(feed)} end"))
    result = load_file("social_care", path)
    assert (result.status, result.rows_in_file) == ("loaded", n)
    assert result.rows_loaded + result.rows_quarantined == n
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("select count(*), count(distinct _row_number) from raw.social_care where _batch_id = %s",
                              (result.batch_id,)).fetchone()
        assert stored == (result.rows_loaded, result.rows_loaded)


def test_the_screens_copy_text_reads_back_every_value_and_its_hash(fresh_db: str) -> None:
    """The screen hands COPY the line it hashes, in text format with the hash's separators: whatever a value holds
    (a backslash, COPY's own escapes and end-of-data marker, line breaks, tabs, quotes), PostgreSQL reads back the
    value as it was, NULL as NULL, with the row's number and the hash of its values."""
    feed = feeds.SOCIAL_CARE
    awkward = ["x,y", 'say "hi"', "two\nlines", "cr\r", "crlf\r\n", "back\\slash", "\\N", "\\.", "\\",
               "a\\nb", "tab\there", "\u00e9\u00e8", " spaced ", "plain"]
    width = len(feed.raw_columns)
    rows = [[None if (r + c) % 5 == 0 else awkward[(r * width + c) % len(awkward)] for c in range(width)]
            for r in range(len(awkward))]
    rows.append(["plain"] * width)  # a line with nothing to escape
    with screen.connect() as duck:
        duck.execute("create table t (" + ", ".join(f"{c} varchar" for c in feed.raw_columns) + ")")
        duck.executemany(f"insert into t values ({', '.join('?' * width)})", rows)
        copy = duck.sql(f"select {screen.copy_text(screen.row_line(feed))} from t").to_arrow_table()
    batch = copy.combine_chunks().to_batches()[0]
    text = bytes(screen._numbered(batch.column("_text"), batch.column("_hash"), 41))
    assert text.count(b"\n") == len(rows)
    with psycopg.connect(fresh_db) as conn:
        conn.execute("create temp table t (_row_number bigint, " + ", ".join(f"{c} text" for c in feed.raw_columns)
                     + ", _row_hash uuid)")
        cols = ", ".join(screen.copy_columns(feed))
        with conn.cursor().copy(f"copy t ({cols}) from stdin with ({screen.COPY_OPTIONS})") as out:
            out.write(text)
        got = conn.execute(f"select _row_number, {', '.join(feed.raw_columns)}, _row_hash::text from t"
                           " order by _row_number").fetchall()
    assert [r[0] for r in got] == list(range(41, 41 + len(rows)))
    assert [list(r[1:-1]) for r in got] == rows
    assert [r[-1] for r in got] == [row_hash(r) for r in rows]


def test_a_file_holding_the_screens_separators_loads_by_postgres_with_its_values(fresh_db: str,
                                                                                 tmp_path: Path) -> None:
    """The screen's COPY text separates values with x1f and marks NULL with x1e: a file holding either is not plain
    (the file checks send it to the PostgreSQL path), and its values load as they were sent."""
    from ipb.ingest import load_file

    db.bootstrap()
    with (FIXTURES / "cld" / "social_care_886_20261122.csv").open(newline="", encoding="utf-8") as fh:
        header, *body = list(csv.reader(fh))
    names = ["A\x1fB", "\x1e", "Plain"]
    path = tmp_path / "social_care_886_20261122.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(header)
        for i, name in enumerate(names):
            out.writerow([name if h == "First Name" else v for h, v in zip(header, body[i], strict=True)])
    scan = filecheck.Scan()
    scan.feed(path.read_bytes())
    with path.open("rb") as fh:
        assert not scan.facts(fh, feeds.SOCIAL_CARE, "checksum").plain_csv
    result = load_file("social_care", path)
    assert (result.status, result.rows_loaded) == ("loaded", len(names))
    with psycopg.connect(fresh_db) as conn:
        stored = conn.execute("select first_name from raw.social_care order by _row_number").fetchall()
    assert [s[0] for s in stored] == names


def test_the_range_of_a_computed_amount_is_util_to_moneys_in_both_engines(fresh_db: str) -> None:
    """A CLD weekly cost (Unit Cost x Planned units per week) must be an amount util.to_money would accept: the rule
    tests it by value (util.in_money_range), not by writing it out and parsing it, with the same outcome."""
    values = ["0", "-0.004", "123.455", "9999999.99", "9999999.994", "9999999.995", "10000000", "-9999999.99",
              "-9999999.995", "-10000000.01", "99999999999.9999"]
    db.bootstrap()
    with psycopg.connect(fresh_db) as conn:
        postgres = conn.execute(
            "select util.in_money_range(round(v::numeric, 2)), util.to_money(round(v::numeric, 2)::text) is not null"
            " from unnest(%s::text[]) with ordinality as t(v, n) order by n", (values,)).fetchall()
    in_range = [True] * 5 + [False, False, True, False, False, False]
    assert [a for a, _ in postgres] == [b for _, b in postgres] == in_range
    with screen.connect() as duck:
        twin = [duck.execute("select util.in_money_range(round(cast(? as decimal(18, 4)), 2))", [v]).fetchone()[0]
                for v in values]
    assert twin == [a for a, _ in postgres]
