-- The dates budgets are measured at: the latest extract date, and the ends of the last complete quarters.
with

batches as (
    select * from {{ ref('stg_audit__batches') }}
),

latest as (
    select max(extract_date) as latest_extract_date
    from batches
    where status = 'loaded' and feed in ('nhs_phb', 'social_care', 'send', 'send_budget')
),

quarter_ends as (
    select (date_trunc('quarter', latest.latest_extract_date) - (n.n || ' months')::interval)::date - 1 as quarter_end
    from latest
    cross join generate_series(0, 3 * ({{ var('report_quarters') }} - 1), 3) as n (n)
),

final as (
    select
        latest_extract_date as as_at_date,
        'latest' as as_at_kind,
        null::date as quarter_start
    from latest
    where latest_extract_date is not null
    union all
    select
        quarter_end as as_at_date,
        'quarter_end' as as_at_kind,
        (date_trunc('quarter', quarter_end))::date as quarter_start
    from quarter_ends
    where quarter_end is not null
)

select * from final
