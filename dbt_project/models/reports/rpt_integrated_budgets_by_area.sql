-- People with a budget at the latest extract, per council and per ICB: integrated budgets, funder mix and the
-- direct-payment share. Area cells are suppressed (1-7 '*', others to the nearest 5, complementary suppression in
-- blocks so that no '*' can be worked out from an area's total, the zeros or the England rows;
-- docs/disclosure-control.md); national totals are exact.
with

counts as (
    select * from {{ ref('int_area_budget_counts') }}
),

-- Per area level, four tables of area rows: `total` (people with a budget), `top` (the three single-funder mixes
-- and `integrated`, adding up to the total), `multi` (the four multi-funder mixes, adding up to `integrated`) and
-- `direct_payment` (at most the total); and `carers_with_personal_budget`, a table of its own (unpaid carers' own
-- support is not part of the total: no parent).
cells as (
    select
        *,
        as_at_date::text || '|' || area_level || '|' || case
            when measure = 'people_with_budget' then 'total'
            when measure in ('health', 'social_care', 'education', 'integrated') then 'top'
            when measure_group = 'funder_mix' then 'multi'
            else measure
        end as block_table,
        area_code as block_row,
        measure as block_col,
        case
            when measure = 'people_with_budget' or measure_group = 'unpaid_carers' then null
            when measure_group = 'funder_mix' and measure like '%+%' then as_at_date::text || '|' || area_level || '|top'
            else as_at_date::text || '|' || area_level || '|total'
        end as parent_table,
        case
            when measure_group = 'funder_mix' and measure like '%+%' then 'integrated'
            else 'people_with_budget'
        end as parent_col
    from counts
),

suppressed as (
    {{ suppress_blocks('cells', ['people']) }}
),

with_area_total as (
    select
        s.*,
        t.people_is_suppressed as is_total_suppressed
    from suppressed as s
    inner join suppressed as t
        on
            s.as_at_date = t.as_at_date
            and s.area_level = t.area_level
            and s.area_code = t.area_code
            and t.measure = 'people_with_budget'
),

area_rows as (
    select
        as_at_date,
        area_level,
        area_code,
        area_name,
        measure,
        measure_group,
        published_people as people,
        {{ suppress_rate(
            'round(people / 5.0) * 100.0 / nullif(round(area_people_with_budget / 5.0), 0)',
            'people', 'area_people_with_budget', 'people_is_suppressed or is_total_suppressed'
        ) }} as share_of_people_pct,
        null::bigint as national_people
    from with_area_total
),

national_counts as (
    select
        as_at_date,
        measure,
        measure_group,
        sum(people)::bigint as people
    from counts
    where area_level = 'icb'
    group by as_at_date, measure, measure_group
),

national_rows as (
    select
        n.as_at_date,
        'national' as area_level,
        'ENGLAND' as area_code,
        'England (sample of ICBs in reference data)' as area_name,
        n.measure,
        n.measure_group,
        n.people::text as people,
        round(n.people * 100.0 / nullif(t.people, 0), 1)::text as share_of_people_pct,
        n.people as national_people
    from national_counts as n
    inner join national_counts as t on n.as_at_date = t.as_at_date and t.measure = 'people_with_budget'
),

final as (
    select * from area_rows
    union all
    select * from national_rows
)

select * from final
