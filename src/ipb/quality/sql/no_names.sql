{#- No analyst-visible text equals a name held in the linkage layer (`names_view`: SHA-256 hashes of normalised
    names). Only name-shaped values (letters, spaces, hyphens, apostrophes, dots) are hashed: "LE1" is a postcode
    district, not Le. Hashed once per distinct name-shaped value of a column (category labels repeat on every row).
    Columns in `exempt` (schema.table.column, reference-data names) are not read. -#}
{% import '_column_types.sql' as types %}
{% set norm = "regexp_replace(upper(v.x), '[^A-Z]', '', 'g')" %}
{% with
    predicate = "length(" ~ norm ~ ") >= 2 and encode(sha256(convert_to(" ~ norm ~ ", 'UTF8')), 'hex') in "
        ~ "(select name_hash from " ~ (names_view | ident) ~ ")",
    shape = "v.x ~ '^\\s*[A-Za-z][A-Za-z .''-]*$'",
    what = "values equal to a name in the linkage layer",
    column_filter = "a.atttypid in " ~ types.text ~ " and (n.nspname || '.' || c.relname || '.' || a.attname) not in ("
        ~ ((exempt | lits) if exempt else "''") ~ ")",
    distinct = true
%}{% include '_scan.sql' %}{% endwith %}
