{#- Records linked to no other record (`view`: restricted.validation_linkage) at most `max_share` of all records and
    at most `max_records`; every record has a person key. -#}
with per_rule as (
    select
        link_rule,
        sum(records)::bigint as records
    from {{ view | ident }}
    group by link_rule
),

total as (select coalesce(sum(records), 0) as records from per_rule),

unlinked as (
    select coalesce(sum(records), 0) as records from per_rule
    where link_rule = 'unlinked'
),

no_key as (
    select coalesce(sum(records), 0) as records from per_rule
    where link_rule = 'no_person_key'
)

select
    'unlinked records' as location,
    u.records as n,
    'share ' || coalesce(round(u.records::numeric / nullif(t.records, 0), 4)::text, 'n/a')
    || {{ (', at most ' ~ max_share ~ ' and ' ~ max_records) | lit }} as detail,
    coalesce(u.records::float8 / nullif(t.records, 0), 0) > {{ max_share }}
    or u.records > {{ max_records }} as breach
from unlinked as u
cross join total as t
union all
select
    'records without a person key' as location,
    k.records as n,
    'must be 0' as detail,
    k.records > 0 as breach
from no_key as k
