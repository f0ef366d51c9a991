-- Link keys of the rules built on names (surname, forename, nickname, initial, surname parts) with date of birth
-- and postcode or district. Built beside int_person_link_keys_by_identifiers.
{{ config(post_hook="analyze {{ this }}") }}
{{ person_link_keys(ref('int_person_records'), 'names') }}
