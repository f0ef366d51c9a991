-- Unsuppressed PHB counts per quarter end, ICB and breakdown (all, management option, PHB category), with every
-- cell of the published grid present (zeros included). Opted-out people are not counted. Restricted: the
-- published report applies suppression.
with

components as (
    select * from {{ ref('int_person_budgets_as_at') }}
    where funder = 'health' and as_at_kind = 'quarter_end'
),

people as (
    select * from {{ ref('int_person_demographics') }}
),

quarters as (
    select * from {{ ref('int_as_at_dates') }}
    where as_at_kind = 'quarter_end'
),

icbs as (
    select * from {{ ref('icbs') }}
),

management_options as (
    select code from {{ ref('management_options') }}
),

categories as (
    select code from {{ ref('phb_categories') }}
),

breakdowns as (
    select
        'all' as breakdown,
        'all' as breakdown_value
    union all
    select
        'management_option' as breakdown,
        code as breakdown_value
    from management_options
    union all
    select
        'phb_category' as breakdown,
        code as breakdown_value
    from categories
),

phbs as (
    select
        components.as_at_date as quarter_end,
        components.icb_code,
        components.management_option,
        components.phb_category,
        components.start_date >= components.quarter_start as is_new_in_quarter
    from components
    inner join people on components.person_seq = people.person_seq
    where not people.is_opted_out
),

phb_cells as (
    select
        quarter_end,
        icb_code,
        'all' as breakdown,
        'all' as breakdown_value,
        is_new_in_quarter
    from phbs
    union all
    select
        quarter_end,
        icb_code,
        'management_option' as breakdown,
        management_option as breakdown_value,
        is_new_in_quarter
    from phbs
    union all
    select
        quarter_end,
        icb_code,
        'phb_category' as breakdown,
        phb_category as breakdown_value,
        is_new_in_quarter
    from phbs
),

counted as (
    select
        quarter_end,
        icb_code,
        breakdown,
        breakdown_value,
        count(*) as phbs_in_place,
        count(*) filter (where is_new_in_quarter) as new_in_quarter
    from phb_cells
    group by quarter_end, icb_code, breakdown, breakdown_value
),

final as (
    select
        quarters.as_at_date as quarter_end,
        quarters.quarter_start,
        icbs.icb_code,
        icbs.approx_population,
        breakdowns.breakdown,
        breakdowns.breakdown_value,
        coalesce(counted.phbs_in_place, 0) as phbs_in_place,
        coalesce(counted.new_in_quarter, 0) as new_in_quarter
    from quarters
    cross join icbs
    cross join breakdowns
    left join counted
        on
            quarters.as_at_date = counted.quarter_end
            and icbs.icb_code = counted.icb_code
            and breakdowns.breakdown = counted.breakdown
            and breakdowns.breakdown_value = counted.breakdown_value
)

select * from final
