{#- One small-number rule on one published report (`relation`), below national level (not `national_when`):
    `test` count (`column` is *, 0 or a multiple of 5 from 10), rate (`column` is * whenever `count_column` is) or
    national_only (`column` is empty). -#}
select
    {%- if test == 'count' %}
        {{ (relation ~ '.' ~ column ~ ': count not *, 0 or a multiple of 5 from 10') | lit }} as location,
    {%- elif test == 'rate' %}
        {{ (relation ~ '.' ~ column ~ ': rate shown for a suppressed count') | lit }} as location,
    {%- else %}
        {{ (relation ~ '.' ~ column ~ ': exact count below national level') | lit }} as location,
    {%- endif %}
    count(*) as n,
    'cells below national level' as detail,
    count(*) > 0 as breach
from {{ relation | ident }} as t
cross join lateral (select t.{{ column | ident }}::text as v) as c
where
    not coalesce(({{ national_when | sql }}), false)
    {%- if test == 'count' %}
        and not (
            case
                when c.v is null or c.v = '*' then true
                when c.v ~ '^[0-9]+$' then c.v::numeric = 0 or (c.v::numeric >= 10 and mod(c.v::numeric, 5) = 0)
                else false
            end
        )
    {%- elif test == 'rate' %}
        and t.{{ count_column | ident }}::text = '*' and c.v is distinct from '*'
    {%- else %}
    and c.v is not null
    {%- endif %}
