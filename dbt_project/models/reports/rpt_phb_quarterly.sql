-- The quarterly PHB return: PHBs in place at quarter end and new in the quarter, by management option and PHB
-- category, per ICB (suppressed: 1-7 '*', others to the nearest 5, complementary suppression in blocks so that no
-- '*' can be worked out from the ICB totals, the zeros or the England rows; docs/disclosure-control.md) and national
-- (unsuppressed), with PHBs in place per 100,000 population.
with

counts as (
    select * from {{ ref('int_phb_quarter_counts') }}
),

-- One table per quarter and breakdown: ICB rows, breakdown-value columns; an ICB's `all` is its row total.
cells as (
    select
        *,
        quarter_end::text || '|' || breakdown as block_table,
        icb_code as block_row,
        breakdown_value as block_col,
        case when breakdown <> 'all' then quarter_end::text || '|all' end as parent_table,
        'all' as parent_col
    from counts
),

suppressed as (
    {{ suppress_blocks('cells', ['phbs_in_place', 'new_in_quarter']) }}
),

icb_rows as (
    select
        quarter_end,
        {{ fy_quarter_label('quarter_end') }} as quarter_label,
        'icb' as area_level,
        icb_code as area_code,
        breakdown,
        breakdown_value,
        published_phbs_in_place as phbs_in_place,
        published_new_in_quarter as new_in_quarter,
        {{ suppress_rate(
            'round(phbs_in_place / 5.0) * 5 * 100000.0 / nullif(approx_population, 0)',
            'phbs_in_place', 'null', 'phbs_in_place_is_suppressed'
        ) }} as phbs_per_100k,
        null::bigint as national_phbs_in_place,
        null::bigint as national_new_in_quarter
    from suppressed
),

national_counts as (
    select
        quarter_end,
        breakdown,
        breakdown_value,
        sum(phbs_in_place)::bigint as phbs_in_place,
        sum(new_in_quarter)::bigint as new_in_quarter,
        sum(approx_population) as population
    from counts
    group by quarter_end, breakdown, breakdown_value
),

national_rows as (
    select
        quarter_end,
        {{ fy_quarter_label('quarter_end') }} as quarter_label,
        'national' as area_level,
        'ENGLAND' as area_code,
        breakdown,
        breakdown_value,
        phbs_in_place::text as phbs_in_place,
        new_in_quarter::text as new_in_quarter,
        round(phbs_in_place * 100000.0 / nullif(population, 0), 1)::text as phbs_per_100k,
        phbs_in_place as national_phbs_in_place,
        new_in_quarter as national_new_in_quarter
    from national_counts
),

final as (
    select * from icb_rows
    union all
    select * from national_rows
)

select * from final
