-- Pairs the linkage task left for review (not linked). Ephemeral: a view would pin the table the task swaps in.
{{ config(materialized='ephemeral') }}
with

source as (
    select * from {{ source('linkage', 'linkage_review') }}
),

final as (
    select
        reason,
        match_weight,
        record_id_l,
        feed_l,
        sender_l,
        record_id_r,
        feed_r,
        sender_r
    from source
)

select * from final
