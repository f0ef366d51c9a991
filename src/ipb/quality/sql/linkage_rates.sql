{#- Share of all records (`view`: restricted.validation_linkage) linked by each rule within its `bounds`
    [(rule, min, max)], `default_min`-`default_max` for a rule without bounds; at least `min_records` records. -#}
{% from '_macros.sql' import values_table %}
with per_rule as (
    select
        link_rule,
        sum(records)::bigint as records
    from {{ view | ident }}
    group by link_rule
),

total as (select coalesce(sum(records), 0) as records from per_rule),

bounds as (
    select * from {{ values_table(bounds, [('rule', 'text'), ('lo', 'float8'), ('hi', 'float8')], 'v') | sql }}
)

select
    'rule ' || p.link_rule as location,
    p.records as n,
    'share ' || round(p.records::numeric / nullif(t.records, 0), 4) || ' of ' || t.records || ' records, bounds '
    || coalesce(b.lo, {{ default_min }}) || '-' || coalesce(b.hi, {{ default_max }}) as detail,
    p.records::float8 / nullif(t.records, 0)
    not between coalesce(b.lo, {{ default_min }}) and coalesce(b.hi, {{ default_max }}) as breach
from per_rule as p
cross join total as t
left join bounds as b on p.link_rule = b.rule
where p.link_rule not in ('unlinked', 'no_person_key')
union all
select
    'all records' as location,
    t.records as n,
    {{ ('at least ' ~ min_records ~ ' records expected') | lit }} as detail,
    t.records < {{ min_records }} as breach
from total as t
