{#- Every loaded file: rows in file = rows loaded + rows quarantined; for each sender's current snapshot, the raw
    rows (`raw_counts`: rows of location = batch id, n = raw rows, see row_accounting_raw_rows.sql) and the
    quarantined rows agree with the batch log. -#}
{% from '_macros.sql' import batch_label %}
with loaded as (
    select
        batch_id,
        feed,
        sender_code,
        rows_in_file,
        rows_loaded,
        rows_quarantined
    from audit.batches
    where status = 'loaded'
),

current_batches as (
    {% include '_current_batches.sql' %}
),

raw_counts as (
    select
        rc.location::bigint as batch_id,
        rc.n
    from ({{ raw_counts | sql }}) as rc
),

quarantined as (
    select
        batch_id,
        sum(row_count)::bigint as n
    from quarantine.reason_counts
    group by batch_id
)

select
    {{ batch_label('l') | sql }} as location,
    abs(l.rows_in_file - l.rows_loaded - l.rows_quarantined) as n,
    'rows in file ' || l.rows_in_file || ' <> loaded ' || l.rows_loaded || ' + quarantined ' || l.rows_quarantined
        as detail,
    true as breach
from loaded as l
where l.rows_in_file <> l.rows_loaded + l.rows_quarantined
union all
select
    {{ batch_label('l') | sql }} as location,
    abs(coalesce(rc.n, 0) - l.rows_loaded) as n,
    'raw rows ' || coalesce(rc.n, 0) || ', batch log says loaded ' || l.rows_loaded as detail,
    true as breach
from loaded as l
inner join current_batches as cb on l.batch_id = cb.batch_id
left join raw_counts as rc on l.batch_id = rc.batch_id
where coalesce(rc.n, 0) <> l.rows_loaded
union all
select
    {{ batch_label('l') | sql }} as location,
    abs(coalesce(q.n, 0) - l.rows_quarantined) as n,
    'quarantined rows ' || coalesce(q.n, 0) || ', batch log says ' || l.rows_quarantined as detail,
    true as breach
from loaded as l
inner join current_batches as cb on l.batch_id = cb.batch_id
left join quarantined as q on l.batch_id = q.batch_id
where coalesce(q.n, 0) <> l.rows_quarantined
union all
select
    (select count(*) from loaded) || ' loaded files accounted; '
    || (select count(*) from current_batches) || ' current snapshots recounted' as location,
    0 as n,
    null as detail,
    false as breach
