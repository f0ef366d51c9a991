{#- Both build schemas (`schemas`) hold tables, and the gate can read every one (an unreadable table fails). -#}
{% from '_macros.sql' import values_table %}
with rels as (
    select
        n.nspname as schema_name,
        c.relname as table_name,
        c.oid
    from pg_catalog.pg_class as c
    inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
    where n.nspname in ({{ schemas | lits }}) and c.relkind in ('r', 'v', 'm', 'p', 'f')
)

select
    s.schema_name as location,
    count(r.oid) as n,
    'tables built' as detail,
    count(r.oid) = 0 as breach
from {{ values_table(schema_rows, [('schema_name', 'text')], 's') | sql }}
left join rels as r on s.schema_name = r.schema_name
group by s.schema_name
union all
select
    r.schema_name || '.' || r.table_name as location,
    1 as n,
    'the gate cannot read this table' as detail,
    true as breach
from rels as r
where not has_schema_privilege(r.schema_name, 'usage') or not has_table_privilege(r.oid, 'select')
