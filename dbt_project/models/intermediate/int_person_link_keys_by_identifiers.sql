-- Link keys of the rules any record can carry, social care's included (CLD has no names): NHS number, the
-- sender's own person id, and date of birth + postcode. Built beside int_person_link_keys_by_names (the rules
-- are independent; on two cores the two halves take about as long as each other).
{{ config(post_hook="analyze {{ this }}") }}
{{ person_link_keys(ref('int_person_records'), 'identifiers') }}
