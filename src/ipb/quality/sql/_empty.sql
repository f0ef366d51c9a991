{#- No rows, with the columns every check returns. -#}
select
    null::text as location,
    0::bigint as n,
    null::text as detail,
    false as breach
where false
