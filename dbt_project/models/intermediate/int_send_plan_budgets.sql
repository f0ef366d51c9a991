-- Each council's EHC plans (SEN2) matched to their personal budgets (send_budget): a budget joins its plan through
-- the linked person and the plan's StartDate (FEEDS.md; SEN2 has no plan id). Neither side is dropped: a budget
-- whose plan is not in the sender's latest SEN2 return is still a budget component ("budget without a plan"), and a
-- plan with PB = 1 and no budget row is a "personal budget without amounts"; both are counted per sender for the
-- validation report, not errors.
with

plans as (
    select * from {{ ref('stg_send__ehc_plans') }}
),

budgets as (
    select * from {{ ref('stg_send_budget__budgets') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

plans_keyed as (
    select
        plans.plan_id,
        plans.sender_code,
        plans.plan_start_date,
        plans.has_personal_budget,
        person_index.person_key
    from plans
    inner join person_index on plans.person_record_id = person_index.record_id
),

budgets_keyed as (
    select
        budgets.record_id as budget_record_id,
        budgets.sender_code,
        budgets.plan_start_date,
        person_index.person_key
    from budgets
    inner join person_index on budgets.record_id = person_index.record_id
),

final as (
    select
        coalesce(plans_keyed.sender_code, budgets_keyed.sender_code) as sender_code,
        plans_keyed.plan_id,
        budgets_keyed.budget_record_id,
        coalesce(plans_keyed.has_personal_budget, false) as has_personal_budget,
        case
            when plans_keyed.plan_id is not null and budgets_keyed.budget_record_id is not null
                then 'budget_with_plan'
            when budgets_keyed.budget_record_id is not null then 'budget_without_plan'
            when plans_keyed.has_personal_budget then 'personal_budget_without_amounts'
            else 'plan_without_personal_budget'
        end as match_status
    from plans_keyed
    full outer join budgets_keyed
        on
            plans_keyed.sender_code = budgets_keyed.sender_code
            and plans_keyed.person_key = budgets_keyed.person_key
            and plans_keyed.plan_start_date = budgets_keyed.plan_start_date
)

select * from final
