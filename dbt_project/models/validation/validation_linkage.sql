-- Linkage counts for the publication gate: records per feed and rule. A record whose person has no other record
-- is `unlinked`; a record without a person key is `no_person_key`. Counts only: the gate's role reads this.
with

person_index as (
    select * from {{ ref('int_person_index') }}
),

classified as (
    select
        feed,
        case
            when person_key is null then 'no_person_key'
            when person_n_records = 1 then 'unlinked'
            else link_rule
        end as link_rule
    from person_index
),

final as (
    select
        feed,
        link_rule,
        count(*)::bigint as records
    from classified
    group by feed, link_rule
)

select * from final
