-- Person keys of people on the latest national data opt-out list, computed here from the NHS numbers of their
-- records (independently of the marts' own exclusion), so the gate can prove none reaches an analyst table.
with

records as (
    select * from {{ ref('int_person_records') }}
),

person_index as (
    select * from {{ ref('int_person_index') }}
),

opt_out as (
    select * from {{ ref('stg_audit__national_opt_out') }}
),

opted_out_people as (
    select distinct person_index.person_seq
    from records
    inner join opt_out on records.nhs_number = opt_out.nhs_number
    inner join person_index on records.record_seq = person_index.record_seq
),

final as (
    select distinct person_index.person_key
    from person_index
    inner join opted_out_people on person_index.person_seq = opted_out_people.person_seq
)

select * from final
