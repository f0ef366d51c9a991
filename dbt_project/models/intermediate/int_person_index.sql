-- One person per record: connected components of the link keys by label propagation (a fixed number of rounds;
-- a data test proves one more round changes nothing). Every record keeps exactly one person; unlinked records
-- are people of their own. The person key is the HMAC pseudonym of the person's linked identity.
with

records as (
    select * from {{ ref('int_person_records') }}
),

link_keys as (
    select * from {{ ref('int_person_link_keys') }}
),

labels_0 as (
    select
        record_seq,
        record_seq as label
    from records
),

{%- for i in range(1, (var('linkage_rounds') | int) + 1) %}

key_labels_{{ i }} as (
    select link_keys.link_rule, link_keys.link_key, min(labels.label) as label
    from link_keys
    inner join labels_{{ i - 1 }} as labels on link_keys.record_seq = labels.record_seq
    group by link_keys.link_rule, link_keys.link_key
),

labels_{{ i }} as (
    select labels.record_seq, least(labels.label, min(key_labels.label)) as label
    from labels_{{ i - 1 }} as labels
    left join link_keys on labels.record_seq = link_keys.record_seq
    left join key_labels_{{ i }} as key_labels
        on link_keys.link_rule = key_labels.link_rule and link_keys.link_key = key_labels.link_key
    group by labels.record_seq, labels.label
),
{%- endfor %}

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
    from labels_{{ var('linkage_rounds') | int }} as labels
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
    inner join labels_{{ var('linkage_rounds') | int }} as labels on records.record_seq = labels.record_seq
    inner join people_keyed as people on labels.label = people.person_seq
    left join record_rules on records.record_seq = record_rules.record_seq
)

select * from final
