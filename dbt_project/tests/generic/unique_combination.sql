{#- A model-level test: no two rows share the same values of `columns` (the grain of the model). -#}
{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
