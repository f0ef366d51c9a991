-- The person of every linked record: the connected components of the link keys, as the smallest record_seq of
-- the component. Computed round by round by the pre-hook (macros/label_propagation.sql) into analysed temp
-- tables, stopping when a round changes nothing (at most var('linkage_rounds') rounds).
-- depends_on: {{ ref('int_person_link_keys') }}
{{ config(
    pre_hook="{{ propagate_person_labels(ref('int_person_link_keys'), var('linkage_rounds')) }}",
    post_hook="analyze {{ this }}",
) }}

select
    labels.record_seq,
    labels.label as person_seq
from pg_temp.ipb_person_labels as labels
