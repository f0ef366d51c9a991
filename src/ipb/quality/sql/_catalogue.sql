{#- Columns of every analyst-visible relation (`schemas`), discovered from the catalogue (visible whatever the
    grants), narrowed by `column_filter` (on pg_attribute a, pg_class c, pg_namespace n). -#}
select
    n.nspname as schema_name,
    c.relname as table_name,
    a.attname as column_name,
    a.attnum,
    a.atttypid,
    c.oid as table_oid
from pg_catalog.pg_attribute as a
inner join pg_catalog.pg_class as c on a.attrelid = c.oid
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
where
    n.nspname in ({{ schemas | lits }})
    and c.relkind in ('r', 'v', 'm', 'p', 'f')
    and a.attnum > 0
    and not a.attisdropped
    and ({{ column_filter | sql }})
