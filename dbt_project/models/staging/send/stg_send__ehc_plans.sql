-- Current snapshot of each council's EHC plans with their personal budget flags and elements.
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
        upn,
        uniquelearnernumber as uln,
        {{ valid_nhs_number('nhsnumber') }} as nhs_number,
        {{ normalise_name('surname') }} as surname,
        {{ normalise_name('forename') }} as forename,
        {{ name_tokens('surname') }} as surname_tokens,
        personbirthdate::date as birth_date,
        {{ unify_sex('sex') }} as sex_code,
        {{ normalise_postcode('postcode') }} as postcode,
        startdate::date as plan_start_date,
        ceasedate::date as plan_cease_date,
        upper(trim(senprimaryneed)) as sen_primary_need,
        pb::int as pb,
        oa::int as oa,
        dp::int as dp,
        educationelementgbp::numeric(12, 2) as education_element_gbp,
        socialcareelementgbp::numeric(12, 2) as social_care_element_gbp,
        budgetstartdate::date as budget_start_date,
        budgetenddate::date as budget_end_date,
        lastupdated::timestamptz as last_updated_at,
        _batch_id as batch_id,
        _file_name as source_file_name,
        _row_number as source_row_number,
        _extract_date as extract_date
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
