-- The current snapshot of each sender of each feed, as the view audit.current_batches defines it (the one
-- definition: src/ipb/sql/bootstrap.sql; the gate reads the same view). Every feed's staging keeps only these batches.
{{ config(materialized='view') }}
with

source as (
    select * from {{ source('audit', 'current_batches') }}
),

final as (
    select
        feed,
        sender_code,
        batch_id,
        extract_date
    from source
)

select * from final
