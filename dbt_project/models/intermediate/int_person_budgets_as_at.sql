-- Budget components in place at each as-at date with their person. A view: the two models that read it (fct and
-- the PHB quarter counts) each join the index once, instead of the night writing and testing a 700 MB table
-- after linkage, on the critical path.
{{ config(materialized='view') }}

with

components as (
    select * from {{ ref('int_budget_components_as_at') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

final as (
    select
        components.as_at_date,
        components.as_at_kind,
        components.quarter_start,
        person_index.person_seq,
        person_index.person_key,
        components.component_id,
        components.record_id,
        components.feed,
        components.funder,
        components.management_option,
        components.phb_category,
        components.annual_gbp,
        components.one_off_gbp,
        components.indicative_budget_gbp,
        components.care_plan_agreed_date,
        components.start_date,
        components.end_date,
        components.icb_code,
        components.sub_icb_code,
        components.la_gss_code,
        components.recipient
    from components
    inner join person_index on components.record_id = person_index.record_id
)

select * from final
