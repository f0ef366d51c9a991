-- DuckDB twins of the util.* functions of util.sql, used only by the loader's vectorised screen
-- (src/ipb/ingest/screen.py): the row rules' own SQL text runs in DuckDB over a file before it is copied, and only
-- the rows the screen flags are checked by PostgreSQL, whose verdict is final. A twin may therefore be STRICTER
-- than its original (flag a row PostgreSQL would accept: it is then checked there), never more lenient; the screen
-- marks a row "uncertain" wherever a twin cannot decide exactly (timestamps outside the plain ISO shapes,
-- non-ASCII letters where PostgreSQL case-folds). tests/test_ingest_screen.py runs every feed's rules in both
-- engines and requires identical reason codes on every row that is not uncertain.
create schema if not exists util;

-- PostgreSQL's btrim(text): spaces only. Most values have none at either end, and testing for one is much
-- cheaper than trimming (the rules trim every value they read, several times).
create or replace macro btrim(value) as
    case when prefix(value, ' ') or suffix(value, ' ') then trim(value, ' ') else value end;

create or replace macro util.is_valid_nhs_number(value) as
    case
        when not regexp_matches(replace(value, ' ', ''), '^[0-9]{10}$') then false
        else (
            11 - (
                cast(substr(replace(value, ' ', ''), 1, 1) as integer) * 10
                + cast(substr(replace(value, ' ', ''), 2, 1) as integer) * 9
                + cast(substr(replace(value, ' ', ''), 3, 1) as integer) * 8
                + cast(substr(replace(value, ' ', ''), 4, 1) as integer) * 7
                + cast(substr(replace(value, ' ', ''), 5, 1) as integer) * 6
                + cast(substr(replace(value, ' ', ''), 6, 1) as integer) * 5
                + cast(substr(replace(value, ' ', ''), 7, 1) as integer) * 4
                + cast(substr(replace(value, ' ', ''), 8, 1) as integer) * 3
                + cast(substr(replace(value, ' ', ''), 9, 1) as integer) * 2
            ) % 11
        ) % 11 = cast(substr(replace(value, ' ', ''), 10, 1) as integer)
    end;

-- ASCII only (as many bytes as characters): DuckDB upper-cases beyond ASCII (PostgreSQL's C locale does not), so a
-- non-ASCII postcode is refused here and decided by PostgreSQL.
create or replace macro util.is_valid_postcode(value) as
    strlen(value) = length(value)
    and regexp_matches(upper(replace(value, ' ', '')), '^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)[0-9][A-Z]{2}$');

create or replace macro util.is_money(value) as regexp_matches(value, '^-?[0-9]+(\.[0-9]{1,2})?$');

-- NULL in, NULL out, as the originals (a rule's NOT around them must not fire on a blank value).
create or replace macro util.is_iso_date(value) as
    case when value is not null then regexp_matches(value, '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$')
    and substr(value, 1, 4) <> '0000'
    and (substr(value, 9, 2) <= '28' or try_cast(value as date) is not null) end;

-- Timestamps: only the plain ISO 8601 shapes, years 1901-9998 (no time zone offset can take them out of
-- util.to_timestamp's range). PostgreSQL accepts far more (zone names, other field orders): those are uncertain.
create or replace macro util.is_iso_timestamp(value) as
    case when value is not null then regexp_matches(value, '^(19[0-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'
        || '([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)?)?$')
    and substr(value, 1, 4) not in ('1900', '9999')
    and try_cast(substr(value, 1, 10) as date) is not null end;

create or replace macro util.to_money(value) as
    case
        when util.is_money(btrim(value)) and length(split_part(ltrim(btrim(value), '-0'), '.', 1)) <= 7
            then try_cast(btrim(value) as decimal(9, 2))
    end;

create or replace macro util.in_money_range(amount) as abs(amount) < 10000000;

create or replace macro util.to_units(value) as
    case
        when regexp_matches(btrim(value), '^[0-9]+(\.[0-9]+)?$')
            and length(split_part(ltrim(btrim(value), '0'), '.', 1)) <= 4
            then nullif(least(try_cast(btrim(value) as decimal(7, 2)), 1000.01), 1000.01)
    end;

create or replace macro util.iso_date_text(value, date_format) as
    case
        when coalesce(date_format, 'iso') = 'iso' then btrim(value)
        when regexp_matches(btrim(value), '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$')
            then split_part(btrim(value), '/', 3) || '-' || lpad(split_part(btrim(value), '/', 2), 2, '0') || '-'
                || lpad(split_part(btrim(value), '/', 1), 2, '0')
        else 'not a dmy date'
    end;

-- util.is_iso_date from 1900, by a round trip instead of the regex: a 10-character text that casts to a date from
-- 1900 and reads back as itself is exactly YYYY-MM-DD of a calendar date (the length keeps out 'infinity').
create or replace macro util.to_iso_date(value) as
    case
        when length(btrim(value)) = 10 and try_cast(btrim(value) as date) >= date '1900-01-01'
            and cast(try_cast(btrim(value) as date) as varchar) = btrim(value)
            then try_cast(btrim(value) as date)
    end;

-- Two overloads, as util.to_date in PostgreSQL (sqlfluff's DuckDB dialect does not parse macro overloads).
create or replace macro util.to_date(value) as util.to_iso_date(value),  -- noqa: PRS
    (value, date_format) as util.to_iso_date(util.iso_date_text(value, date_format));  -- noqa: PRS

-- Only whether a timestamp parses is read by the rules; the date stands for the instant.
create or replace macro util.to_timestamp(value) as
    case when util.is_iso_timestamp(btrim(value)) then try_cast(substr(btrim(value), 1, 10) as date) end;
