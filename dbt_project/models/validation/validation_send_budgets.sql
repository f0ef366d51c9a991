-- For the validation report: per SEND sender, how its plans and budgets matched, and what its SEN2 return carried
-- that was kept rather than quarantined (needs outside the code list, invalid optional UPNs and ULNs). Counts only.
with

matches as (
    select * from {{ ref('int_send_plan_budgets') }}
),

plans as (
    select * from {{ ref('stg_send__ehc_plans') }}
),

persons as (
    select * from {{ ref('stg_send__persons') }}
),

measures as (
    select
        sender_code,
        match_status as measure,
        count(*)::bigint as n
    from matches
    group by sender_code, match_status
    union all
    select
        sender_code,
        'primary need outside the code list, kept as Unknown' as measure,
        count(*)::bigint as n
    from plans
    where sen_primary_need = 'Unknown'
    group by sender_code
    union all
    select
        sender_code,
        'invalid UPN, kept without it' as measure,
        count(*)::bigint as n
    from persons
    where has_invalid_upn
    group by sender_code
    union all
    select
        sender_code,
        'invalid ULN, kept without it' as measure,
        count(*)::bigint as n
    from persons
    where has_invalid_uln
    group by sender_code
),

final as (
    select * from measures
    where n > 0
)

select * from final
