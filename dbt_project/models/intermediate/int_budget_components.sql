-- Budget components of the current snapshots, unioned from the funding feeds, keyed by source record (the person
-- key is joined in the marts, so relinking never rewrites history). The health element of a child's budget comes
-- only from nhs_phb: send_budget contributes each plan's education and children's social care elements (SEN2 itself
-- carries no money), so nothing is counted twice. `recipient` keeps a carer's own support (CLD client type: an
-- unpaid carer) apart from service users' budgets: the marts report carers separately (docs/feeds.md).
with

phb as (
    select * from {{ ref('stg_nhs_phb__budgets') }}
),

social_care as (
    select * from {{ ref('stg_social_care__events') }}
),

send_budgets as (
    select * from {{ ref('stg_send_budget__budgets') }}
),

phb_options as (
    select * from {{ ref('phb_management_options') }}
),

orgs as (
    select * from {{ ref('organisations') }}
),

health_components as (
    select
        phb.record_id || ':health' as component_id,
        phb.record_id,
        'nhs_phb' as feed,
        'health' as funder,
        phb_options.management_option,
        phb.phb_category,
        case when phb.budget_basis = 'ANNUAL' then phb.total_gbp end as annual_gbp,
        case when phb.budget_basis = 'ONE_OFF' then phb.total_gbp end as one_off_gbp,
        phb.indicative_budget_gbp,
        phb.care_plan_agreed_date,
        phb.start_date,
        phb.end_date,
        phb.icb_code,
        phb.sub_icb_code,
        null::text as la_gss_code,
        phb.sender_code,
        phb.extract_date,
        null::date as reporting_period_end_date,
        'service_user' as recipient
    from phb
    left join phb_options on phb.phb_management_option = phb_options.code
),

adult_social_care_components as (
    select
        social_care.record_id || ':social_care' as component_id,
        social_care.record_id,
        'social_care' as feed,
        'social_care' as funder,
        social_care.management_option,
        null::text as phb_category,
        social_care.annual_gbp,
        social_care.one_off_gbp,
        null::numeric(12, 2) as indicative_budget_gbp,
        null::date as care_plan_agreed_date,
        social_care.event_start_date as start_date,
        social_care.event_end_date as end_date,
        orgs.primary_icb_code as icb_code,
        null::text as sub_icb_code,
        orgs.la_gss_code,
        social_care.sender_code,
        social_care.extract_date,
        social_care.reporting_period_end_date,
        case when social_care.is_carer then 'unpaid_carer' else 'service_user' end as recipient
    from social_care
    left join orgs on social_care.cld_la_code = orgs.cld_la_code
    where social_care.is_budget_component
),

send_elements as (
    select
        send_budgets.*,
        element.funder,
        element.amount_gbp
    from send_budgets
    cross join
        lateral (
            values ('education', send_budgets.education_element_gbp),
            ('social_care', send_budgets.social_care_element_gbp)
        ) as element (funder, amount_gbp)
    where element.amount_gbp is not null
),

send_components as (
    select
        send_elements.record_id || ':' || send_elements.funder as component_id,
        send_elements.record_id,
        'send_budget' as feed,
        send_elements.funder,
        send_elements.management_option,
        null::text as phb_category,
        send_elements.amount_gbp as annual_gbp,
        null::numeric(12, 2) as one_off_gbp,
        send_elements.indicative_budget_gbp,
        null::date as care_plan_agreed_date,
        send_elements.budget_start_date as start_date,
        send_elements.budget_end_date as end_date,
        orgs.primary_icb_code as icb_code,
        null::text as sub_icb_code,
        orgs.la_gss_code,
        send_elements.sender_code,
        send_elements.extract_date,
        null::date as reporting_period_end_date,
        'service_user' as recipient
    from send_elements
    left join orgs on send_elements.dfe_la_number = orgs.dfe_la_number
),

final as (
    select * from health_components
    union all
    select * from adult_social_care_components
    union all
    select * from send_components
)

select * from final
