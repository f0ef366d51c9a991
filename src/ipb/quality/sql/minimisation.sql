{#- Age bands and postcode districts only: no column named like a date of birth or an exact age; columns named
    *age_band hold IG age bands (`age_bands`); postcode columns hold districts. -#}
select *
from (
    select
        c.schema_name || '.' || c.table_name || '.' || c.column_name as location,
        1 as n,
        'column name says date of birth or exact age' as detail,
        true as breach
    from (
        {%- with column_filter = "true" %}
            {% include '_catalogue.sql' %}
        {%- endwith %}
    ) as c
    where c.column_name ~* '(birth|(^|_)dob($|_)|^age$|(^|_)age_(years|in_years|at_[a-z_]+)$)'
) as n
union all
select *
from (
    {%- with
        predicate = "v.x not in (" ~ (age_bands | lits) ~ ")",
        shape = none,
        what = "values that are not an IG age band",
        column_filter = "a.attname ~* 'age_band$'",
        distinct = false
    %}
        {% include '_scan.sql' %}
    {%- endwith %}
) as a
union all
select *
from (
    {%- with
        predicate = "v.x !~ '^[A-Z]{1,2}[0-9][A-Z0-9]?$'",
        shape = none,
        what = "values that are not a postcode district",
        column_filter = "a.attname ~* 'postcode'",
        distinct = false
    %}
        {% include '_scan.sql' %}
    {%- endwith %}
) as d
