-- Every record of the current snapshots of the three feeds with the identifiers used for linkage: one row per
-- raw row, none dropped (social care has no names by design; CLD links on NHS number, local id and demographics).
-- The record's number comes from the map (int_person_record_seqs), so it stays the same from night to night.
with

records as (
    select * from {{ ref('int_person_records_unioned') }}
),

record_seqs as (
    select * from {{ ref('int_person_record_seqs') }}
),

final as (
    select
        record_seqs.record_seq,
        records.*
    from records
    inner join record_seqs on records.record_id = record_seqs.record_id
)

select * from final
