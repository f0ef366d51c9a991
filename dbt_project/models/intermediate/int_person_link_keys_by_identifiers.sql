-- Link keys of the rules any record can carry, social care's included (CLD has no names): NHS number, the
-- sender's own person id, and date of birth + postcode. Built beside int_person_link_keys_by_names (the rules
-- are independent; on two cores the two halves take about as long as each other).
-- Incremental: every candidate key of every current record; the next night recomputes only the blocks its changed
-- records touch (macros/link_keys.sql).
{{ config(
    materialized='incremental',
    unique_key=['rule_priority', 'link_key'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ link_keys_pre_hook(ref('int_person_record_seqs'), 'identifiers') }}",
    post_hook="analyze {{ this }}",
) }}
{%- set rules = link_rules() %}
{%- set version = link_rules_version('identifiers', rules) %}
{%- set state = link_keys_mode(ref('int_person_record_seqs'), version) %}
{{ person_link_keys(ref('int_person_records'), ref('int_person_record_seqs'), 'identifiers', rules, version, state) }}
