{#- One row that is not a breach: what a check measured (its `location` says it). -#}
select
    {{ location | lit }} as location,
    0::bigint as n,
    null::text as detail,
    false as breach
