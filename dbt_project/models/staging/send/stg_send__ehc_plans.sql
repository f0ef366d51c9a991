-- EHC plans of the current SEN2 returns: one row per NamedPlan (FEEDS.md "Feed send"). A plan is identified by its
-- person and StartDate (SEN2 has no plan id); it is open when it has no CeaseDate or ceases after the extract date.
-- The primary need is SENtypeRank 1 of the same request's active plan; a need outside the code list (seed sen2_codes)
-- is 'Unknown', kept and counted. PB and OA are flags (0/1, true/false); DP is kept as sent (its values are
-- unconfirmed): any non-blank value other than 0 means part of the budget is a direct payment.
with

persons as (
    select * from {{ ref('stg_send__persons') }}
),

codes as (
    {{ contract_codes('sen2_codes') }}
),

requests as (
    select
        persons.record_id as person_record_id,
        persons.sender_code,
        persons.dfe_la_number,
        persons.extract_date,
        persons.batch_id,
        persons.source_file_name,
        persons.source_row_number,
        request.request_number,
        request.body as request_body
    from persons
    cross join lateral jsonb_array_elements(persons.requests) with ordinality as request (body, request_number)
),

named_plans as (
    select
        requests.*,
        plan.body as plan_body
    from requests
    cross join lateral jsonb_array_elements(coalesce(requests.request_body -> 'Assessment', '[]')) as assessment (body)
    cross join lateral jsonb_array_elements(coalesce(assessment.body -> 'NamedPlan', '[]')) as plan (body)
),

-- The request's active plan: its ranked needs and review dates (the dates' texts read here once: the CTE is spooled
-- for its two readers, and util.to_date reads its argument several times).
active_plans as (
    select
        requests.person_record_id,
        requests.request_number,
        active.body as active_body,
        active.body ->> 'ReviewMeeting' as review_meeting_text,
        active.body ->> 'LastReview' as last_review_text
    from requests
    cross join lateral jsonb_array_elements(coalesce(requests.request_body -> 'ActivePlans', '[]')) as active (body)
),

needs as (
    select
        active_plans.person_record_id,
        active_plans.request_number,
        nullif(btrim(need.body ->> 'SENtype'), '') as sen_type,
        btrim(need.body ->> 'SENtypeRank') as sen_type_rank
    from active_plans
    cross join lateral jsonb_array_elements(coalesce(active_plans.active_body -> 'SENneed', '[]')) as need (body)
),

primary_needs as (
    select distinct on (needs.person_record_id, needs.request_number)
        needs.person_record_id,
        needs.request_number,
        needs.sen_type,
        sen_types.value as sen_type_value
    from needs
    left join codes as sen_types
        on sen_types.code_list = 'sen2_sen_type' and lower(needs.sen_type) = sen_types.spelling_key
    where needs.sen_type_rank = '1'
    order by needs.person_record_id, needs.request_number, needs.sen_type
),

reviews as (
    select
        person_record_id,
        request_number,
        max(util.to_date(review_meeting_text, 'iso')) as review_meeting_date,
        max(util.to_date(last_review_text, 'iso')) as last_review_date
    from active_plans
    group by person_record_id, request_number
),

typed as (
    select
        named_plans.person_record_id,
        named_plans.sender_code,
        named_plans.dfe_la_number,
        named_plans.request_number,
        util.to_date(named_plans.plan_body ->> 'StartDate', 'iso') as plan_start_date,
        util.to_date(named_plans.plan_body ->> 'CeaseDate', 'iso') as plan_cease_date,
        nullif(btrim(named_plans.plan_body ->> 'CeaseReason'), '') as cease_reason,
        pb.warehouse_code::int as pb,
        oa.warehouse_code::int as oa,
        nullif(btrim(named_plans.plan_body ->> 'DP'), '') as dp,
        util.to_date(named_plans.request_body ->> 'ReceivedDate', 'iso') as request_received_date,
        named_plans.extract_date,
        named_plans.batch_id,
        named_plans.source_file_name,
        named_plans.source_row_number
    from named_plans
    left join codes as pb
        on pb.code_list = 'sen2_flag' and lower(btrim(named_plans.plan_body ->> 'PB')) = pb.spelling_key
    left join codes as oa
        on oa.code_list = 'sen2_flag' and lower(btrim(named_plans.plan_body ->> 'OA')) = oa.spelling_key
),

final as (
    select
        -- A person with two plans starting on one date (two requests) keeps both, numbered by request.
        typed.person_record_id || ':' || typed.plan_start_date
        || case
            when count(*) over same_start > 1 then ':' || typed.request_number
            else ''
        end as plan_id,
        typed.person_record_id,
        typed.sender_code,
        typed.dfe_la_number,
        typed.plan_start_date,
        typed.plan_cease_date,
        typed.plan_cease_date is null or typed.plan_cease_date > typed.extract_date as is_open,
        typed.cease_reason,
        coalesce(primary_needs.sen_type_value, case when primary_needs.sen_type is not null then 'Unknown' end)
            as sen_primary_need,
        typed.pb = 1 as has_personal_budget,
        typed.oa = 1 as has_organised_arrangements,
        typed.dp,
        coalesce(typed.dp <> '0', false) as has_direct_payment,
        typed.request_received_date,
        reviews.review_meeting_date,
        reviews.last_review_date,
        typed.extract_date,
        typed.batch_id,
        typed.source_file_name,
        typed.source_row_number
    from typed
    left join primary_needs
        on
            typed.person_record_id = primary_needs.person_record_id
            and typed.request_number = primary_needs.request_number
    left join reviews
        on
            typed.person_record_id = reviews.person_record_id
            and typed.request_number = reviews.request_number
    window same_start as (partition by typed.person_record_id, typed.plan_start_date)
)

select * from final
