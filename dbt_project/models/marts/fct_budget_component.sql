-- Current budget components (latest snapshots of the feeds), one row each, for people who have not opted out.
with

components as (
    select * from {{ ref('int_budget_components') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

people as (
    select * from {{ ref('int_person_demographics') }}
),

final as (
    select
        {{ pseudonymise('components.component_id') }} as component_key,
        person_index.person_key,
        components.feed,
        components.funder,
        components.management_option,
        components.phb_category,
        components.annual_gbp,
        components.one_off_gbp,
        components.indicative_budget_gbp,
        components.care_plan_agreed_date is not null as is_care_plan_agreed,
        components.start_date,
        components.end_date,
        components.icb_code,
        components.sub_icb_code,
        components.la_gss_code,
        components.recipient,
        components.extract_date
    from components
    inner join person_index on components.record_id = person_index.record_id
    inner join people on person_index.person_seq = people.person_seq
    where not people.is_opted_out
)

select * from final
