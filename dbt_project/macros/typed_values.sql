{#-
    Feed values as typed columns, cast by the util.to_* functions of src/ipb/sql/util.sql: the very functions the
    loader's row rules parse them with (src/ipb/ingest/rules.py), so a value that loaded always casts, and a value
    they refuse never loaded (NULL here only for blanks, or rows loaded before a range existed). The type modifiers
    below only name the staging column types (PostgreSQL drops a function's own); every value the functions return
    fits them (tests/test_ingest_types.py). Ranges and reasons: docs/feed-types.md.
-#}

{#- Pounds and pence, -9999999.99 to 9999999.99. -#}
{% macro typed_money(expr) -%}
    util.to_money({{ expr }})::numeric(12, 2)
{%- endmacro %}

{#- Units a week (CLD Planned_units_per_week), 0 to 1000, 2 decimals. -#}
{% macro typed_units(expr) -%}
    util.to_units({{ expr }})::numeric(10, 2)
{%- endmacro %}

{#- A calendar date, 1900-01-01 to 9999-12-31, in the file's detected format (raw `_date_format`: iso or dmy). -#}
{% macro typed_date(expr, date_format='_date_format') -%}
    util.to_date({{ expr }}, {{ date_format }})
{%- endmacro %}

{#- A timestamp with time zone, 1900-01-01 to before 9999-12-31 UTC. -#}
{% macro typed_timestamp(expr) -%}
    util.to_timestamp({{ expr }})
{%- endmacro %}
