-- People with a budget at the latest extract, per council and per ICB: integrated budgets, funder mix and the
-- direct-payment share. Area cells are suppressed (1-7 '*', others to the nearest 5, secondary suppression within
-- an area's funder mix and across areas); national totals are exact.
with

counts as (
    select * from {{ ref('int_area_budget_counts') }}
),

suppressed as (
    {{ suppress_cells('counts', 'people', [
        ['area_level', 'area_code', 'measure_group'],
        ['area_level', 'measure'],
    ]) }}
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
            'people', 'area_people_with_budget', 'people_is_primary or people_is_secondary'
        ) }} as share_of_people_pct,
        null::bigint as national_people
    from suppressed
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
