{#- Per SEND council (`view`, built by dbt): plans and budgets by how they matched, needs kept as Unknown, invalid
    optional UPNs and ULNs kept without them. Reported, never a breach. -#}
select
    'send ' || sender_code || ': ' || replace(measure, '_', ' ') as location,
    n,
    'counted, not an error' as detail,
    false as breach
from {{ view | ident }}
