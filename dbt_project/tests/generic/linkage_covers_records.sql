{#- The linkage task's output covers exactly tonight's records: one row of the model per record of `records`, and
    as many person links as records (`links`, the task's table). A model built from `records` by an inner join on
    their unique record_id (as int_person_index is) has a row for every record exactly when the counts agree, so
    the test counts rows instead of joining 1.7 million ids twice (5 s at national scale). A record without a
    person, or links from another run (fewer, or more, than tonight's records), fail it. Returns counts only. -#}
{% test linkage_covers_records(model, records, links) %}
    with counts as (
        select
            (select count(*) from {{ records }}) as n_records,
            (select count(*) from {{ model }}) as n_model,
            (select count(*) from {{ links }}) as n_links
    )

    select 'record without a person' as problem, n_records - n_model as n
    from counts
    where n_model < n_records
    union all
    select 'more person rows than records' as problem, n_model - n_records as n
    from counts
    where n_model > n_records
    union all
    select 'person links not from tonight''s records' as problem, abs(n_links - n_records) as n
    from counts
    where n_links <> n_records
{% endtest %}
