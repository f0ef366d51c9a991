-- One person per record: the connected components of the link keys (int_person_labels, label propagation round by
-- round; a data test proves one more round changes nothing). Every record keeps exactly one person; unlinked
-- records are people of their own. The person key is the HMAC pseudonym of the person's linked identity.
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

labels as (
    select
        records.record_seq,
        coalesce(person_labels.person_seq, records.record_seq) as label
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
        labels.label as person_seq,
        -- The linked identity: the smallest NHS number of the person, else their first record's local identity.
        coalesce(
            'nhs:' || min(records.nhs_number),
            'local:' || min(records.record_id)
        ) as person_identity,
        count(*) as n_records
    from labels
    inner join records on labels.record_seq = records.record_seq
    group by labels.label
),

people_keyed as (
    select
        person_seq,
        {{ pseudonymise('person_identity') }} as person_key,
        n_records
    from people
),

final as (
    select
        records.record_seq,
        records.record_id,
        records.feed,
        records.sender_code,
        records.source_file_name,
        records.source_row_number,
        people.person_seq,
        people.person_key,
        coalesce(record_rules.link_rule, 'unlinked') as link_rule,
        people.n_records as person_n_records
    from records
    inner join labels on records.record_seq = labels.record_seq
    inner join people_keyed as people on labels.label = people.person_seq
    left join record_rules on records.record_seq = record_rules.record_seq
)

select * from final
