{#- Per funder, mart component totals (`components`: `funder`, `annual`, `one_off` columns) equal the staged source
    amounts (`totals_view`, less opted-out people) within `tolerance` pounds. -#}
with mart as (
    select
        {{ funder | ident }} as funder,
        coalesce(sum({{ annual | ident }}), 0) as annual_gbp,
        coalesce(sum({{ one_off | ident }}), 0) as one_off_gbp
    from {{ components | ident }}
    group by {{ funder | ident }}
),

staged as (
    select
        funder,
        annual_gbp,
        one_off_gbp
    from {{ totals_view | ident }}
)

select
    'funder ' || coalesce(m.funder, s.funder) as location,
    round(
        abs(coalesce(m.annual_gbp, 0) - coalesce(s.annual_gbp, 0))
        + abs(coalesce(m.one_off_gbp, 0) - coalesce(s.one_off_gbp, 0))
    )::bigint as n,
    'annual: marts ' || coalesce(m.annual_gbp, 0) || ', staged ' || coalesce(s.annual_gbp, 0)
    || '; one-off: marts ' || coalesce(m.one_off_gbp, 0) || ', staged ' || coalesce(s.one_off_gbp, 0)
    || {{ (' (tolerance ' ~ tolerance ~ ')') | lit }} as detail,
    abs(coalesce(m.annual_gbp, 0) - coalesce(s.annual_gbp, 0)) > {{ tolerance }}
    or abs(coalesce(m.one_off_gbp, 0) - coalesce(s.one_off_gbp, 0)) > {{ tolerance }} as breach
from mart as m
full outer join staged as s on m.funder = s.funder
