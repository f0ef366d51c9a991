-- One row per person per as-at date (latest extract and recent quarter ends): the person's budget by funder,
-- whether it is integrated (two or more funders), how it is managed, and indicative against agreed amounts.
-- A service user's budget only: an unpaid carer's own support is reported apart (fct_budget_component.recipient,
-- carers_with_personal_budget in rpt_integrated_budgets_by_area).
with

components as (
    select * from {{ ref('int_person_budgets_as_at') }}
    where recipient = 'service_user'
),

people as (
    select * from {{ ref('int_person_demographics') }}
),

per_person as (
    select
        as_at_date,
        -- Each as-at date has one kind (quarter ends fall before the latest extract's quarter): grouping by the
        -- date alone sorts on two keys, not three (about 1 s at national scale).
        min(as_at_kind) as as_at_kind,
        person_seq,
        coalesce(sum(annual_gbp) filter (where funder = 'health'), 0) as health_annual_gbp,
        coalesce(sum(annual_gbp) filter (where funder = 'social_care'), 0) as social_care_annual_gbp,
        coalesce(sum(annual_gbp) filter (where funder = 'education'), 0) as education_annual_gbp,
        coalesce(sum(annual_gbp), 0) as total_annual_gbp,
        coalesce(sum(one_off_gbp), 0) as one_off_gbp,
        count(*) as n_components,
        -- Funders and options are short code lists: flags instead of distinct aggregates, so that PostgreSQL can
        -- hash-aggregate millions of components (the mixes list codes in alphabetical order).
        (bool_or(funder = 'education'))::int + (bool_or(funder = 'health'))::int
        + (bool_or(funder = 'social_care'))::int as n_funders,
        nullif(concat_ws(
            '+',
            case when bool_or(funder = 'education') then 'education' end,
            case when bool_or(funder = 'health') then 'health' end,
            case when bool_or(funder = 'social_care') then 'social_care' end
        ), '') as funder_mix,
        nullif(concat_ws(
            '+',
            case when bool_or(management_option = 'direct_payment') then 'direct_payment' end,
            case when bool_or(management_option = 'mixed') then 'mixed' end,
            case when bool_or(management_option = 'notional') then 'notional' end,
            case when bool_or(management_option = 'third_party') then 'third_party' end
        ), '') as management_mix,
        bool_or(management_option in ('direct_payment', 'mixed')) as has_direct_payment,
        sum(indicative_budget_gbp) as indicative_budget_gbp,
        sum(annual_gbp) filter (where care_plan_agreed_date is not null) as agreed_annual_gbp,
        min(icb_code) filter (where funder = 'health') as health_icb_code
    from components
    group by as_at_date, person_seq
),

final as (
    select
        people.person_key,
        per_person.as_at_date,
        per_person.as_at_kind,
        {{ age_band('people.birth_date', 'per_person.as_at_date') }} as age_band,
        people.sex_code,
        people.postcode_district,
        coalesce(per_person.health_icb_code, people.icb_code) as icb_code,
        people.la_gss_code,
        per_person.health_annual_gbp,
        per_person.social_care_annual_gbp,
        per_person.education_annual_gbp,
        per_person.total_annual_gbp,
        per_person.one_off_gbp,
        per_person.n_components::int as n_components,
        per_person.n_funders::int as n_funders,
        per_person.n_funders >= 2 as is_integrated,
        per_person.funder_mix,
        per_person.management_mix,
        case
            when per_person.management_mix like '%+%' then 'mixed'
            else per_person.management_mix
        end as management_option,
        coalesce(per_person.has_direct_payment, false) as has_direct_payment,
        per_person.indicative_budget_gbp,
        per_person.agreed_annual_gbp
    from per_person
    inner join people on per_person.person_seq = people.person_seq
    where not people.is_opted_out
)

select * from final
