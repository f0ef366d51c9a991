-- People of the analytics marts: pseudonymised and minimised (age band, postcode district, sex, organisation
-- codes); opted-out people are removed.
with

people as (
    select * from {{ ref('int_person_demographics') }}
),

as_at as (
    select max(as_at_date) as as_at_date from {{ ref('int_as_at_dates') }}
),

final as (
    select
        people.person_key,
        {{ age_band('people.birth_date', 'as_at.as_at_date') }} as age_band,
        people.sex_code,
        people.postcode_district,
        people.la_gss_code,
        people.icb_code,
        people.feeds,
        people.n_records::int as n_records,
        people.is_linked,
        as_at.as_at_date as age_band_as_at_date
    from people
    cross join as_at
    where not people.is_opted_out
)

select * from final
