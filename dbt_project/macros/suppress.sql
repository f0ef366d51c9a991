{#-
    Small-number suppression for published cells (IG.md promise 3), the ONE place it is implemented.

    suppress_cells(cells, value_col, groupings) returns SQL selecting every column of the CTE/relation `cells`
    plus:
      <value_col>_is_primary    1-7 people
      <value_col>_is_secondary  the smallest other non-zero cell of a grouping (a row or a column of the published
                              table) in which exactly one cell is primarily suppressed, so it cannot be recovered
                              by subtraction from the total
      published_<value_col>   text: '*' when suppressed, otherwise rounded to the nearest 5
    groupings: list of lists of column names; each inner list names one row/column of the published table.
    National totals are not passed through this macro: they are published unsuppressed.
-#}
{% macro suppress_cells(cells, value_col, groupings) -%}
    with primary_flags as (
        select
            c.*,
            coalesce(c.{{ value_col }} between 1 and 7, false) as {{ value_col }}_is_primary
        from {{ cells }} as c
    ),
    {%- for grouping in groupings %}
    group_{{ loop.index }} as (
        select
            p.*,
            count(*) filter (where p.{{ value_col }}_is_primary) over (
                partition by {{ grouping | join(', ') }}
            ) as {{ value_col }}_n_primary_{{ loop.index }},
            row_number() over (
                partition by {{ grouping | join(', ') }}
                order by (p.{{ value_col }}_is_primary or coalesce(p.{{ value_col }}, 0) = 0), p.{{ value_col }}
            ) as {{ value_col }}_rank_{{ loop.index }}
        from {{ 'primary_flags' if loop.first else 'group_' ~ (loop.index - 1) }} as p
    ),
    {%- endfor %}
    flagged as (
        select
            g.*,
            (
                not g.{{ value_col }}_is_primary
                and coalesce(g.{{ value_col }}, 0) > 0
                and ({{ _secondary_conditions(value_col, groupings | length) }})
            ) as {{ value_col }}_is_secondary
        from group_{{ groupings | length }} as g
    )
    select
        f.*,
        {{ suppress_value('f.' ~ value_col, 'f.' ~ value_col ~ '_is_primary or f.' ~ value_col ~ '_is_secondary') }}
            as published_{{ value_col }}
    from flagged as f
{%- endmacro %}

{#- One cell: '*' when suppressed, else the count rounded to the nearest 5 (halves away from zero). -#}
{% macro suppress_value(value, suppressed) -%}
    case
        when {{ suppressed }} then '*'
        when {{ value }} is null then null
        else (round({{ value }}::numeric / 5) * 5)::bigint::text
    end
{%- endmacro %}

{#- A rate or share whose numerator or denominator is 1-7 people (or suppressed) is itself '*'. -#}
{% macro suppress_rate(rate, numerator, denominator, suppressed='false', digits=1) -%}
    case
        when {{ suppressed }} or {{ numerator }} between 1 and 7 or {{ denominator }} between 1 and 7 then '*'
        when {{ rate }} is null then null
        else round({{ rate }}::numeric, {{ digits }})::text
    end
{%- endmacro %}

{#- A cell is secondarily suppressed in grouping i when that grouping has exactly one primary cell and it ranks first. -#}
{% macro _secondary_conditions(value_col, n_groupings) -%}
    {%- set conditions = [] -%}
    {%- for i in range(1, n_groupings + 1) -%}
        {%- do conditions.append(
            '(g.' ~ value_col ~ '_n_primary_' ~ i ~ ' = 1 and g.' ~ value_col ~ '_rank_' ~ i ~ ' = 1)'
        ) -%}
    {%- endfor -%}
    {{ conditions | join(' or ') }}
{%- endmacro %}
