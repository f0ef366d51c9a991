-- One person per record: the connected components of the link keys (int_person_labels, label propagation round by
-- round; a data test proves one more round changes nothing). Every record keeps exactly one person; unlinked
-- records are people of their own. The person key is the HMAC pseudonym of the person's linked identity.
-- Per-person values are windows over one sort by person (no second pass over the records to group and join back).
-- Incremental: the next night rewrites only the people its changes reach (macros/person_increments.sql).
-- depends_on: {{ ref('int_person_link_keys_by_identifiers') }} {{ ref('int_person_link_keys_by_names') }}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    pre_hook="{{ person_index_pre_hook(ref('int_person_record_seqs'), ref('int_person_labels'),
        [ref('int_person_link_keys_by_identifiers'), ref('int_person_link_keys_by_names')],
        person_index_version([ref('int_person_link_keys_by_identifiers'),
            ref('int_person_link_keys_by_names')])) }}",
    post_hook="analyze {{ this }}",
) }}
{%- set version = person_index_version(
    [ref('int_person_link_keys_by_identifiers'), ref('int_person_link_keys_by_names')]
) %}
{%- set state = person_model_mode(ref('int_person_record_seqs'), version) %}
with

records as (
    select * from {{ ref('int_person_records') }}
    {%- if state.mode == 'delta' %}
        where record_seq in (select region.record_seq from pg_temp.ipb_person_index_region as region)
    {%- endif %}
),

link_keys as (
    select * from {{ ref('int_person_link_keys') }}
),

person_labels as (
    select * from {{ ref('int_person_labels') }}
),

run as (
    select max(change_seq) as change_seq from {{ ref('int_person_record_seqs') }}
),

labelled as (
    select
        records.record_seq,
        records.record_id,
        records.feed,
        records.sender_code,
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
    {%- if state.mode == 'delta' %}
        where record_seq in (select region.record_seq from pg_temp.ipb_person_index_region as region)
    {%- endif %}
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
        people.person_seq,
        {{ pseudonymise('people.person_identity') }} as person_key,
        coalesce(record_rules.link_rule, 'unlinked') as link_rule,
        people.person_n_records,
        run.change_seq as applied_change_seq,
        {{ version }} as build_version
    from people
    cross join run
    left join record_rules on people.record_seq = record_rules.record_seq
)

select * from final
