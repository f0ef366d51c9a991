-- Identity conflicts and pairs awaiting review per sender (a pair across two senders counts for each), for the
-- gate and the IG lead. Counts only: the gate's role reads this; the pairs themselves stay in the restricted
-- linkage tables.
with

conflicts as (
    select * from {{ ref('stg_linkage__conflicts') }}
),

review as (
    select * from {{ ref('stg_linkage__review') }}
),

pairs as (
    select
        'identity_conflict' as measure,
        identifier || '_' || reason as reason,
        feed_l,
        sender_l,
        feed_r,
        sender_r
    from conflicts
    union all
    select
        'review' as measure,
        reason,
        feed_l,
        sender_l,
        feed_r,
        sender_r
    from review
),

per_sender as (
    select
        measure,
        reason,
        feed_l as feed,
        sender_l as sender_code
    from pairs
    union all
    select
        measure,
        reason,
        feed_r as feed,
        sender_r as sender_code
    from pairs
    where (feed_r, sender_r) is distinct from (feed_l, sender_l)
),

final as (
    select
        measure,
        feed,
        sender_code,
        reason,
        count(*)::bigint as pairs
    from per_sender
    group by measure, feed, sender_code, reason
)

select * from final
