
{#- A descriptive CLD field (FEEDS.md): its canonical value, 'Unknown' when present but outside its code list, NULL when
    blank. Unknowns keep their row and are counted per sender in the validation report. -#}
{% macro cld_descriptive(raw, canonical) -%}
    case when nullif(trim({{ raw }}), '') is not null then coalesce({{ canonical }}, 'Unknown') end
{%- endmacro %}

{#- A CLD service's last version closed by its absence from the council's next file (not by a change), still open
    or ending after the reporting period of the last file it was in: it ended at that period's end. -#}
{% macro withdrawn_from_rolling_window(v) -%}
    (
        {{ v }}.feed = 'social_care'
        and {{ v }}.dbt_valid_to is not null
        and {{ v }}.version_number = {{ v }}.versions_of_component
        and {{ v }}.reporting_period_end_date is not null
        and ({{ v }}.end_date is null or {{ v }}.end_date > {{ v }}.reporting_period_end_date)
    )
{%- endmacro %}
