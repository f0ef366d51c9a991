-- One person per record: the connected components of the link keys (int_person_labels, label propagation round by
-- round; a data test proves one more round changes nothing). Every record keeps exactly one person; unlinked
-- records are people of their own. The person key is the HMAC pseudonym of the person's linked identity.
-- Per-person values are windows over one sort by person (no second pass over the records to group and join back).
with

records as (
    select * from {{ ref('int_person_records') }}
),

link_keys as (
    select * from {{ ref('int_person_link_keys') }}
),

person_labels as (
    select * from {{ ref('int_person_labels') }}
),

labelled as (
    select
        records.record_seq,
        records.record_id,
        records.feed,
        records.sender_code,
        records.source_file_name,
        records.source_row_number,
        records.nhs_number,
        coalesce(person_labels.person_seq, records.record_seq) as person_seq
    from records
    left join person_labels on records.record_seq = person_labels.record_seq
),

-- The rule that linked a record: its highest-priority usable key (none: unlinked).
record_rules as (
    select distinct on (record_seq)
        record_seq,
        link_rule
    from link_keys
    order by record_seq, rule_priority
),

people as (
    select
        labelled.*,
        -- The linked identity: the smallest NHS number of the person, else their first record's local identity.
        coalesce(
            'nhs:' || min(labelled.nhs_number) over person_records,
            'local:' || min(labelled.record_id) over person_records
        ) as person_identity,
        count(*) over person_records as person_n_records
    from labelled
    window person_records as (partition by labelled.person_seq)
),

final as (
    select
        people.record_seq,
        people.record_id,
        people.feed,
        people.sender_code,
        people.source_file_name,
        people.source_row_number,
        people.person_seq,
        {{ pseudonymise('people.person_identity') }} as person_key,
        coalesce(record_rules.link_rule, 'unlinked') as link_rule,
        people.person_n_records
    from people
    left join record_rules on people.record_seq = record_rules.record_seq
)

select * from final
