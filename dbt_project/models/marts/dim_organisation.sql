-- Organisations: councils, ICBs and sub-ICB locations from the reference seeds, with their codes and populations.
with

councils as (
    select * from {{ ref('organisations') }}
),

icbs as (
    select * from {{ ref('icbs') }}
),

sub_icbs as (
    select * from {{ ref('sub_icb_locations') }}
),

final as (
    select
        la_gss_code as organisation_code,
        'council' as organisation_type,
        la_name as organisation_name,
        la_gss_code as gss_code,
        dfe_la_number,
        cld_la_code,
        primary_icb_code as icb_code,
        approx_population
    from councils
    union all
    select
        icb_code as organisation_code,
        'icb' as organisation_type,
        icb_name as organisation_name,
        nullif(icb_gss_code, '') as gss_code,
        null::text as dfe_la_number,
        null::text as cld_la_code,
        icb_code,
        approx_population
    from icbs
    union all
    select
        sub_icb_code as organisation_code,
        'sub_icb' as organisation_type,
        sub_icb_name as organisation_name,
        null::text as gss_code,
        null::text as dfe_la_number,
        null::text as cld_la_code,
        icb_code,
        null::bigint as approx_population
    from sub_icbs
)

select * from final
