
{#- A descriptive CLD field (FEEDS.md): its canonical value, 'Unknown' when present but outside its code list, NULL when
    blank. Unknowns keep their row and are counted per sender in the validation report. -#}
{% macro cld_descriptive(raw, canonical) -%}
    case when nullif(trim({{ raw }}), '') is not null then coalesce({{ canonical }}, 'Unknown') end
{%- endmacro %}
