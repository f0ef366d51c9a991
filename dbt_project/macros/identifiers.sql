{#- Normalisation of identifiers used for linkage (restricted layer only). -#}

{#- NHS number with spaces stripped; null unless 10 digits with a valid modulus-11 check digit (FEEDS.md). The check
    is util.is_valid_nhs_number (src/ipb/sql/util.sql), the one the loader's rules and the gate use; PostgreSQL
    inlines it, so there is no per-row function call. -#}
{% macro valid_nhs_number(expr) -%}
    case when util.is_valid_nhs_number({{ expr }}) then replace({{ expr }}, ' ', '') end
{%- endmacro %}

{#- Accents folded, not deleted (FEEDS.md Linkage: `Zoë` = `Zoe`): the one definition every feed's names go through
    (normalise_name, name_tokens). Canonical decomposition (NFD) splits a letter from its combining marks, which are
    dropped; letters that do not decompose (ø, ł, đ, ß, æ, œ, þ, ı ...) are mapped by hand. Runs before upper():
    the warehouse's C collation upper-cases ASCII letters only. -#}
{% macro fold_accents(expr) -%}
    {#- ASCII text (one byte per character, nearly every name) has nothing to fold: it skips normalize(). -#}
    case
        when octet_length({{ expr }}) = char_length({{ expr }}) then {{ expr }}
        else replace(replace(replace(replace(replace(replace(replace(
            translate(
                regexp_replace(normalize({{ expr }}, nfd), '[\u0300-\u036f]', '', 'g'),
                'ØøŁłĐđÐðıĦħŦŧ', 'OoLlDdDdiHhTt'
            ),
            'ß', 'ss'), 'Æ', 'AE'), 'æ', 'ae'), 'Œ', 'OE'), 'œ', 'oe'), 'Þ', 'TH'), 'þ', 'th')
    end
{%- endmacro %}

{#- UPN (FEEDS.md: check letter + 12 digits, DfE modulus-23 check letter; util.is_valid_upn), upper-cased; null unless
    valid. -#}
{% macro valid_upn(expr) -%}
    case when util.is_valid_upn(upper(btrim({{ expr }}))) then upper(btrim({{ expr }})) end
{%- endmacro %}

{#- ULN (FEEDS.md: 10 digits); null unless valid. -#}
{% macro valid_uln(expr) -%}
    case when btrim({{ expr }}) ~ '^[0-9]{10}$' then btrim({{ expr }}) end
{%- endmacro %}

{#- Names: accents folded, upper case, letters only (spaces, hyphens, apostrophes and dots removed). -#}
{% macro normalise_name(expr) -%}
    nullif(regexp_replace(upper({{ fold_accents(expr) }}), '[^A-Z]', '', 'g'), '')
{%- endmacro %}

{#- Surname tokens: double and hyphenated surnames give one space-separated token per part (accents folded). -#}
{% macro name_tokens(expr) -%}
    nullif(trim(regexp_replace(upper({{ fold_accents(expr) }}), '[^A-Z]+', ' ', 'g')), '')
{%- endmacro %}

{#- Postcode: upper case, single space before the 3-character inward code; null when not postcode-shaped. Every
    character but letters and digits is dropped; values of letters, digits and spaces only (nearly all) take the
    cheaper replace() path to the same result. -#}
{% macro normalise_postcode(expr) -%}
    {%- set simple = "replace(upper(" ~ expr ~ "), ' ', '')" -%}
    {%- set general = "regexp_replace(upper(" ~ expr ~ "), '[^A-Z0-9]', '', 'g')" -%}
    case
        when upper({{ expr }}) ~ '^[A-Z0-9 ]*$' then {{ _postcode_from_compact(simple) }}
        else {{ _postcode_from_compact(general) }}
    end
{%- endmacro %}

{% macro _postcode_from_compact(compact) -%}
    case
        when {{ compact }} ~ '^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$'
            then left({{ compact }}, length({{ compact }}) - 3) || ' ' || right({{ compact }}, 3)
    end
{%- endmacro %}

{#- Postcode district (outward code) of a normalised postcode. -#}
{% macro postcode_district(normalised) -%}
    split_part({{ normalised }}, ' ', 1)
{%- endmacro %}

{#- One sex code set for all feeds: NHS person gender codes (1 male, 2 female, 9 indeterminate, X not known). -#}
{% macro unify_sex(expr) -%}
    case upper(trim({{ expr }}))
        when '1' then '1'
        when 'M' then '1'
        when '2' then '2'
        when 'F' then '2'
        when '9' then '9'
        else 'X'
    end
{%- endmacro %}
