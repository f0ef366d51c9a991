-- Every record of the current snapshots of the feeds with the identifiers used for linkage: one row per source
-- record, none dropped. The linkage task (src/ipb/linkage) reads this table whole, links it in its own process and
-- writes the people back (sources `linkage`); names arrive with accents folded by the staging macros
-- (macros/identifiers.sql), and forenames also in their canonical form (the forename_aliases seed).
-- record_seq numbers the records of tonight's build only (a join key for the models after linkage, never kept).
with

phb as (
    select * from {{ ref('stg_nhs_phb__budgets') }}
),

social_care as (
    select * from {{ ref('stg_social_care__events') }}
),

send_persons as (
    select * from {{ ref('stg_send__persons') }}
),

send_budgets as (
    select * from {{ ref('stg_send_budget__budgets') }}
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
        null::text as upn,
        null::text as uln,
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
        null::text as upn,
        null::text as uln,
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
        local_person_id,
        nhs_number,
        upn,
        uln,
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
    from send_persons
    union all
    select
        record_id,
        'send_budget' as feed,
        sender_code,
        local_person_id,
        nhs_number,
        upn,
        uln,
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
    from send_budgets
),

final as (
    select
        row_number() over (order by unioned.record_id) as record_seq,
        unioned.*,
        coalesce(aliases.canonical, unioned.forename) as forename_canonical
    from unioned
    left join aliases on unioned.forename = aliases.alias
)

select * from final
