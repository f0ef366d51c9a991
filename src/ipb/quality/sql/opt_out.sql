{#- No person key of a person on the national data opt-out list (`keys_view`) appears in an analyst table. -#}
{% import '_column_types.sql' as types %}
{% with
    predicate = "v.x in (select person_key from " ~ (keys_view | ident) ~ ")",
    shape = "octet_length(v.x) in (select distinct octet_length(person_key) from " ~ (keys_view | ident) ~ ")",
    what = "person keys of people who opted out",
    column_filter = "a.atttypid in " ~ types.text,
    distinct = false
%}{% include '_scan.sql' %}{% endwith %}
