-- Every record of the current snapshots of the three feeds with the identifiers used for linkage: one row per
-- raw row, none dropped (social care has no names by design; CLD links on NHS number, local id and demographics).
-- A view, read by the record number map (int_person_record_seqs) and by int_person_records, which adds the number.
{{ config(materialized='view') }}

with

phb as (
    select * from {{ ref('stg_nhs_phb__budgets') }}
),

social_care as (
    select * from {{ ref('stg_social_care__events') }}
),

send as (
    select * from {{ ref('stg_send__ehc_plans') }}
),

aliases as (
    select * from {{ ref('forename_aliases') }}
),

unioned as (
    select
        record_id,
        'nhs_phb' as feed,
        sender_code,
        null::text as local_person_id,
        nhs_number,
        surname,
        forename,
        surname_tokens,
        birth_date,
        sex_code,
        postcode,
        postcode_district,
        source_file_name,
        source_row_number,
        extract_date
    from phb
    union all
    select
        record_id,
        'social_care' as feed,
        sender_code,
        la_person_id as local_person_id,
        nhs_number,
        null::text as surname,
        null::text as forename,
        null::text as surname_tokens,
        birth_date,
        sex_code,
        postcode,
        postcode_district,
        source_file_name,
        source_row_number,
        extract_date
    from social_care
    union all
    select
        record_id,
        'send' as feed,
        sender_code,
        la_person_id as local_person_id,
        nhs_number,
        surname,
        forename,
        surname_tokens,
        birth_date,
        sex_code,
        postcode,
        postcode_district,
        source_file_name,
        source_row_number,
        extract_date
    from send
),

canonical as (
    select
        unioned.*,
        coalesce(aliases.canonical, unioned.forename) as forename_canonical
    from unioned
    left join aliases on unioned.forename = aliases.alias
),

-- The record's linkage identity: every value a link rule reads (macros/link_keys.sql). A record whose hash is
-- unchanged keeps its link keys from one night to the next.
final as (
    select
        canonical.*,
        md5(row(
            canonical.feed, canonical.sender_code, canonical.local_person_id, canonical.nhs_number, canonical.surname,
            canonical.forename, canonical.forename_canonical, canonical.surname_tokens, canonical.birth_date,
            canonical.sex_code, canonical.postcode, canonical.postcode_district
        )::text)::uuid as link_hash
    from canonical
)

select * from final
