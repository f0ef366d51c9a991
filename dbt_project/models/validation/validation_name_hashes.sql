-- SHA-256 of every normalised forename, surname, surname part and full name in the linkage layer, so the gate can
-- prove no analyst-visible value is a name without its role ever reading a name.
with

records as (
    select * from {{ ref('int_person_records') }}
),

names as (
    select surname as name from records
    union
    select forename as name from records
    union
    select forename_canonical as name from records
    union
    select forename || surname as name from records
    union
    select surname || forename as name from records
    union
    select regexp_split_to_table(surname_tokens::text, '[^A-Z]+') as name from records
),

normalised as (
    select distinct {{ normalise_name('name') }} as name
    from names
),

final as (
    select encode(sha256(convert_to(name, 'UTF8')), 'hex') as name_hash
    from normalised
    where length(name) >= 2
)

select * from final
