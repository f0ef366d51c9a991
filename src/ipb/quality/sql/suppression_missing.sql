{#- A configured published report (`relation`) that was not built is a breach. -#}
select
    {{ (relation ~ ' not built') | lit }} as location,
    1::bigint as n,
    'a published report is missing' as detail,
    true as breach
where to_regclass({{ relation | lit }}) is null
