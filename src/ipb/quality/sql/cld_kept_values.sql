{#- What CLD rows (raw `table`, `feed` social_care) carried that was kept rather than quarantined, counted per
    current council batch for the IG lead: `measures` [(name, condition)]. Reported, never a breach. -#}
{% from '_macros.sql' import batch_label %}
select
    {{ batch_label('b') | sql }} || ': ' || u.measure as location,
    u.n,
    'rows kept and counted' as detail,
    false as breach
from ({% include '_current_batches.sql' %}) as b
cross join
    lateral (
        select
            array[
                {%- for name, condition in measures %}
                    count(*) filter (where {{ condition | sql }}){% if not loop.last %},{% endif %}
                {%- endfor %}
            ] as ns
        from {{ table | ident }} as r
        where r._batch_id = b.batch_id
    ) as s
cross join
    lateral unnest(
        array[{% for name, condition in measures %}{{ name | lit }}{% if not loop.last %}, {% endif %}{% endfor %}], s.ns
    ) as u (measure, n)
where u.n > 0
