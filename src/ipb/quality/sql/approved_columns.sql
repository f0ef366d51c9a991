{#- Every column of every analyst-visible table (`schemas`) is in `approved` [(schema, table, column)], from
    expectations/approved_columns.yml. -#}
{% from '_macros.sql' import values_table %}
with discovered as (
    {%- with column_filter = "true" %}
        {% include '_catalogue.sql' %}
    {%- endwith %}
),

approved as (
    select *
    from {{ values_table(approved, [('schema_name', 'text'), ('table_name', 'text'), ('column_name', 'text')], 'v')
        | sql }}
)

select
    d.schema_name || '.' || d.table_name || '.' || d.column_name as location,
    1 as n,
    'column not approved for analysts (expectations/approved_columns.yml)' as detail,
    true as breach
from discovered as d
left join approved as a
    on
        d.schema_name = a.schema_name
        and d.table_name = a.table_name
        and d.column_name = a.column_name
where a.column_name is null
union all
select
    count(*) || ' columns discovered' as location,
    0 as n,
    null as detail,
    false as breach
from discovered
