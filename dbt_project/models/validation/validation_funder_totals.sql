-- Staged budget component totals per funder, less people who opted out: what the marts must add up to.
with

components as (
    select * from {{ ref('int_budget_components') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

opted_out as (
    select * from {{ ref('validation_opted_out_people') }}
),

kept as (
    select components.*
    from components
    inner join person_index on components.record_id = person_index.record_id
    left join opted_out on person_index.person_key = opted_out.person_key
    where opted_out.person_key is null
),

final as (
    select
        funder,
        count(*)::bigint as components,
        coalesce(sum(annual_gbp), 0) as annual_gbp,
        coalesce(sum(one_off_gbp), 0) as one_off_gbp
    from kept
    group by funder
)

select * from final
