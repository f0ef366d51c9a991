{#- No analyst-visible value is 10 digits (spaces allowed) passing the NHS modulus-11 check. -#}
{% import '_column_types.sql' as types %}
{% with
    predicate = "v.x ~ '^[0-9 ]{10,13}$' and util.is_valid_nhs_number(v.x)",
    shape = "octet_length(v.x) between 10 and 13",
    what = "values that look like NHS numbers (10 digits, valid check digit)",
    column_filter = types.digit_shaped,
    distinct = false
%}{% include '_scan.sql' %}{% endwith %}
