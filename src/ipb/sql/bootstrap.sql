-- Zones of the warehouse (IG.md): created idempotently by `ipb.db.bootstrap` before every load.
-- raw tables are created by the loader from the feed registry; dbt owns restricted, build and published schemas.
create schema if not exists raw;
create schema if not exists quarantine;
create schema if not exists audit;

-- A lineage setting of the load in progress (set_config(..., true) by ipb.ingest.loader), for the raw tables'
-- column defaults (ipb.raw_tables). Declared immutable so that COPY, which plans its defaults once per statement,
-- reads each setting once per load instead of once per row (0.5 s of CPU in a 1,000,000-row COPY). Only COPY
-- and one-off statements write raw tables: a prepared INSERT reused across loads would keep its first values.
create or replace function raw.load_setting(name text) returns text
language sql immutable parallel safe as $$
    select nullif(current_setting(name, true), '')
$$;

create table if not exists audit.batches (
    batch_id bigserial primary key,
    feed text not null,
    sender_code text,
    extract_date date,
    file_name text not null,
    checksum text not null,
    status text not null check (status in ('loading', 'loaded', 'rejected', 'duplicate')),
    rows_in_file bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0,
    rows_set_aside bigint not null default 0,
    reason_code text,
    reason text,
    run_id text,
    started_at timestamptz not null default now(),
    loaded_at timestamptz,
    constraint batches_accounting check (
        status not in ('loaded') or rows_in_file = rows_loaded + rows_quarantined
    )
);
-- The row rules (and reference codes) a batch was checked by: a later file's rows equal to this batch's rows
-- need no second check while the fingerprint is the same (ipb.ingest.loader._known_good_batch).
alter table audit.batches add column if not exists rules_fingerprint text;
-- Known columns the file carried that the warehouse does not keep (dropped at the door, never stored), and the
-- date format detected for the file ('iso' or 'dmy'): FEEDS.md common rules.
-- (comma-separated text, not an array: dbt unit-test fixtures cannot mock array columns.)
alter table audit.batches add column if not exists dropped_columns_list text;
alter table audit.batches add column if not exists date_format text;
-- One loaded batch per checksum and feed: the checksum registry that makes a second load a no-op.
create unique index if not exists batches_loaded_checksum
    on audit.batches (feed, checksum) where status = 'loaded';

create table if not exists quarantine.rows (
    batch_id bigint not null,
    feed text not null,
    file_name text not null,
    row_number bigint not null,
    reason_code text not null,
    reason text not null,
    all_reason_codes text[] not null,
    record jsonb,
    quarantined_at timestamptz not null default now(),
    primary key (batch_id, row_number)
);

-- The current snapshot per sender, without ambiguity: the latest extract date wins (a late older file never
-- overwrites a newer one); a resend of the same extract date wins over the earlier load of that date.
create or replace view audit.current_batches as
select distinct on (feed, sender_code) feed, sender_code, batch_id, extract_date, file_name, loaded_at
from audit.batches
where status = 'loaded'
order by feed, sender_code, extract_date desc, batch_id desc;

-- IG leads read counts, never the quarantined values.
create or replace view quarantine.reason_counts as
select b.feed, b.sender_code, b.extract_date, q.batch_id, q.file_name, q.reason_code, q.reason,
       count(*) as row_count
from quarantine.rows as q
join audit.batches as b using (batch_id)
group by 1, 2, 3, 4, 5, 6, 7;

create table if not exists audit.validation_runs (
    validation_run_id bigserial primary key,
    run_id text not null,
    checkpoint text not null,
    success boolean not null,
    expectations_evaluated int not null,
    expectations_failed int not null,
    published boolean not null,
    decision text not null,
    data_docs_path text,
    validated_at timestamptz not null default now()
);

create table if not exists audit.validation_results (
    validation_run_id bigint not null references audit.validation_runs on delete cascade,
    suite text not null,
    expectation text not null,
    check_name text not null,
    success boolean not null,
    element_count bigint,
    unexpected_count bigint,
    observed text
);

-- Batches whose rows a raw-row check of the gate passed, with the fingerprint of the rules it applied: the next gate
-- checks only the rows of a new batch that differ from them (ipb.quality.checks.raw_rules).
create table if not exists audit.gate_checked_batches (
    check_key text not null,
    rules_fingerprint text not null,
    batch_id bigint not null references audit.batches,
    run_id text not null,
    checked_at timestamptz not null default now(),
    primary key (check_key, rules_fingerprint, batch_id)
);

create table if not exists audit.pipeline_events (
    event_id bigserial primary key,
    run_id text,
    dag_id text,
    task_id text,
    event text not null,
    detail text,
    recorded_at timestamptz not null default now()
);
