{#- Splink's links per match weight band (`linkage_view`), and per sender and reason the identity conflicts and pairs
    awaiting review (`pairs_view`), counted for the IG lead; fails when all senders' conflicts exceed
    `max_conflicts` or review pairs exceed `max_review` (a sender's feed gone wrong). -#}
select
    'records linked by Splink, match weight ' || weight_band as location,
    sum(records)::bigint as n,
    'counted' as detail,
    false as breach
from {{ linkage_view | ident }}
where link_rule = 'splink'
group by weight_band
union all
select *
from (
    with per_sender as (
        select
            measure,
            feed,
            sender_code,
            reason,
            sum(pairs)::bigint as pairs
        from {{ pairs_view | ident }}
        group by measure, feed, sender_code, reason
    ),

    totals as (
        select
            coalesce(sum(pairs) filter (where measure = 'identity_conflict'), 0)::bigint as conflicts,
            coalesce(sum(pairs) filter (where measure = 'review'), 0)::bigint as review
        from {{ pairs_view | ident }}
    )

    select
        measure || ' ' || feed || '/' || coalesce(sender_code, '?') || ': ' || reason as location,
        pairs as n,
        'counted (not linked)' as detail,
        false as breach
    from per_sender
    union all
    select
        'identity conflicts (pairs, all senders)' as location,
        t.conflicts as n,
        {{ ('at most ' ~ max_conflicts) | lit }} as detail,
        t.conflicts > {{ max_conflicts }} as breach
    from totals as t
    union all
    select
        'pairs awaiting review (all senders)' as location,
        t.review as n,
        {{ ('at most ' ~ max_review) | lit }} as detail,
        t.review > {{ max_review }} as breach
    from totals as t
) as pairs
