{#- Normalisation of identifiers used for linkage (restricted layer only). -#}

{#- NHS number with spaces stripped; null unless 10 digits with a valid modulus-11 check digit (FEEDS.md). -#}
{% macro valid_nhs_number(expr) -%}
    (
        select case
            when n.digits ~ '^[0-9]{10}$'
                and (11 - (
    {%- for i in range(1, 10) %}
                    substr(n.digits, {{ i }}, 1)::int * {{ 11 - i }}{{ ' +' if not loop.last }}
    {%- endfor %}
                ) % 11) % 11 = substr(n.digits, 10, 1)::int
                then n.digits
        end
        from (select replace({{ expr }}, ' ', '') as digits) as n
    )
{%- endmacro %}

{#- Names: upper case, letters only (spaces, hyphens, apostrophes and dots removed). -#}
{% macro normalise_name(expr) -%}
    nullif(regexp_replace(upper({{ expr }}), '[^A-Z]', '', 'g'), '')
{%- endmacro %}

{#- Surname tokens: double and hyphenated surnames give one space-separated token per part. -#}
{% macro name_tokens(expr) -%}
    nullif(trim(regexp_replace(upper({{ expr }}), '[^A-Z]+', ' ', 'g')), '')
{%- endmacro %}

{#- Postcode: upper case, single space before the 3-character inward code; null when not postcode-shaped. -#}
{% macro normalise_postcode(expr) -%}
    (
        select case
            when p.compact ~ '^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$'
                then left(p.compact, length(p.compact) - 3) || ' ' || right(p.compact, 3)
        end
        from (select regexp_replace(upper({{ expr }}), '[^A-Z0-9]', '', 'g') as compact) as p
    )
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
