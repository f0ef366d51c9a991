{#- Small expressions several checks share. Call them as {{ batch_label('b') | sql }}. -#}

{#- A batch as the IG lead reads it: feed/sender batch id. -#}
{% macro batch_label(alias) -%}
{{ alias | ident }}.feed || '/' || coalesce({{ alias | ident }}.sender_code, '-') || ' batch ' || {{ alias | ident }}.batch_id
{%- endmacro %}

{#- `rows` (tuples of text or numbers) as a derived table `alias` with `columns` [(name, type)], or an empty one
    with the same typed columns. Numbers are written as floats. -#}
{% macro values_table(rows, columns, alias) -%}
{%- if rows -%}
(values {% for row in rows %}({% for v in row %}{% if v is string %}{{ v | lit }}{% else %}{{ v | float }}{% endif %}
{%- if not loop.last %}, {% endif %}{% endfor %}){% if not loop.last %}, {% endif %}{% endfor %}) as {{ alias | ident }} (
{%- for name, type in columns %}{{ name | ident }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- else -%}
(select {% for name, type in columns %}null::{{ type | ident }} as {{ name | ident }}{% if not loop.last %}, {% endif %}
{%- endfor %} where false) as {{ alias | ident }}
{%- endif -%}
{%- endmacro %}
