{#- A contract code list seed (seeds/contract/*_codes.csv) keyed for matching: any accepted spelling, any case,
    trimmed (FEEDS.md common rules). Join on code_list and spelling_key; take value (canonical) or warehouse_code. -#}
{% macro contract_codes(seed) -%}
    select
        code_list,
        lower(trim(spelling)) as spelling_key,
        value,
        warehouse_code
    from {{ ref(seed) }}
{%- endmacro %}
