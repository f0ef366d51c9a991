-- Current snapshot of each council's CLD events: every event kept (Request/Assessment/Review are counted, set aside
-- from budgets); only Service rows with a personal-budget delivery mechanism are budget components. Values are cast
-- by the typed_* macros (util.to_* functions the loader's row rules parse them with), so every loaded value fits
-- (docs/feed-types.md).
with

source as (
    select * from {{ source('raw', 'social_care') }}
    where _batch_id in {{ current_batch_ids('social_care') }}
),

mechanisms as (
    select * from {{ ref('cld_delivery_mechanisms') }}
),

renamed as (
    select
        'social_care:' || source._sender_code || ':' || source.event_reference as record_id,
        source.event_reference,
        source._sender_code as sender_code,
        source.la_code as cld_la_code,
        source.la_person_unique_identifier as la_person_id,
        {{ valid_nhs_number('source.nhs_number') }} as nhs_number,
        {{ typed_date('source.date_of_birth') }} as birth_date,
        {{ unify_sex('source.gender') }} as sex_code,
        {{ normalise_postcode('source.postcode') }} as postcode,
        source.primary_support_reason,
        source.client_funding_status,
        source.event_type,
        {{ typed_date('source.event_start_date') }} as event_start_date,
        {{ typed_date('source.event_end_date') }} as event_end_date,
        source.service_type,
        source.service_component,
        source.delivery_mechanism,
        {{ typed_money('source.unit_cost') }} as unit_cost,
        source.cost_frequency_unit_type as cost_frequency,
        {{ typed_units('source.planned_units_per_week') }} as planned_units_per_week,
        {{ typed_date('source.reporting_period_start_date') }} as reporting_period_start_date,
        {{ typed_date('source.reporting_period_end_date') }} as reporting_period_end_date,
        source._batch_id as batch_id,
        source._file_name as source_file_name,
        source._row_number as source_row_number,
        source._extract_date as extract_date
    from source
),

final as (
    select
        renamed.*,
        {{ postcode_district('renamed.postcode') }} as postcode_district,
        renamed.event_type = 'Service' and coalesce(mechanisms.is_personal_budget, false) as is_budget_component,
        mechanisms.management_option,
        {{ cld_annual_value('renamed.unit_cost', 'renamed.cost_frequency', 'renamed.planned_units_per_week') }}
            as annual_gbp,
        case when renamed.cost_frequency = 'One-off' then renamed.unit_cost end as one_off_gbp
    from renamed
    left join mechanisms on renamed.delivery_mechanism = mechanisms.code
)

select * from final
