{#- Validity rate of one identifier (`kind`: nhs_number or upn, in `column`) per current batch of `feed`: valid /
    (present in raw `table` + quarantined for `reason`). A batch that sent fewer than `min_sent` identifiers is
    reported but cannot breach (a rate of 4 in 6 is noise, not a trend); otherwise below `minimum` breaches. -#}
{% from '_macros.sql' import batch_label %}
select
    {{ batch_label('b') | sql }} as location,
    s.present - s.valid + coalesce(q.n, 0) as n,
    s.valid || ' of ' || (s.present + coalesce(q.n, 0)) || ' valid, rate '
    || coalesce(round(s.valid::numeric / nullif(s.present + coalesce(q.n, 0), 0), 4)::text, 'n/a (none sent)')
    || ', threshold ' || {{ minimum }} || {{ (' from ' ~ min_sent ~ ' sent') | lit }} as detail,
    s.present + coalesce(q.n, 0) >= {{ min_sent }}
    and coalesce(s.valid::numeric / nullif(s.present + coalesce(q.n, 0), 0), 1) < {{ minimum }} as breach
from ({% include '_current_batches.sql' %}) as b
cross join
    lateral (
        select
            count(*) filter (where nullif(btrim(r.{{ column | ident }}), '') is not null) as present,
            {%- if kind == 'nhs_number' %}
                count(*) filter (where util.is_valid_nhs_number(r.{{ column | ident }})) as valid
            {%- else %}
                count(*) filter (where util.is_valid_upn(upper(btrim(r.{{ column | ident }})))) as valid
            {%- endif %}
        from {{ table | ident }} as r
        where r._batch_id = b.batch_id
    ) as s
left join (
    select
        batch_id,
        sum(row_count)::bigint as n
    from quarantine.reason_counts
    where reason_code = {{ reason | lit }}
    group by batch_id
) as q on b.batch_id = q.batch_id
