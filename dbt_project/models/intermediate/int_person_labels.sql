-- The person of every linked record: the connected components of the link keys, as the smallest record_seq of
-- the component. Computed round by round by the pre-hook (macros/label_propagation.sql) into analysed temp
-- tables, stopping when a round changes nothing (at most var('linkage_rounds') rounds). Incremental: the next
-- night relabels only the region its changes reach (the pre-hook deletes the region's old labels; the new ones
-- are appended).
-- depends_on: {{ ref('int_person_link_keys') }}
-- depends_on: {{ ref('int_person_link_keys_by_identifiers') }} {{ ref('int_person_link_keys_by_names') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ propagate_person_labels(ref('int_person_link_keys'), var('linkage_rounds'),
        [ref('int_person_link_keys_by_identifiers'), ref('int_person_link_keys_by_names')],
        ref('int_person_record_seqs')) }}",
    post_hook="analyze {{ this }}",
) }}

with

labels as (
    select * from pg_temp.ipb_person_labels
),

run as (
    select max(change_seq) as change_seq from {{ ref('int_person_record_seqs') }}
),

final as (
    select
        labels.record_seq,
        labels.label as person_seq,
        run.change_seq as applied_change_seq,
        {{ person_build_version(link_keys_version_text(
            [ref('int_person_link_keys_by_identifiers'), ref('int_person_link_keys_by_names')]
        )) }} as build_version
    from labels
    cross join run
)

select * from final
