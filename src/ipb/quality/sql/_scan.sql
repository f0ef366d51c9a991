{#- Count, per analyst-visible column, values for which `predicate` (SQL text on the text value v.x) holds: one pass
    per table, each table's query built from the catalogue and run by quality.query_rows. Parameters:
    `what` (the breach detail), `column_filter` (which columns, see _catalogue.sql), `shape` (optional: a cheap
    condition every offending value meets, e.g. its length, tested first so that the costly predicate runs on few
    values) and `distinct` (the predicate runs once per distinct shaped value of a column, for shapes that only
    low-cardinality values pass, such as name-shaped text, not once per row). -#}
{% set test %}{% if shape %}({{ shape | sql }}) and {% endif %}({{ predicate | sql }}){% endset -%}
with cols as (
    {% include '_catalogue.sql' %}
),

shaped_cols as (
    select
        cols.*,
        format(
            '(case when %s then t.%I::text end)',
            replace({{ (shape or 'true') | lit }}, 'v.x', format('(t.%I::text)', cols.column_name)),
            cols.column_name
        ) as shaped
    from cols
),

tables as (
    select
        schema_name,
        table_name,
        string_agg(shaped, ', ' order by attnum) as shaped_list,
        string_agg(format('(%s)', shaped), ', ' order by attnum) as set_list,
        string_agg(format('when grouping(%s) = 0 then %L', shaped, column_name), ' ' order by attnum) as label_list,
        string_agg(format('%L', column_name), ', ' order by attnum) as name_list,
        string_agg(
            format('count(*) filter (where %s)', replace({{ test | lit }}, 'v.x', format('(t.%I::text)', column_name))),
            ', ' order by attnum
        ) as count_list
    from shaped_cols
    group by schema_name, table_name
),

hits as (
    select
        h.location,
        h.n
    from tables
    cross join lateral quality.query_rows(
        {%- if distinct %}
        -- One pass with a grouping set per column: each column's value (null unless shaped) is grouped on its own,
        -- without a row per value (an unpivot of every text value took 40% longer at national scale).
            format(
                'select %L || v.c, sum(v.n)::bigint, null::text, true from (select case %s end as c, coalesce(%s) as x,'
                || ' count(*) as n from %I.%I as t group by grouping sets (%s)) as v where v.x is not null and %s'
                || ' group by v.c',
                tables.schema_name || '.' || tables.table_name || '.',
                tables.label_list,
                tables.shaped_list,
                tables.schema_name,
                tables.table_name,
                tables.set_list,
                {{ predicate | lit }}
            )
        {%- else %}
        -- One row-wise pass: a filtered count per column (no unpivot, so no row per value).
            format(
                'select %L || u.c, u.n, null::text, true from (select array[%s] as cs, array[%s] as ns from %I.%I as t)'
                || ' as s cross join lateral unnest(s.cs, s.ns) as u (c, n) where u.n > 0',
                tables.schema_name || '.' || tables.table_name || '.',
                tables.name_list,
                tables.count_list,
                tables.schema_name,
                tables.table_name
            )
        {%- endif %}
    ) as h
)

select
    location,
    n,
    {{ what | lit }} as detail,
    true as breach
from hits
union all
select
    count(*) || ' columns in ' || count(distinct schema_name || '.' || table_name) || ' tables scanned' as location,
    0 as n,
    null as detail,
    false as breach
from cols
