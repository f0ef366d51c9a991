-- Linkage counts for the publication gate and the IG lead: records per feed, sender, rule and (for Splink) match
-- weight band. A record whose person has no other record is `unlinked`; a record without a person key is
-- `no_person_key`. Counts only: the gate's role reads this. Pairs (conflicts, review) are in
-- validation_linkage_pairs.
with

person_index as (
    select * from {{ ref('int_person_index') }}
),

classified as (
    select
        feed,
        sender_code,
        case
            when person_key is null then 'no_person_key'
            when person_n_records = 1 then 'unlinked'
            else link_rule
        end as link_rule,
        case
            when link_rule != 'splink' or person_n_records = 1 then null
            when match_weight >= 20 then '20+'
            when match_weight >= 15 then '15-20'
            when match_weight >= 10 then '10-15'
            else 'under 10'
        end as weight_band
    from person_index
),

final as (
    select
        feed,
        sender_code,
        link_rule,
        weight_band,
        count(*)::bigint as records
    from classified
    group by feed, sender_code, link_rule, weight_band
)

select * from final
