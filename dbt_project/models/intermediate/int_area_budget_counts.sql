-- Unsuppressed counts of people with a budget at the latest as-at date, per council and per ICB, by funder mix,
-- integrated or not, and direct payment; and, apart from them, unpaid carers with a personal budget for their own
-- support. Every area of the reference data has every measure (zeros included).
with

budgets as (
    select * from {{ ref('fct_integrated_personal_budget') }}
    where as_at_kind = 'latest'
),

carer_components as (
    select * from {{ ref('int_person_budgets_as_at') }}
    where as_at_kind = 'latest' and recipient = 'unpaid_carer'
),

opted_out as (
    select * from {{ ref('int_person_demographics') }}
    where is_opted_out
),

-- One row per carer and area (a carer supported by two councils counts in each).
carers as (
    select distinct
        carer_components.as_at_date,
        carer_components.la_gss_code,
        carer_components.icb_code,
        carer_components.person_key
    from carer_components
    left join opted_out on carer_components.person_key = opted_out.person_key
    where opted_out.person_key is null
),

orgs as (
    select * from {{ ref('dim_organisation') }}
    where organisation_type in ('council', 'icb')
),

measures as (
    select * from (
        values
        ('people_with_budget', 'total'),
        ('integrated', 'integration'),
        ('health', 'funder_mix'),
        ('social_care', 'funder_mix'),
        ('education', 'funder_mix'),
        ('health+social_care', 'funder_mix'),
        ('education+health', 'funder_mix'),
        ('education+social_care', 'funder_mix'),
        ('education+health+social_care', 'funder_mix'),
        ('direct_payment', 'management'),
        ('carers_with_personal_budget', 'unpaid_carers')
    ) as m (measure, measure_group)
),

person_measures as (
    select
        as_at_date,
        la_gss_code,
        icb_code,
        'people_with_budget' as measure
    from budgets
    union all
    select
        as_at_date,
        la_gss_code,
        icb_code,
        'integrated' as measure
    from budgets
    where is_integrated
    union all
    select
        as_at_date,
        la_gss_code,
        icb_code,
        funder_mix as measure
    from budgets
    union all
    select
        as_at_date,
        la_gss_code,
        icb_code,
        'direct_payment' as measure
    from budgets
    where has_direct_payment
    union all
    select
        as_at_date,
        la_gss_code,
        icb_code,
        'carers_with_personal_budget' as measure
    from carers
),

by_area as (
    select
        as_at_date,
        'council' as area_level,
        la_gss_code as area_code,
        measure,
        count(*) as people
    from person_measures
    where la_gss_code is not null
    group by as_at_date, la_gss_code, measure
    union all
    select
        as_at_date,
        'icb' as area_level,
        icb_code as area_code,
        measure,
        count(*) as people
    from person_measures
    where icb_code is not null
    group by as_at_date, icb_code, measure
),

as_at as (
    select max(as_at_date) as as_at_date from {{ ref('int_as_at_dates') }}
    where as_at_kind = 'latest'
),

final as (
    select
        as_at.as_at_date,
        orgs.organisation_type as area_level,
        orgs.organisation_code as area_code,
        orgs.organisation_name as area_name,
        measures.measure,
        measures.measure_group,
        coalesce(by_area.people, 0) as people,
        coalesce(totals.people, 0) as area_people_with_budget
    from as_at
    cross join orgs
    cross join measures
    left join by_area
        on
            orgs.organisation_type = by_area.area_level
            and orgs.organisation_code = by_area.area_code
            and measures.measure = by_area.measure
    left join by_area as totals
        on
            orgs.organisation_type = totals.area_level
            and orgs.organisation_code = totals.area_code
            and totals.measure = 'people_with_budget'
    where as_at.as_at_date is not null
)

select * from final
