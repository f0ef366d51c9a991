-- The latest loaded national data opt-out list (latest extract date, ties: highest batch id).
with

source as (
    select * from {{ source('national_opt_out', 'national_opt_out') }}
),

batches as (
    select * from {{ ref('stg_audit__batches') }}
),

-- A list is usable unless the batch log says it was not loaded.
usable_lists as (
    select distinct
        source._batch_id,
        source._extract_date
    from source
    left join batches on source._batch_id = batches.batch_id
    where batches.batch_id is null or batches.status = 'loaded'
),

latest_list as (
    select _batch_id
    from usable_lists
    order by _extract_date desc, _batch_id desc
    limit 1
),

final as (
    select distinct {{ valid_nhs_number('source.nhs_number') }} as nhs_number
    from source
    inner join latest_list on source._batch_id = latest_list._batch_id
    where {{ valid_nhs_number('source.nhs_number') }} is not null
)

select * from final
