-- Tonight's person of each record, as the linkage task wrote it (src/ipb/linkage, docs/linkage.md). Ephemeral: a
-- view would pin the table the task swaps in each night.
{{ config(materialized='ephemeral') }}
with

source as (
    select * from {{ source('linkage', 'linkage_person_links') }}
),

final as (
    select
        record_id,
        person_anchor,
        person_number,
        link_rule,
        match_weight
    from source
)

select * from final
