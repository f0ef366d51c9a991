{#- No analyst-visible value is a full UK postcode (util.is_valid_postcode: 5-7 characters once spaces are removed).
    Numeric columns are skipped: a number never prints the two letters a postcode ends in. -#}
{% import '_column_types.sql' as types %}
{% with
    predicate = "v.x ~ '[0-9][A-Za-z]{2}\\s*$' and util.is_valid_postcode(v.x)",
    shape = "octet_length(replace(v.x, ' ', '')) between 5 and 7",
    what = "values that look like full postcodes",
    column_filter = "a.atttypid not in " ~ types.non_text ~ " and a.atttypid not in " ~ types.numeric,
    distinct = false
%}{% include '_scan.sql' %}{% endwith %}
