"""The raw zone's tables, one per loadable feed: the contract's columns as text, lineage columns that default from
transaction-local settings (so a plain COPY fills them) and a row hash. Used by the schema bootstrap (`ipb.db`)
and by the loader (`ipb.ingest.loader`); it imports neither, so the two do not import each other."""

from __future__ import annotations

import psycopg
from psycopg import sql

from ipb import feeds
from ipb.feeds import Feed


def _row_hash_expr(feed: Feed) -> sql.Composable:
    """md5 of the row's own columns as sent (NULL kept apart from every value): equal rows, equal hashes."""
    parts = [sql.SQL("coalesce({}, E'\\x1e')").format(sql.Identifier(c)) for c in feed.raw_columns]
    return sql.SQL("md5({})::uuid").format(sql.SQL(" || E'\\x1f' || ").join(parts))


def ensure_raw_table(conn: psycopg.Connection, feed: Feed) -> None:
    """Create `raw.<feed>` if missing, or bring a table from an earlier contract up to date (new columns, row
    hash over the full column list). Run as the loader, which owns the raw tables."""
    # DDL only when missing: even an "if not exists" takes locks that can deadlock with autovacuum.
    exists, has_brin = conn.execute("select to_regclass(%s) is not null, to_regclass(%s) is not null",
                                    (f"raw.{feed.name}", f"raw.{feed.name}_batch_brin")).fetchone()
    table = sql.Identifier("raw", feed.name)
    if exists:
        have = {r[0] for r in conn.execute(
            "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped",
            (f"raw.{feed.name}",))}
        missing = [c for c in feed.raw_columns if c not in have]
        if has_brin and not missing and {"_row_hash", "_date_format"} <= have:
            return
        # A warehouse from an earlier contract: add the new columns (NULL for rows already loaded) and the row hash
        # over the full column list, once.
        for column in missing:
            conn.execute(sql.SQL("alter table {} add column {} text").format(table, sql.Identifier(column)))
        if "_date_format" not in have:
            conn.execute(sql.SQL("alter table {} add column _date_format text default "
                                 "nullif(current_setting('ipb.date_format', true), '')").format(table))
        if missing or "_row_hash" not in have:
            conn.execute(sql.SQL("alter table {} drop column if exists _row_hash").format(table))
            conn.execute(sql.SQL("alter table {} add column _row_hash uuid generated always as ({}) stored")
                         .format(table, _row_hash_expr(feed)))
        if has_brin:
            return
    seq = sql.Identifier("raw", f"{feed.name}_row_seq")
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in feed.raw_columns)
    # Lineage columns default from transaction-local settings, so a plain COPY of the file's own columns
    # fills them; _row_number counts rows in file order from a per-feed sequence (loads of a feed are serialised).
    conn.execute(sql.SQL("create sequence if not exists {} cache 1").format(seq))
    conn.execute(
        sql.SQL(
            """create table if not exists {table} (
                _batch_id bigint not null default current_setting('ipb.batch_id')::bigint,
                _file_name text not null default current_setting('ipb.file_name'),
                _file_checksum text not null default current_setting('ipb.checksum'),
                _row_number bigint not null default nextval({seq_text}) - current_setting('ipb.row_base')::bigint,
                _loaded_at timestamptz not null default now(),
                _sender_code text default nullif(current_setting('ipb.sender'), ''),
                _extract_date date not null default current_setting('ipb.extract_date')::date,
                _date_format text default nullif(current_setting('ipb.date_format', true), ''),
                {cols},
                _row_hash uuid generated always as ({row_hash}) stored
            )"""
        ).format(table=table, seq_text=sql.Literal(f"raw.{feed.name}_row_seq"), cols=cols,
                 row_hash=_row_hash_expr(feed))
    )
    # BRIN on the append-only batch id: near-free to maintain during COPY, lets per-batch work skip old nights.
    conn.execute(
        sql.SQL("create index if not exists {} on {} using brin (_batch_id)").format(
            sql.Identifier(f"{feed.name}_batch_brin"), table
        )
    )


def ensure_raw_tables(conn: psycopg.Connection) -> None:
    for feed in feeds.LOADABLE.values():
        ensure_raw_table(conn, feed)
