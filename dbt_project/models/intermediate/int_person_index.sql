-- One person per record: the people the linkage task found (source linkage.linkage_person_links, written between
-- the two dbt steps of a night), the rule or match weight that linked each record, and the person key: the HMAC
-- pseudonym of the person's stable anchor (docs/linkage.md). A plain table, rebuilt whole every night.
with

records as (
    select * from {{ ref('int_person_records') }}
),

links as (
    select * from {{ ref('stg_linkage__person_links') }}
),

final as (
    select
        records.record_seq,
        records.record_id,
        records.feed,
        records.sender_code,
        links.person_number as person_seq,
        {{ pseudonymise('links.person_anchor') }} as person_key,
        links.link_rule,
        links.match_weight,
        count(*) over (partition by links.person_number) as person_n_records
    from records
    inner join links on records.record_id = links.record_id
)

select * from final
