-- The record number map and its change log (incremental): one row per record id ever seen, with its number (given
-- by int_person_records, which reads this map as the previous build left it), the record's link hash, whether it
-- is in the current snapshots, and change_seq: when it last appeared, changed its link hash, left the snapshots
-- (withdrawn) or came back. Incremental link keys take the records changed since they last ran (change_seq
-- above their own applied_change_seq). change_seq is the run's start in milliseconds since 1970, so it only
-- grows, also when the map is rebuilt with --full-refresh (then every record counts as changed and the link keys
-- rebuild too).
{{ config(
    materialized='incremental',
    unique_key='record_id',
    incremental_strategy='delete+insert',
    post_hook="analyze {{ this }}",
) }}

with

records as (
    select
        record_id,
        record_seq,
        link_hash
    from {{ ref('int_person_records') }}
),

{% if is_incremental() %}

    previous as (
        select * from {{ this }}
    ),

    run as (
        select
            greatest(
                (extract(epoch from statement_timestamp()) * 1000)::bigint,
                (select coalesce(max(previous.change_seq), 0) + 1 from previous)
            ) as change_seq
    ),

    -- New, changed, withdrawn and returning records; an unchanged record is not touched.
    changes as (
        select
            coalesce(records.record_id, previous.record_id) as record_id,
            coalesce(records.record_seq, previous.record_seq) as record_seq,
            records.link_hash,
            records.record_id is not null as is_current
        from records
        full outer join previous on records.record_id = previous.record_id
        where
            previous.record_id is null
            or (records.record_id is null and previous.is_current)
            or (records.record_id is not null and (not previous.is_current or records.link_hash != previous.link_hash))
    ),

    final as (
        select
            changes.record_id,
            changes.record_seq,
            changes.link_hash,
            changes.is_current,
            run.change_seq
        from changes
        cross join run
    )

{% else %}

    final as (
        select
            records.record_id,
            records.record_seq,
            records.link_hash,
            true as is_current,
            (extract(epoch from statement_timestamp()) * 1000)::bigint as change_seq
        from records
    )

{% endif %}

select * from final
