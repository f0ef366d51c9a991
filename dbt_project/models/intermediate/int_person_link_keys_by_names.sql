-- Link keys of the rules built on names (surname, forename, nickname, initial, surname parts) with date of birth
-- and postcode or district. Built beside int_person_link_keys_by_identifiers.
-- Incremental: every candidate key of every current record; the next night recomputes only the blocks its changed
-- records touch (macros/link_keys.sql).
{{ config(
    materialized='incremental',
    unique_key=['rule_priority', 'link_key'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook="{{ link_keys_pre_hook(ref('int_person_record_seqs'), 'names') }}",
    post_hook="analyze {{ this }}",
) }}
{%- set rules = link_rules() %}
{%- set version = link_rules_version('names', rules) %}
{%- set state = link_keys_mode(ref('int_person_record_seqs'), version) %}
{{ person_link_keys(ref('int_person_records'), ref('int_person_record_seqs'), 'names', rules, version, state) }}
