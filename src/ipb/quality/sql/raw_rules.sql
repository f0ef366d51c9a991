{#- Rows of `feed`'s current snapshots (raw `table`) that break one of its `rules` [(name, condition)]: must be none,
    the loader quarantines them. One pass per batch: a filtered count per rule (not a row per row and rule, which
    took twice as long at national scale). Each row's dates and amounts are parsed once (`typed_projection`; offset 0
    keeps the projection from being inlined per rule).

    A row equal (same _row_hash) to a row of the sender's latest earlier batch that this check (`check_key`) passed
    with the same rules (`fingerprint`, recorded in `checked_batches` by the gate) passed them, so only new and
    changed rows are checked. A measured row per feed says how many rows were checked. -#}
{% from '_macros.sql' import batch_label %}
with b as (
    select
        cur.batch_id,
        cur.feed,
        cur.sender_code,
        (
            select max(c.batch_id)
            from {{ checked_batches | ident }} as c
            inner join audit.batches as cb on c.batch_id = cb.batch_id
            where
                c.check_key = {{ check_key | lit }}
                and c.rules_fingerprint = {{ fingerprint | lit }}
                and cb.feed = cur.feed
                and cb.sender_code is not distinct from cur.sender_code
                and c.batch_id <> cur.batch_id
        ) as checked_batch_id
    from ({% include '_current_batches.sql' %}) as cur
),

s as (
    select
        b.batch_id,
        b.feed,
        b.sender_code,
        s.ns,
        s.n_rows,
        lb.rows_loaded
    from b
    inner join audit.batches as lb on b.batch_id = lb.batch_id
    cross join lateral (
        select
            array[
                {%- for name, condition in rules %}
                    count(*) filter (where {{ condition | sql }}){% if not loop.last %},{% endif %}
                {%- endfor %}
            ] as ns,
            count(*) as n_rows
        from (
            -- A sender with no batch this check passed has every row checked: that branch has no anti-join (its
            -- condition on `b` alone is tested once per batch), which hashed every wide raw row to find none.
            select unioned.*
            from (
                select r.*{{ typed_projection | sql }}
                from {{ table | ident }} as r
                where
                    r._batch_id = b.batch_id
                    and b.checked_batch_id is null
                union all
                select r.*{{ typed_projection | sql }}
                from {{ table | ident }} as r
                where
                    r._batch_id = b.batch_id
                    and b.checked_batch_id is not null
                    and not exists (
                        select from {{ table | ident }} as g
                        where g._batch_id = b.checked_batch_id and g._row_hash = r._row_hash
                    )
            ) as unioned
            -- No limit: offset 0 is a fence that keeps the parsed columns from being inlined per rule.
            offset 0  -- noqa: AM09
        ) as r
    ) as s
)

select
    {{ batch_label('s') | sql }} || ': ' || u.rule as location,
    u.n,
    'rows breaking the rule' as detail,
    true as breach
from s
cross join
    lateral unnest(
        array[{% for name, condition in rules %}{{ name | lit }}{% if not loop.last %}, {% endif %}{% endfor %}], s.ns
    ) as u (rule, n)
where u.n > 0
union all
select
    {{ (feed ~ ': rows checked') | lit }} as location,
    coalesce(sum(s.n_rows), 0)::bigint as n,
    'of ' || coalesce(sum(s.rows_loaded), 0) || ' rows: the others equal rows of a batch this check passed'
        as detail,
    false as breach
from s
