{#- The linkage task's output covers exactly tonight's records: a record of `records` without a row in the model
    (or the other way round) means the linkage tables are from another run. Returns counts only. -#}
{% test linkage_covers_records(model, records) %}
    select 'record without a person' as problem, count(*) as n
    from {{ records }} as r
    where not exists (select 1 from {{ model }} as m where m.record_id = r.record_id)
    having count(*) > 0
    union all
    select 'person row without a record' as problem, count(*) as n
    from {{ model }} as m
    where not exists (select 1 from {{ records }} as r where r.record_id = m.record_id)
    having count(*) > 0
{% endtest %}
