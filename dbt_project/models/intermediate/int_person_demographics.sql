-- One row per person: the demographics the marts minimise (from the person's most trusted record: NHS feed first,
-- then SEND, then social care), their council and ICB, and whether they opted out of planning uses.
with

records as (
    select * from {{ ref('int_person_records') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

opt_out as (
    select * from {{ ref('stg_audit__national_opt_out') }}
),

orgs as (
    select * from {{ ref('organisations') }}
),

ranked as (
    select
        person_index.person_seq,
        person_index.person_key,
        records.birth_date,
        records.sex_code,
        records.postcode_district,
        row_number() over (
            partition by person_index.person_seq
            order by
                case records.feed when 'nhs_phb' then 1 when 'send' then 2 else 3 end,
                records.postcode_district is null,
                records.record_id
        ) as trust_rank
    from person_index
    inner join records on person_index.record_seq = records.record_seq
),

-- Each council's sender code per feed (CLD LA code, DfE LA number): one equality join, so a hash join.
council_codes as (
    select
        'social_care' as feed,
        cld_la_code as sender_code,
        la_gss_code
    from orgs
    where cld_la_code is not null
    union all
    select
        'send' as feed,
        dfe_la_number as sender_code,
        la_gss_code
    from orgs
    where dfe_la_number is not null
),

-- The council that holds the person's social care or SEND records (lowest GSS code when several).
councils as (
    select
        person_index.person_seq,
        min(council_codes.la_gss_code) as la_gss_code
    from person_index
    inner join records on person_index.record_seq = records.record_seq
    inner join council_codes
        on records.feed = council_codes.feed and records.sender_code = council_codes.sender_code
    group by person_index.person_seq
),

icbs as (
    select
        person_index.person_seq,
        min(records.sender_code) as icb_code
    from person_index
    inner join records on person_index.record_seq = records.record_seq
    where records.feed = 'nhs_phb'
    group by person_index.person_seq
),

opted_out as (
    select distinct person_index.person_seq
    from person_index
    inner join records on person_index.record_seq = records.record_seq
    inner join opt_out on records.nhs_number = opt_out.nhs_number
),

person_feeds as (
    select
        person_seq,
        string_agg(distinct feed, ',' order by feed) as feeds,
        count(*) as n_records,
        min(link_rule) filter (where link_rule != 'unlinked') as any_link_rule
    from person_index
    group by person_seq
),

final as (
    select
        ranked.person_seq,
        ranked.person_key,
        ranked.birth_date,
        ranked.sex_code,
        ranked.postcode_district,
        councils.la_gss_code,
        coalesce(icbs.icb_code, orgs.primary_icb_code) as icb_code,
        person_feeds.feeds,
        person_feeds.n_records,
        person_feeds.any_link_rule is not null as is_linked,
        opted_out.person_seq is not null as is_opted_out
    from ranked
    inner join person_feeds on ranked.person_seq = person_feeds.person_seq
    left join councils on ranked.person_seq = councils.person_seq
    left join icbs on ranked.person_seq = icbs.person_seq
    left join orgs on councils.la_gss_code = orgs.la_gss_code
    left join opted_out on ranked.person_seq = opted_out.person_seq
    where ranked.trust_rank = 1
)

select * from final
