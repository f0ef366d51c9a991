{#- Which catalogue columns (pg_attribute as a) the value scans read, by type (imported by the scan checks). -#}

{#- Types that cannot hold an identifier-shaped text value: skipped by the value scans. -#}
{% set non_text = "('boolean'::regtype, 'date'::regtype, 'timestamp'::regtype, 'timestamptz'::regtype)" %}
{% set text = "('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)" %}

{#- Columns the digit-shaped scans (NHS numbers, UPNs/ULNs) read: every column whose text form could be all digits.
    Left out: smallint (5 digits at most) and numeric with a scale (always printed with a decimal point), so that the
    amounts, half the columns of the fact tables, are not cast to text on every row. -#}
{% set digit_shaped = "a.atttypid not in " ~ non_text ~ " and a.atttypid <> 'smallint'::regtype"
    ~ " and not (a.atttypid = 'numeric'::regtype and a.atttypmod >= 4 and ((a.atttypmod - 4) & 65535) > 0)" %}

{#- Numbers never print letters (only digits, sign, point, exponent, NaN, Infinity): the postcode scan, whose values
    end in a digit and two letters, skips every numeric type. -#}
{% set numeric = "('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,"
    ~ " 'real'::regtype, 'double precision'::regtype)" %}
