-- Current snapshot of each council's EHC plan personal budgets (FEEDS.md "Feed send_budget", ours): one row per
-- budget, with the education and children's social care elements. The management option is derived from the
-- direct-payment part: none of it is organised arrangements (notional), all of it a direct payment, some of it
-- mixed. Values are cast by the typed_* macros, the util.to_* functions the loader's row rules parse them with.
with

current_batches as (
    select * from {{ ref('stg_audit__current_batches') }}
    where feed = 'send_budget'
),

source as (
    select * from {{ source('send_budget', 'send_budget') }}
    where _batch_id in (select current_batches.batch_id from current_batches)
),

renamed as (
    select
        'send_budget:' || _sender_code || ':' || btrim(budgetid) as record_id,
        btrim(budgetid) as budget_id,
        _sender_code as sender_code,
        lea as dfe_la_number,
        btrim(localpersonid) as local_person_id,
        -- Optional identifiers: an invalid one is absent here (the row is kept; the gate counts it per sender).
        {{ valid_upn('upn') }} as upn,
        {{ valid_uln('uniquelearnernumber') }} as uln,
        {{ valid_nhs_number('nhsnumber') }} as nhs_number,
        {{ normalise_name('surname') }} as surname,
        {{ normalise_name('forename') }} as forename,
        {{ name_tokens('surname') }} as surname_tokens,
        {{ typed_date('personbirthdate') }} as birth_date,
        {{ unify_sex('sex') }} as sex_code,
        {{ normalise_postcode('postcode') }} as postcode,
        {{ typed_date('planstartdate') }} as plan_start_date,
        {{ typed_money('educationelementgbp') }} as education_element_gbp,
        {{ typed_money('socialcareelementgbp') }} as social_care_element_gbp,
        {{ typed_money('directpaymentgbp') }} as direct_payment_gbp,
        {{ typed_money('indicativebudgetgbp') }} as indicative_budget_gbp,
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
        coalesce(education_element_gbp, 0) + coalesce(social_care_element_gbp, 0) as total_gbp,
        case
            when direct_payment_gbp = 0 then 'notional'
            when direct_payment_gbp >= coalesce(education_element_gbp, 0) + coalesce(social_care_element_gbp, 0)
                then 'direct_payment'
            else 'mixed'
        end as management_option
    from renamed
)

select * from final
