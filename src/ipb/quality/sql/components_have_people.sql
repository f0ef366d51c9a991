{#- Each budget component (`components`) carries a person key (`key`) present in the person dimension (`people`). -#}
select
    {{ (components ~ ': components without a person key') | lit }} as location,
    count(*) as n,
    null as detail,
    count(*) > 0 as breach
from {{ components | ident }} as c
where c.{{ key | ident }} is null
union all
select
    {{ (components ~ ': components whose person is not in ' ~ people) | lit }} as location,
    count(*) as n,
    null as detail,
    count(*) > 0 as breach
from {{ components | ident }} as c
where
    c.{{ key | ident }} is not null
    and not exists (
        select 1 from {{ people | ident }} as p
        where p.{{ key | ident }} = c.{{ key | ident }}
    )
union all
select
    {{ (components ~ ': components checked') | lit }} as location,
    count(*) as n,
    null as detail,
    false as breach
from {{ components | ident }}
