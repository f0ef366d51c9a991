-- The loader's batch log: one row per file it saw, with its status (a view: the log is small and changes all day).
{{ config(materialized='view') }}
with

source as (
    select * from {{ source('audit', 'batches') }}
),

final as (
    select
        batch_id,
        feed,
        sender_code,
        extract_date,
        status,
        loaded_at
    from source
)

select * from final
