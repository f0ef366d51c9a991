-- DuckDB, in the linkage task's own process. Input: table `rec` (int_person_records' linkage columns).

-- A demographic profile: the values Splink compares. Records with the same profile are scored once.
-- Only records with a forename and a birth date take part in Splink (never a link on birth date and postcode).
create table rec_p as
select
    *,
    case
        when forename is not null and birth_date is not null
            then hash(forename, forename_canonical, surname, surname_tokens, birth_date, sex_code, postcode,
                      postcode_district)
    end as pkey,
    -- An atom: records that are one person whatever else is true (same identifiers and same demographics, e.g. a
    -- social care client's many event rows). A record with no identifier is an atom of its own.
    case
        when coalesce(nhs_number, upn, local_person_id) is not null
            then hash(feed, sender_code, local_person_id, nhs_number, upn, forename, surname, birth_date, sex_code,
                      postcode)
        else hash(record_id)
    end as akey
from rec;

drop table rec;  -- rec_p holds every column: one copy of the input in memory, not two

create table atoms as
select
    row_number() over (order by akey) - 1 as atom,
    akey,
    any_value(feed) as feed,
    any_value(sender_code) as sender_code,
    any_value(local_person_id) as local_person_id,
    any_value(nhs_number) as nhs_number,
    any_value(upn) as upn,
    any_value(birth_date) as birth_date,
    any_value(sex_code) as sex_code,
    any_value(pkey) as pkey,
    count(*) as n_records,
    min(record_id) as first_record
from rec_p
group by akey;

create table profiles as
select
    row_number() over (order by pkey) - 1 as unique_id,
    pkey,
    any_value(forename) as forename,
    any_value(forename_canonical) as forename_canonical,
    any_value(surname) as surname,
    any_value(string_split(surname_tokens, ' ')) as surname_tokens,
    any_value(birth_date) as birth_date,
    any_value(sex_code) as sex_code,
    any_value(postcode) as postcode,
    any_value(postcode_district) as postcode_district,
    regexp_extract(any_value(postcode), '^[A-Z]+') as postcode_area  -- the letters: a town or county
from rec_p
where pkey is not null
group by pkey;

-- Each profile's atoms, its head atom first (Splink's links join head atoms; the others join their head).
create table profile_atoms as
select
    p.unique_id,
    a.atom,
    min(a.atom) over (partition by p.unique_id) as head,
    count(*) over (partition by p.unique_id) as n_atoms
from profiles as p
inner join atoms as a on p.pkey = a.pkey;

-- Identifier groups for the deterministic passes: atoms sharing an NHS number or a UPN, split by birth date and
-- sex (an `id profile`); a local id of one sender's feed.
create table id_profiles as
select
    kind,
    value,
    birth_date,
    sex_code,
    min(atom) as head,
    list(atom) as members
from (
    select 'nhs_number' as kind, nhs_number as value, birth_date, sex_code, atom from atoms
    where nhs_number is not null
    union all
    select 'upn' as kind, upn as value, birth_date, sex_code, atom from atoms where upn is not null
)
group by kind, value, birth_date, sex_code;
