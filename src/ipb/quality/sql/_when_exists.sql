{#- The rows of `query` when `relation` exists, none otherwise: a feed that never arrived has no raw table, and a
    query naming a missing table cannot even be planned, so it is passed as text to quality.query_rows (created by
    ipb.quality.gate.prepare), which runs it with the caller's rights. -#}
{% set empty %}{% include '_empty.sql' %}{% endset -%}
select *
from quality.query_rows(
    case
        when to_regclass({{ relation | lit }}) is not null then {{ query | lit }}
        else {{ empty | lit }}
    end
)
