-- Every record of the current snapshots of the three feeds with the identifiers used for linkage: one row per
-- raw row, none dropped (CLD Release 2 names are used where the council sends them).
-- record_seq is fixed from the night a record first appears: taken from the record number map the previous build
-- left (int_person_record_seqs, read directly: the map is built from this model), else the next free number. The
-- map applies the same rule, so both always agree.
{%- set record_seqs = previous_record_seqs() if execute else none %}
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
hashed as (
    select
        canonical.*,
        md5(row(
            canonical.feed, canonical.sender_code, canonical.local_person_id, canonical.nhs_number, canonical.surname,
            canonical.forename, canonical.forename_canonical, canonical.surname_tokens, canonical.birth_date,
            canonical.sex_code, canonical.postcode, canonical.postcode_district
        )::text)::uuid as link_hash
    from canonical
),

{% if record_seqs is not none %}

    previous_seqs as (
        select
            record_id,
            record_seq
        from {{ record_seqs }}
    ),

    next_number as (
        select coalesce(max(record_seq), 0) as n from previous_seqs
    ),

    final as (
        select
            coalesce(
                previous_seqs.record_seq,
                next_number.n + row_number() over (
                    order by previous_seqs.record_seq is not null, hashed.record_id
                )
            ) as record_seq,
            hashed.*
        from hashed
        left join previous_seqs on hashed.record_id = previous_seqs.record_id
        cross join next_number
    )

{% else %}

    final as (
        select
            row_number() over (order by hashed.record_id) as record_seq,
            hashed.*
        from hashed
    )

{% endif %}

select * from final
