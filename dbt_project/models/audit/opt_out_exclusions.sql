-- The IG lead's count of what the national data opt-out removed from the marts, per feed (counts only).
with

records as (
    select * from {{ ref('int_person_records') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

people as (
    select * from {{ ref('int_person_demographics') }}
),

opt_out as (
    select * from {{ ref('stg_audit__national_opt_out') }}
),

feeds as (
    select unnest(array['nhs_phb', 'social_care', 'send', 'send_budget']) as feed
),

excluded as (
    select
        records.feed,
        person_index.person_seq
    from records
    inner join person_index on records.record_seq = person_index.record_seq
    inner join people on person_index.person_seq = people.person_seq
    where people.is_opted_out
),

final as (
    select
        feeds.feed,
        count(distinct excluded.person_seq)::bigint as people_excluded,
        count(excluded.person_seq)::bigint as records_excluded,
        (select count(*) from opt_out)::bigint as opt_out_list_size,
        now() as counted_at
    from feeds
    left join excluded on feeds.feed = excluded.feed
    group by feeds.feed
)

select * from final
