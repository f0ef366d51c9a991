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
        -- Funders and options are short code lists: one bit each, OR-ed over the person's components (one small
        -- aggregate per list instead of one per code: about 1.5 s less at national scale), read back in `final`.
        bit_or(case funder when 'education' then 1 when 'health' then 2 when 'social_care' then 4 else 0 end)
            as funder_bits,
        bit_or(case management_option
            when 'direct_payment' then 1 when 'mixed' then 2 when 'notional' then 4 when 'third_party' then 8
            else 0
        end) as option_bits,
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
        mixes.n_funders,
        mixes.n_funders >= 2 as is_integrated,
        mixes.funder_mix,
        mixes.management_mix,
        case when mixes.n_options >= 2 then 'mixed' else mixes.management_mix end as management_option,
        per_person.option_bits & 3 > 0 as has_direct_payment,
        per_person.indicative_budget_gbp,
        per_person.agreed_annual_gbp
    from per_person
    inner join people on per_person.person_seq = people.person_seq
    cross join
        lateral (
            -- the mixes list their codes in alphabetical order, joined by '+'
            select
                (funder_bits & 1 > 0)::int + (funder_bits & 2 > 0)::int + (funder_bits & 4 > 0)::int as n_funders,
                (option_bits & 1 > 0)::int + (option_bits & 2 > 0)::int + (option_bits & 4 > 0)::int
                + (option_bits & 8 > 0)::int as n_options,
                nullif(concat_ws(
                    '+',
                    case when funder_bits & 1 > 0 then 'education' end,
                    case when funder_bits & 2 > 0 then 'health' end,
                    case when funder_bits & 4 > 0 then 'social_care' end
                ), '') as funder_mix,
                nullif(concat_ws(
                    '+',
                    case when option_bits & 1 > 0 then 'direct_payment' end,
                    case when option_bits & 2 > 0 then 'mixed' end,
                    case when option_bits & 4 > 0 then 'notional' end,
                    case when option_bits & 8 > 0 then 'third_party' end
                ), '') as management_mix
        ) as mixes
    where not people.is_opted_out
)

select * from final
