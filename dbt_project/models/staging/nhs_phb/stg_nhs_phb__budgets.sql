-- Current snapshot of each ICB's personal health budgets: renamed, cast and normalised for linkage. Values are cast
-- by the typed_* macros (util.to_* functions the loader's row rules parse them with), so every loaded value fits
-- (docs/feed-types.md).
with

current_batches as (
    select * from {{ ref('stg_audit__current_batches') }}
    where feed = 'nhs_phb'
),

source as (
    select * from {{ source('nhs_phb', 'nhs_phb') }}
    where _batch_id in (select current_batches.batch_id from current_batches)
),

renamed as (
    select
        'nhs_phb:' || _sender_code || ':' || phb_id as record_id,
        phb_id,
        _sender_code as sender_code,
        {{ valid_nhs_number('nhs_number') }} as nhs_number,
        {{ normalise_name('surname') }} as surname,
        {{ normalise_name('forename') }} as forename,
        {{ name_tokens('surname') }} as surname_tokens,
        {{ typed_date('date_of_birth') }} as birth_date,
        {{ unify_sex('sex') }} as sex_code,
        {{ normalise_postcode('postcode') }} as postcode,
        upper(trim(icb_code)) as icb_code,
        nullif(upper(trim(sub_icb_code)), '') as sub_icb_code,
        upper(trim(phb_category)) as phb_category,
        coalesce({{ typed_money('direct_payment_gbp') }}, 0) as direct_payment_gbp,
        coalesce({{ typed_money('notional_gbp') }}, 0) as notional_gbp,
        coalesce({{ typed_money('third_party_gbp') }}, 0) as third_party_gbp,
        upper(trim(management_option)) as phb_management_option,
        upper(trim(budget_basis)) as budget_basis,
        {{ typed_money('indicative_budget_gbp') }} as indicative_budget_gbp,
        {{ typed_date('care_plan_agreed_date') }} as care_plan_agreed_date,
        {{ typed_date('start_date') }} as start_date,
        {{ typed_date('end_date') }} as end_date,
        {{ typed_timestamp('record_updated_at') }} as record_updated_at,
        {{ staged_lineage() }}
    from source
),

final as (
    select
        *,
        {{ postcode_district('postcode') }} as postcode_district,
        direct_payment_gbp + notional_gbp + third_party_gbp as total_gbp
    from renamed
)

select * from final
