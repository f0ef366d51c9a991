-- Every usable blocking key of the named linkage rules (macros/link_keys.sql): the keys of the identifier rules
-- and of the name rules, computed side by side in two models. A view: the two halves are read once each by label
-- propagation and the index, so a copy would only cost time.
{{ config(materialized="view") }}
with

by_identifiers as (
    select * from {{ ref('int_person_link_keys_by_identifiers') }}
),

by_names as (
    select * from {{ ref('int_person_link_keys_by_names') }}
),

final as (
    select * from by_identifiers
    union all
    select * from by_names
)

select * from final
