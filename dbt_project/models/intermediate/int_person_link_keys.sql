-- Every usable blocking key of the named linkage rules (macros/link_keys.sql): the keys of the identifier rules
-- and of the name rules, computed side by side in two models. A view: the two halves are read once each by label
-- propagation and the index, so a copy would only cost time.
{{ config(materialized="view") }}
with

-- The halves hold every candidate key (their next night recomputes only touched blocks); the usable ones have an id.
by_identifiers as (
    select * from {{ ref('int_person_link_keys_by_identifiers') }}
),

by_names as (
    select * from {{ ref('int_person_link_keys_by_names') }}
),

halves as (
    select * from by_identifiers
    union all
    select * from by_names
),

final as (
    select
        record_seq,
        link_rule,
        rule_priority,
        link_key,
        link_key_id,
        block_size
    from halves
    where link_key_id is not null
)

select * from final
