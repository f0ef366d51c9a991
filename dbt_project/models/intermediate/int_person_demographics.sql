-- One row per person: the demographics the marts minimise (from the person's most trusted record: NHS feed first,
-- then SEND, then social care), their council and ICB, and whether they opted out of planning uses.
-- One join of the index to the records and one sort by person: every per-person value is a window over it (at
-- national scale, four separate joins and groupings took twice as long).
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
        send_feeds.feed,
        orgs.dfe_la_number as sender_code,
        orgs.la_gss_code
    from orgs
    cross join (values ('send'), ('send_budget')) as send_feeds (feed)
    where orgs.dfe_la_number is not null
),

-- One council per sender code (the lowest GSS code when several share it), so the join never repeats a record.
sender_councils as (
    select
        feed,
        sender_code,
        min(la_gss_code) as la_gss_code
    from council_codes
    group by feed, sender_code
),

person_records as (
    select
        person_index.person_seq,
        person_index.person_key,
        person_index.link_rule,
        records.feed,
        records.sender_code,
        records.record_id,
        records.birth_date,
        records.sex_code,
        records.postcode_district,
        sender_councils.la_gss_code,
        opt_out.nhs_number is not null as is_opted_out_record
    from person_index
    inner join records on person_index.record_seq = records.record_seq
    left join sender_councils
        on records.feed = sender_councils.feed and records.sender_code = sender_councils.sender_code
    left join opt_out on records.nhs_number = opt_out.nhs_number
),

ranked as (
    select
        person_seq,
        person_key,
        birth_date,
        sex_code,
        postcode_district,
        row_number() over (
            partition by person_seq
            order by
                case feed when 'nhs_phb' then 1 when 'send' then 2 when 'send_budget' then 3 else 4 end,
                postcode_district is null,
                record_id
        ) as trust_rank,
        -- The council that holds the person's social care or SEND records (lowest GSS code when several).
        min(la_gss_code) over person_records as la_gss_code,
        min(sender_code) filter (where feed = 'nhs_phb') over person_records as icb_code,
        -- The feeds in name order, as string_agg(distinct feed order by feed) would give, without its sort.
        concat_ws(
            ',',
            case when bool_or(feed = 'nhs_phb') over person_records then 'nhs_phb' end,
            case when bool_or(feed = 'send') over person_records then 'send' end,
            case when bool_or(feed = 'send_budget') over person_records then 'send_budget' end,
            case when bool_or(feed = 'social_care') over person_records then 'social_care' end
        ) as feeds,
        count(*) over person_records as n_records,
        bool_or(link_rule != 'unlinked') over person_records as is_linked,
        bool_or(is_opted_out_record) over person_records as is_opted_out
    from person_records
    window person_records as (partition by person_seq)
),

final as (
    select
        ranked.person_seq,
        ranked.person_key,
        ranked.birth_date,
        ranked.sex_code,
        ranked.postcode_district,
        ranked.la_gss_code,
        coalesce(ranked.icb_code, orgs.primary_icb_code) as icb_code,
        ranked.feeds,
        ranked.n_records,
        ranked.is_linked,
        ranked.is_opted_out
    from ranked
    left join orgs on ranked.la_gss_code = orgs.la_gss_code
    where ranked.trust_rank = 1
)

select * from final
