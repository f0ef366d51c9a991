"""The raw zone's tables, one per loadable feed: the contract's columns as text, lineage columns that default from
the load's transaction-local settings (so a plain COPY fills them) and a row hash. Used by the schema bootstrap
(`ipb.db`) and by the loader (`ipb.ingest.loader`); it imports neither, so the two do not import each other.

The row hash is md5 over the row's own columns as sent (`row_hash_sql`, and `row_hash` for Python). The loader
supplies it with each row (its vectorised screen computes it beside the rules, on a second core); a row inserted
without one, or updated, gets it from a trigger, so every row has the hash of its values."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import psycopg
from psycopg import sql

from ipb import feeds
from ipb.feeds import Feed

# Separators of the hashed text: between values, and standing for NULL (kept apart from every value).
UNIT_SEPARATOR, NULL_MARK = "\x1f", "\x1e"


def lineage_defaults(feed: Feed) -> dict[str, str]:
    """The lineage columns' defaults: the load's transaction-local settings (ipb.ingest.loader._set_lineage), read
    through raw.load_setting (src/ipb/sql/bootstrap.sql), which COPY evaluates once per statement, not once per row.
    _row_number counts rows in file order from a per-feed sequence (loads of a feed are serialised)."""
    seq = f"raw.{feed.name}_row_seq"
    return {
        "_batch_id": "raw.load_setting('ipb.batch_id')::bigint",
        "_file_name": "raw.load_setting('ipb.file_name')",
        "_file_checksum": "raw.load_setting('ipb.checksum')",
        "_row_number": f"nextval('{seq}') - raw.load_setting('ipb.row_base')::bigint",
        "_loaded_at": "now()",
        "_sender_code": "raw.load_setting('ipb.sender')",
        "_extract_date": "raw.load_setting('ipb.extract_date')::date",
        "_date_format": "raw.load_setting('ipb.date_format')",
    }


def row_hash_sql(feed: Feed, prefix: str = "") -> sql.Composable:
    """md5 of the row's own columns as sent (NULL kept apart from every value): equal rows, equal hashes."""
    parts = [sql.SQL("coalesce({}{}, E'\\x1e')").format(sql.SQL(prefix), sql.Identifier(c)) for c in feed.raw_columns]
    return sql.SQL("md5({})::uuid").format(sql.SQL(" || E'\\x1f' || ").join(parts))


def row_hash(values: Sequence[str | None]) -> str:
    """`row_hash_sql` of one row's raw column values (in feed.raw_columns order), as uuid text."""
    text = UNIT_SEPARATOR.join(NULL_MARK if v is None else v for v in values)
    h = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _hash_trigger(conn: psycopg.Connection, feed: Feed) -> None:
    """(Re)create the trigger that fills `_row_hash` on an insert without one and on every update."""
    table = sql.Identifier("raw", feed.name)
    function = sql.Identifier("raw", f"{feed.name}_row_hash")
    conn.execute(sql.SQL(
        "create or replace function {}() returns trigger language plpgsql as $$ begin "
        "new._row_hash := {}; return new; end $$").format(function, row_hash_sql(feed, "new.")))
    conn.execute(sql.SQL("drop trigger if exists row_hash_on_insert on {}").format(table))
    conn.execute(sql.SQL("drop trigger if exists row_hash_on_update on {}").format(table))
    # The WHEN clause is evaluated in C: rows that arrive with their hash (the loader's) cost next to nothing.
    conn.execute(sql.SQL("create trigger row_hash_on_insert before insert on {} for each row "
                         "when (new._row_hash is null) execute function {}()").format(table, function))
    conn.execute(sql.SQL("create trigger row_hash_on_update before update on {} for each row "
                         "execute function {}()").format(table, function))


def ensure_raw_table(conn: psycopg.Connection, feed: Feed) -> bool:
    """Create `raw.<feed>` if missing, or bring a table from an earlier contract up to date (new columns, row
    hash over the full column list, supplied rather than generated, lineage defaults). Run as the loader, which owns
    the raw tables. True when it changed the table (its lock is then held until the transaction ends)."""
    # DDL only when missing: even an "if not exists" takes locks that can deadlock with autovacuum.
    defaults = lineage_defaults(feed)
    exists, has_brin, has_trigger, batch_default = conn.execute(
        "select to_regclass(%s) is not null, to_regclass(%s) is not null, "
        "exists (select from pg_trigger where tgrelid = to_regclass(%s) and tgname = 'row_hash_on_update'), "
        "(select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef as d join pg_attribute as a"
        " on a.attrelid = d.adrelid and a.attnum = d.adnum"
        " where d.adrelid = to_regclass(%s) and a.attname = '_batch_id')",
        (f"raw.{feed.name}", f"raw.{feed.name}_batch_brin", f"raw.{feed.name}", f"raw.{feed.name}")).fetchone()
    table = sql.Identifier("raw", feed.name)
    if exists:
        have = {r[0]: r[1] for r in conn.execute(
            "select attname, attgenerated from pg_attribute where attrelid = to_regclass(%s) and attnum > 0"
            " and not attisdropped", (f"raw.{feed.name}",))}
        missing = [c for c in feed.raw_columns if c not in have]
        generated = have.get("_row_hash", "") != ""
        folded = "load_setting" in (batch_default or "")
        if has_brin and has_trigger and folded and not missing and not generated \
                and {"_row_hash", "_date_format"} <= set(have):
            return False
        # A warehouse from an earlier contract: add the new columns (NULL for rows already loaded); the row hash
        # becomes a plain column kept by the trigger (its values stay), recomputed once if the columns changed.
        for column in missing:
            conn.execute(sql.SQL("alter table {} add column {} text").format(table, sql.Identifier(column)))
        if "_date_format" not in have:
            conn.execute(sql.SQL("alter table {} add column _date_format text").format(table))
        if not folded or "_date_format" not in have:
            for column, default in defaults.items():
                conn.execute(sql.SQL("alter table {} alter column {} set default {}").format(
                    table, sql.Identifier(column), sql.SQL(default)))
        if generated:
            conn.execute(sql.SQL("alter table {} alter column _row_hash drop expression").format(table))
        elif "_row_hash" not in have:
            conn.execute(sql.SQL("alter table {} add column _row_hash uuid").format(table))
        _hash_trigger(conn, feed)
        if missing or "_row_hash" not in have:
            conn.execute(sql.SQL("update {} set _row_hash = null").format(table))  # the trigger recomputes it
        if has_brin:
            return True
    seq = sql.Identifier("raw", f"{feed.name}_row_seq")
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in feed.raw_columns)
    # Lineage columns default from the load's settings, so a plain COPY of the file's own columns fills them.
    conn.execute(sql.SQL("create sequence if not exists {} cache 1").format(seq))
    conn.execute(
        sql.SQL(
            """create table if not exists {table} (
                _batch_id bigint not null default {_batch_id},
                _file_name text not null default {_file_name},
                _file_checksum text not null default {_file_checksum},
                _row_number bigint not null default {_row_number},
                _loaded_at timestamptz not null default {_loaded_at},
                _sender_code text default {_sender_code},
                _extract_date date not null default {_extract_date},
                _date_format text default {_date_format},
                {cols},
                _row_hash uuid
            )"""
        ).format(table=table, cols=cols, **{c: sql.SQL(d) for c, d in defaults.items()})
    )
    if not exists:
        _hash_trigger(conn, feed)
    # BRIN on the append-only batch id: near-free to maintain during COPY, lets per-batch work skip old nights.
    conn.execute(
        sql.SQL("create index if not exists {} on {} using brin (_batch_id)").format(
            sql.Identifier(f"{feed.name}_batch_brin"), table
        )
    )
    return True


def ensure_raw_tables(conn: psycopg.Connection) -> None:
    for feed in feeds.LOADABLE.values():
        ensure_raw_table(conn, feed)
