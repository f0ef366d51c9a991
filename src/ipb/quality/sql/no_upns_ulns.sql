{#- No analyst-visible value is shaped like a UPN (a letter and 12 characters) or a ULN (10 digits). -#}
{% import '_column_types.sql' as types %}
{% with
    predicate = "upper(btrim(v.x)) ~ '^[A-Z][0-9]{11}[0-9A-Z]$' or btrim(v.x) ~ '^[0-9]{10}$'",
    shape = "octet_length(btrim(v.x)) in (10, 13)",
    what = "values shaped like UPNs (letter + 12) or ULNs (10 digits)",
    column_filter = types.digit_shaped,
    distinct = false
%}{% include '_scan.sql' %}{% endwith %}
