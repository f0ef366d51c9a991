-- Identifier validators shared by the loader's row rules, dbt and the GX gate (inlinable SQL functions).
create schema if not exists util;

-- NHS number: 10 digits (spaces stripped); weights 10..2 on digits 1-9; check = 11 - sum mod 11 (11 -> 0, 10 invalid).
create or replace function util.is_valid_nhs_number(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when replace(value, ' ', '') !~ '^[0-9]{10}$' then false
        else (
            11 - (
                (ascii(substr(replace(value, ' ', ''), 1, 1)) - 48) * 10
                + (ascii(substr(replace(value, ' ', ''), 2, 1)) - 48) * 9
                + (ascii(substr(replace(value, ' ', ''), 3, 1)) - 48) * 8
                + (ascii(substr(replace(value, ' ', ''), 4, 1)) - 48) * 7
                + (ascii(substr(replace(value, ' ', ''), 5, 1)) - 48) * 6
                + (ascii(substr(replace(value, ' ', ''), 6, 1)) - 48) * 5
                + (ascii(substr(replace(value, ' ', ''), 7, 1)) - 48) * 4
                + (ascii(substr(replace(value, ' ', ''), 8, 1)) - 48) * 3
                + (ascii(substr(replace(value, ' ', ''), 9, 1)) - 48) * 2
            ) % 11
        ) % 11 = ascii(substr(replace(value, ' ', ''), 10, 1)) - 48
    end
$$;

-- UPN: check letter + 12 digits; DfE modulus 23 over the weighted digits (weights 2..13), letters
-- ABCDEFGHJKLMNPQRTUVWXYZ (no I, O, S).
create or replace function util.is_valid_upn(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when value is null or value !~ '^[A-Z][0-9]{12}$' then false
        else substr('ABCDEFGHJKLMNPQRTUVWXYZ', (
            substr(value, 2, 1)::int * 2 + substr(value, 3, 1)::int * 3 + substr(value, 4, 1)::int * 4
            + substr(value, 5, 1)::int * 5 + substr(value, 6, 1)::int * 6 + substr(value, 7, 1)::int * 7
            + substr(value, 8, 1)::int * 8 + substr(value, 9, 1)::int * 9 + substr(value, 10, 1)::int * 10
            + substr(value, 11, 1)::int * 11 + substr(value, 12, 1)::int * 12 + substr(value, 13, 1)::int * 13
        ) % 23 + 1, 1) = substr(value, 1, 1)
    end
$$;

-- UK postcode format (case and spacing tolerated in input).
create or replace function util.is_valid_postcode(value text) returns boolean
language sql immutable parallel safe as $$
    select upper(replace(value, ' ', '')) ~ '^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)[0-9][A-Z]{2}$'
$$;

-- Money: pounds with at most 2 decimals, no sign or separators (a leading minus is checked separately).
create or replace function util.is_money(value text) returns boolean
language sql immutable parallel safe as $$
    select value ~ '^-?[0-9]+(\.[0-9]{1,2})?$'
$$;

-- ISO date YYYY-MM-DD that exists in the calendar.
-- Declared stable, like pg_input_is_valid, so that PostgreSQL inlines it (an immutable wrapper around a
-- stable function is called row by row, ~5x slower).
drop function if exists util.is_iso_date(text);
create function util.is_iso_date(value text) returns boolean
language sql stable parallel safe as $$
    -- The shape and month/day ranges by regex; the calendar (29-31 February, 31 April...) only when it matters,
    -- since this runs on every date of every row.
    select value ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$'
        and substr(value, 1, 4) <> '0000'
        and (substr(value, 9, 2) <= '28' or pg_input_is_valid(value, 'date'))
$$;

drop function if exists util.is_iso_timestamp(text);
create function util.is_iso_timestamp(value text) returns boolean
language sql stable parallel safe as $$
    select length(value) between 10 and 35 and substr(value, 5, 1) = '-' and substr(value, 8, 1) = '-'
        and pg_input_is_valid(value, 'timestamptz')
$$;

-- Typed values: the one parse of each kind of value. The loader's row rules (src/ipb/ingest/rules.py) quarantine a
-- present value these return NULL for, and the dbt staging models cast through the very same functions, so every
-- value that loads fits the warehouse's types and no later build can fail on it (docs/feed-types.md has the
-- ranges and why). Each returns NULL when the value is blank, malformed or out of range; surrounding spaces are
-- ignored. Plain expressions, so that PostgreSQL inlines them (no per-row function call).

-- Money: what util.is_money accepts, with at most 7 digits of pounds (leading zeros aside): -9999999.99 to
-- 9999999.99, as numeric(9, 2). Negative amounts parse (a row rule names them); the 7 digits keep every derived
-- amount (a PHB's three amounts summed, a CLD weekly cost x 52.18) far inside the marts' numeric(14, 2).
-- The return type is plain numeric (PostgreSQL drops a function's type modifier); values always have 2 decimals.
create or replace function util.to_money(value text) returns numeric
language sql immutable parallel safe as $$
    select case
        when util.is_money(btrim(value)) and length(split_part(ltrim(btrim(value), '-0'), '.', 1)) <= 7
            then btrim(value)::numeric(9, 2)
    end
$$;

-- The range of util.to_money for an amount computed from others (a CLD weekly cost): what to_money would accept
-- as the amount's text (round(x, 2)::text has at most 7 digits of pounds), without writing the text.
create or replace function util.in_money_range(amount numeric) returns boolean
language sql immutable parallel safe as $$
    select abs(amount) < 10000000
$$;

-- A number of units a week (CLD Planned_units_per_week): unsigned decimal, rounded to 2 decimals, 0 to 1000
-- (168 hours a week, several carers at once). The 4-digit check keeps the cast from overflowing; least/nullif
-- refuses values over 1000 without casting twice.
create or replace function util.to_units(value text) returns numeric
language sql immutable parallel safe as $$
    select case
        when btrim(value) ~ '^[0-9]+(\.[0-9]+)?$' and length(split_part(ltrim(btrim(value), '0'), '.', 1)) <= 4
            then nullif(least(btrim(value)::numeric(7, 2), 1000.01), 1000.01)
    end
$$;

-- A date util.is_iso_date accepts, from 1900-01-01 (no person, plan or budget is older) to 9999-12-31 (four-digit
-- years: a client such as Python's datetime reads every one, and date arithmetic in the rules stays in range).
-- Stable, like util.is_iso_date, so that it is inlined.
create or replace function util.to_date(value text) returns date
language sql stable parallel safe as $$
    select case
        when util.is_iso_date(btrim(value)) and substr(btrim(value), 1, 2) >= '19' collate "C"
            then btrim(value)::date
    end
$$;

-- A file's dates as ISO text, whichever of the two formats the loader detected for the file (FEEDS.md common rules:
-- 'iso' YYYY-MM-DD, or 'dmy' DD/MM/YYYY with one- or two-digit day and month). A value not in the file's format
-- gives text no date parser accepts, so it fails as an invalid date (one file, one format).
create or replace function util.iso_date_text(value text, date_format text) returns text
language sql immutable parallel safe as $$
    select case
        when coalesce(date_format, 'iso') = 'iso' then btrim(value)
        when btrim(value) ~ '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$'
            then split_part(btrim(value), '/', 3) || '-' || lpad(split_part(btrim(value), '/', 2), 2, '0') || '-'
                || lpad(split_part(btrim(value), '/', 1), 2, '0')
        else 'not a dmy date'
    end
$$;

-- The same dates as util.to_date(util.iso_date_text(value, date_format)), written so that PostgreSQL inlines it
-- (util.to_date of a rewritten argument would be called row by row): an ISO file's values go to util.to_date(value);
-- a DD/MM/YYYY value is rewritten as ISO text and must be a calendar date from 1900 on.
create or replace function util.to_date(value text, date_format text) returns date
language sql stable parallel safe as $$
    select case
        when coalesce(date_format, 'iso') = 'iso' then util.to_date(value)
        when btrim(value) ~ '^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$'
            and split_part(btrim(value), '/', 3) >= '1900' collate "C"
            and pg_input_is_valid(util.iso_date_text(value, 'dmy'), 'date')
            then util.iso_date_text(value, 'dmy')::date
    end
$$;

-- A timestamp util.is_iso_timestamp accepts, from 1900-01-01 00:00 UTC to before 9999-12-31 00:00 UTC: every
-- such instant reads back in any time zone as a year 1900-9999 (a later one, e.g. 9999-12-31T23:59-12:00, is year
-- 10000 in UTC, which clients cannot read); BC dates are refused. greatest/least/nullif clamp and refuse with
-- one cast instead of three.
create or replace function util.to_timestamp(value text) returns timestamptz
language sql stable parallel safe as $$
    select case
        when util.is_iso_timestamp(btrim(value))
            then nullif(least(nullif(greatest(btrim(value)::timestamptz, timestamptz '1899-12-31 23:59:59.999999+00'),
                timestamptz '1899-12-31 23:59:59.999999+00'), timestamptz '9999-12-31 00:00:00+00'),
                timestamptz '9999-12-31 00:00:00+00')
    end
$$;

grant usage on schema util to public;
