-- Current snapshot of each council's EHC plans with their personal budget flags and elements. Values are cast by
-- the typed_* macros (util.to_* functions the loader's row rules parse them with), so every loaded value fits
-- (docs/feed-types.md).
with

source as (
    select * from {{ source('raw', 'send') }}
    where _batch_id in {{ current_batch_ids('send') }}
),

renamed as (
    select
        'send:' || _sender_code || ':' || ehcplanid as record_id,
        ehcplanid as ehc_plan_id,
        _sender_code as sender_code,
        lea as dfe_la_number,
        personid as la_person_id,
        -- Optional identifiers: an invalid one is absent here (the row is kept; the gate counts it per sender).
        case when util.is_valid_upn(btrim(upn)) then upper(btrim(upn)) end as upn,
        case when btrim(uniquelearnernumber) ~ '^[0-9]{10}$' then btrim(uniquelearnernumber) end as uln,
        {{ valid_nhs_number('nhsnumber') }} as nhs_number,
        {{ normalise_name('surname') }} as surname,
        {{ normalise_name('forename') }} as forename,
        {{ name_tokens('surname') }} as surname_tokens,
        {{ typed_date('personbirthdate') }} as birth_date,
        {{ unify_sex('sex') }} as sex_code,
        {{ normalise_postcode('postcode') }} as postcode,
        {{ typed_date('startdate') }} as plan_start_date,
        {{ typed_date('ceasedate') }} as plan_cease_date,
        upper(trim(senprimaryneed)) as sen_primary_need,
        {{ typed_flag('pb') }} as pb,
        {{ typed_flag('oa') }} as oa,
        {{ typed_flag('dp') }} as dp,
        {{ typed_money('educationelementgbp') }} as education_element_gbp,
        {{ typed_money('socialcareelementgbp') }} as social_care_element_gbp,
        {{ typed_date('budgetstartdate') }} as budget_start_date,
        {{ typed_date('budgetenddate') }} as budget_end_date,
        {{ typed_timestamp('lastupdated') }} as last_updated_at,
        {{ staged_lineage() }}
    from source
),

final as (
    select
        *,
        {{ postcode_district('postcode') }} as postcode_district,
        pb = 1 as has_personal_budget,
        {{ send_management_option('oa', 'dp') }} as management_option
    from renamed
)

select * from final
