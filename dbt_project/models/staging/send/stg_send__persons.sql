-- Current snapshot of each council's SEN2 return, one row per Person element (FEEDS.md "Feed send", docs/feeds.md).
-- SEN2 has no person id: a person's record is keyed by a hash of their UPN, else ULN, else surname, forename and
-- birth date (the restricted layer only; marts never see it), so the same child keeps their record id from one
-- return to the next. Invalid optional identifiers are absent here (the row is kept; the gate counts them).
with

current_batches as (
    select * from {{ ref('stg_audit__current_batches') }}
    where feed = 'send'
),

source as (
    select * from {{ source('send', 'send') }}
    where _batch_id in (select current_batches.batch_id from current_batches)
),

-- Materialized: every identifier is checked once per Person. Inlined, the UPN check ran four times (the UPN, its
-- invalid flag, twice in the identity hash) and the names twice, after the sort of the whole wide row.
renamed as materialized (
    select
        _sender_code as sender_code,
        lea as dfe_la_number,
        {{ valid_upn('upn') }} as upn,
        {{ valid_uln('uniquelearnernumber') }} as uln,
        nullif(btrim(upn), '') is not null and {{ valid_upn('upn') }} is null as has_invalid_upn,
        nullif(btrim(uniquelearnernumber), '') is not null
        and {{ valid_uln('uniquelearnernumber') }} is null as has_invalid_uln,
        {{ normalise_name('surname') }} as surname,
        {{ normalise_name('forename') }} as forename,
        {{ name_tokens('surname') }} as surname_tokens,
        {{ typed_date('personbirthdate') }} as birth_date,
        {{ unify_sex('sex') }} as sex_code,
        {{ normalise_postcode('postcode') }} as postcode,
        coalesce(requests::jsonb, '[]'::jsonb) as requests,
        _date_format as date_format,
        {{ staged_lineage() }}
    from source
),

keyed as (
    select
        *,
        case
            when upn is not null then 'upn:' || md5(upn)
            when uln is not null then 'uln:' || md5(uln)
            else 'demographics:' || md5(concat_ws('|', surname, forename, birth_date))
        end as identity_hash
    from renamed
),

final as (
    select
        -- A second Person with the same identity in one return (a duplicate export) gets its own record.
        'send:' || sender_code || ':' || identity_hash
        || case
            when row_number() over (partition by sender_code, identity_hash order by source_row_number) > 1
                then ':' || row_number() over (partition by sender_code, identity_hash order by source_row_number)
            else ''
        end as record_id,
        sender_code,
        dfe_la_number,
        null::text as local_person_id,
        null::text as nhs_number,
        upn,
        uln,
        has_invalid_upn,
        has_invalid_uln,
        surname,
        forename,
        surname_tokens,
        birth_date,
        sex_code,
        postcode,
        {{ postcode_district('postcode') }} as postcode_district,
        requests,
        date_format,
        batch_id,
        source_file_name,
        source_row_number,
        extract_date
    from keyed
)

select * from final
