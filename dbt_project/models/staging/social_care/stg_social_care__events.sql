-- Current snapshot of each council's CLD Release 2 events (FEEDS.md, docs/feeds.md). Every event is kept; only Service
-- rows with a personal-budget delivery mechanism are budget components. Coded values are matched to the contract's
-- code lists (seed cld_codes: any accepted spelling, any case) and stored in the release's canonical spelling; a
-- descriptive value outside its list is 'Unknown'. Values are cast by the typed_* macros (the util.to_* functions
-- the loader's row rules parse them with), so every loaded value fits (docs/feed-types.md).
{# Each coded CLD field: (join alias, its code list in seed cld_codes, its raw column). #}
{% set coded_columns = [
    ('event_types', 'cld_event_type', 'event_type'),
    ('genders', 'cld_gender', 'gender'),
    ('client_types', 'cld_client_type', 'client_type'),
    ('service_types', 'cld_service_type', 'service_type'),
    ('components', 'cld_service_component', 'service_component'),
    ('delivery', 'cld_delivery_mechanism', 'delivery_mechanism'),
    ('funding', 'cld_client_funding_status', 'client_funding_status'),
    ('frequencies', 'cld_cost_frequency', 'cost_frequency_unit_type'),
    ('support_reasons', 'cld_primary_support_reason', 'primary_support_reason'),
] %}
{# The date fields, cast through one lookup of their distinct texts. #}
{% set date_columns = [
    'date_of_birth', 'date_of_death', 'event_start_date', 'event_end_date', 'reporting_period_start_date',
    'reporting_period_end_date',
] %}
with

current_batches as (
    select * from {{ ref('stg_audit__current_batches') }}
    where feed = 'social_care'
),

-- Read twice (the events, their date texts): scanned twice rather than spooled to disk.
source as not materialized (
    select * from {{ source('social_care', 'social_care') }}
    where _batch_id in (select current_batches.batch_id from current_batches)
),

codes as (
    {{ contract_codes('cld_codes') }}
),

mechanisms as (
    select * from {{ ref('cld_delivery_mechanisms') }}
),

-- Dates repeat (about 60,000 texts among 5 million dates at national scale): each text is cast once per date
-- format and joined back, which is faster than casting every date even inline (14.5 s against 22 s for the model).
-- The format is keyed as typed_date reads it (no format is ISO).
date_texts as (
    select distinct
        dates.date_text,
        coalesce(source._date_format, 'iso') as date_format
    from source
    cross join
        lateral (
            values
            (source.date_of_birth),
            (source.date_of_death),
            (source.event_start_date),
            (source.event_end_date),
            (source.reporting_period_start_date),
            (source.reporting_period_end_date)
        ) as dates (date_text)
    where dates.date_text is not null
),

typed_dates as (
    select
        date_text,
        date_format,
        {{ typed_date('date_text', 'date_format') }} as typed_date
    from date_texts
),

coded as (
    select
        source.*,
        event_types.value as event_type_value,
        genders.warehouse_code as gender_sex_code,
        client_types.value as client_type_value,
        client_types.warehouse_code as client_kind,
        service_types.value as service_type_value,
        components.value as service_component_value,
        delivery.value as delivery_mechanism_value,
        funding.value as client_funding_status_value,
        frequencies.value as cost_frequency_value,
        support_reasons.value as primary_support_reason_value,
        date_of_birth_typed.typed_date as date_of_birth_typed,
        date_of_death_typed.typed_date as date_of_death_typed,
        event_start_date_typed.typed_date as event_start_date_typed,
        event_end_date_typed.typed_date as event_end_date_typed,
        reporting_period_start_date_typed.typed_date as reporting_period_start_date_typed,
        reporting_period_end_date_typed.typed_date as reporting_period_end_date_typed
    from source
    {% for alias, code_list, column in coded_columns -%}
        left join codes as {{ alias }}
            on {{ alias }}.code_list = '{{ code_list }}' and lower(trim(source.{{ column }})) = {{ alias }}.spelling_key
    {% endfor -%}
    {% for column in date_columns -%}
        left join typed_dates as {{ column }}_typed
            on
                source.{{ column }} = {{ column }}_typed.date_text
                and coalesce(source._date_format, 'iso') = {{ column }}_typed.date_format
    {% endfor -%}
),

renamed as (
    select
        _sender_code as sender_code,
        nullif(trim(event_reference), '') as event_reference,
        la_code as cld_la_code,
        la_person_unique_identifier as la_person_id,
        {{ valid_nhs_number('nhs_number') }} as nhs_number,
        nullif(trim(nhs_number), '') is not null and {{ valid_nhs_number('nhs_number') }} is null
            as has_invalid_nhs_number,
        {{ normalise_name('last_name') }} as surname,
        {{ normalise_name('first_name') }} as forename,
        {{ name_tokens('last_name') }} as surname_tokens,
        date_of_birth_typed as birth_date,
        date_of_death_typed as death_date,
        coalesce(gender_sex_code, 'X') as sex_code,
        {{ normalise_postcode('postcode') }} as postcode,
        nullif(trim(gp_practice_code), '') as gp_practice_code,
        {{ cld_descriptive('client_type', 'client_type_value') }} as client_type,
        coalesce(client_kind = 'carer', false) as is_carer,
        {{ cld_descriptive('primary_support_reason', 'primary_support_reason_value') }} as primary_support_reason,
        {{ cld_descriptive('client_funding_status', 'client_funding_status_value') }} as client_funding_status,
        event_type_value as event_type,
        event_start_date_typed as event_start_date,
        event_end_date_typed as event_end_date,
        {{ cld_descriptive('service_type', 'service_type_value') }} as service_type,
        {{ cld_descriptive('service_component', 'service_component_value') }} as service_component,
        -- Optional in CLD: blank on a direct-payment component is a direct payment (derived, and marked so).
        coalesce(
            delivery_mechanism_value,
            case
                when nullif(trim(delivery_mechanism), '') is null and service_component_value = 'Direct payment'
                    then 'Direct payment'
            end
        ) as delivery_mechanism,
        nullif(trim(delivery_mechanism), '') is null and service_component_value = 'Direct payment'
            as is_delivery_mechanism_derived,
        {{ typed_money('unit_cost') }} as unit_cost,
        cost_frequency_value as cost_frequency,
        {{ typed_units('planned_units_per_week') }} as planned_units_per_week,
        reporting_period_start_date_typed as reporting_period_start_date,
        reporting_period_end_date_typed as reporting_period_end_date,
        {{ staged_lineage() }}
    from coded
),

keyed as (
    -- Event identity (FEEDS.md): Event Reference when present and unique in the sender's file; otherwise derived
    -- from the event's own fields, numbered for exact repeats (a double-handed package is two services).
    select
        case
            when
                renamed.event_reference is not null
                and count(*) over (partition by renamed.batch_id, renamed.event_reference) = 1
                then 'social_care:' || renamed.sender_code || ':' || renamed.event_reference
            else 'social_care:' || renamed.sender_code || ':derived:' || md5(concat_ws(
                '|', renamed.cld_la_code, renamed.la_person_id, renamed.event_type, renamed.event_start_date,
                renamed.service_type, renamed.service_component, renamed.delivery_mechanism
            )) || ':' || row_number() over (
                partition by
                    renamed.batch_id, renamed.la_person_id, renamed.event_type, renamed.event_start_date,
                    renamed.service_type, renamed.service_component, renamed.delivery_mechanism
                order by renamed.source_row_number
            )
        end as record_id,
        case
            when
                renamed.event_reference is not null
                and count(*) over (partition by renamed.batch_id, renamed.event_reference) = 1
                then 'event_reference'
            else 'derived'
        end as event_key_rule,
        renamed.*
    from renamed
),

final as (
    select
        keyed.*,
        {{ postcode_district('keyed.postcode') }} as postcode_district,
        keyed.event_type = 'Service' and coalesce(mechanisms.is_personal_budget, false) as is_budget_component,
        mechanisms.management_option,
        {{ cld_annual_value('keyed.unit_cost', 'keyed.cost_frequency', 'keyed.planned_units_per_week') }}
            as annual_gbp,
        case when keyed.cost_frequency = 'One-off' then keyed.unit_cost end as one_off_gbp
    from keyed
    left join mechanisms on keyed.delivery_mechanism = mechanisms.code
)

select * from final
