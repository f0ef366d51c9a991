-- Budget components in place at each as-at date, from the snapshot history (the version in effect at that date,
-- whose start and end dates cover it). No person here: this needs no linkage, so dbt builds it beside the linkage
-- chain; int_person_budgets_as_at adds the person.
with

history as (
    select * from {{ ref('int_budget_component_history') }}
),

as_at_dates as (
    select * from {{ ref('int_as_at_dates') }}
),

final as (
    select
        as_at_dates.as_at_date,
        as_at_dates.as_at_kind,
        as_at_dates.quarter_start,
        history.component_id,
        history.record_id,
        history.feed,
        history.funder,
        history.management_option,
        history.phb_category,
        history.annual_gbp,
        history.one_off_gbp,
        history.indicative_budget_gbp,
        history.care_plan_agreed_date,
        history.start_date,
        history.end_date,
        history.icb_code,
        history.sub_icb_code,
        history.la_gss_code,
        history.recipient
    from as_at_dates
    inner join history
        on
            as_at_dates.as_at_date >= history.valid_from_extract_date
            and as_at_dates.as_at_date < history.valid_to_extract_date
            and as_at_dates.as_at_date >= history.start_date
            and (history.end_date is null or as_at_dates.as_at_date <= history.end_date)
)

select * from final
