-- Versions of each budget component with their validity in extract-date terms: a version is in effect from the
-- extract it was first seen in until the extract (of the same sender) that changed or withdrew it. The first
-- version of a component also stands for the time before it was first seen (its start and end dates decide).
with

versions as (
    select * from {{ ref('snp_budget_components') }}
),

batches as (
    select * from {{ ref('stg_audit__batches') }}
),

ordered as (
    select
        versions.*,
        row_number() over (partition by versions.component_id order by versions.dbt_valid_from) as version_number,
        count(*) over (partition by versions.component_id) as versions_of_component
    from versions
),

-- The extract of the sender that was current when the snapshot closed the version.
closing_extracts as (
    select
        ordered.dbt_scd_id,
        max(batches.extract_date) as closed_by_extract_date
    from ordered
    inner join batches
        on
            ordered.feed = batches.feed
            and ordered.sender_code = batches.sender_code
            and batches.status = 'loaded'
            and ordered.dbt_valid_to >= batches.loaded_at
    where ordered.dbt_valid_to is not null
    group by ordered.dbt_scd_id
),

final as (
    select
        ordered.component_id,
        ordered.record_id,
        ordered.feed,
        ordered.funder,
        ordered.management_option,
        ordered.phb_category,
        ordered.annual_gbp,
        ordered.one_off_gbp,
        ordered.indicative_budget_gbp,
        ordered.care_plan_agreed_date,
        ordered.start_date,
        case
            when {{ withdrawn_from_rolling_window('ordered') }} then ordered.reporting_period_end_date
            else ordered.end_date
        end as end_date,
        coalesce({{ withdrawn_from_rolling_window('ordered') }}, false) as is_end_date_inferred,
        ordered.icb_code,
        ordered.sub_icb_code,
        ordered.la_gss_code,
        -- A version snapshotted before carers were told apart has none: it was a service user's.
        coalesce(ordered.recipient, 'service_user') as recipient,
        ordered.sender_code,
        ordered.version_number,
        ordered.dbt_valid_to is null as is_current,
        case when ordered.version_number = 1 then '-infinity'::date else ordered.extract_date end
            as valid_from_extract_date,
        case
            when ordered.dbt_valid_to is null then 'infinity'::date
            else coalesce(closing_extracts.closed_by_extract_date, ordered.extract_date)
        end as valid_to_extract_date
    from ordered
    left join closing_extracts on ordered.dbt_scd_id = closing_extracts.dbt_scd_id
)

select * from final
