-- DuckDB. The deterministic passes as edges between atoms (sql/prepare.sql), in the order the clustering guard sees
-- them (`stage`), and the identity conflicts: pairs of one NHS number or UPN whose demographics conflict (the rule:
-- sql/conflict.sql).

-- Heads of one identifier, pairwise: a conflict, or a link.
create table id_head_pairs as
select
    a.kind,
    a.head as atom_l,
    b.head as atom_r,
    ipb_conflict_reason(a.birth_date, a.sex_code, b.birth_date, b.sex_code) as reason
from id_profiles as a
inner join id_profiles as b on a.kind = b.kind and a.value = b.value and a.head < b.head;

create table id_conflicts as
select kind as identifier, reason, atom_l, atom_r from id_head_pairs where reason is not null;

-- stage: 0 NHS number (an id profile's atoms join its head), 1 NHS number (heads of one number), 2 and 3 the same for
-- the UPN, 4 local ids (a sender's own records of one feed join the first), 5 Splink (sql/splink_edges.sql).
-- rule: the link_rule's rank (engine.RULES).
create table det_edges as
select stage, rule, identifier, a, b
from (
    select
        case kind when 'nhs_number' then 0 else 2 end as stage,
        case kind when 'nhs_number' then 0 else 1 end as rule,
        kind as identifier,
        unnest(members) as a,
        head as b
    from id_profiles
    where len(members) > 1
)
where a <> b
union all
select
    case kind when 'nhs_number' then 1 else 3 end,
    case kind when 'nhs_number' then 0 else 1 end,
    kind,
    atom_l,
    atom_r
from id_head_pairs
where reason is null
union all
select 4, 2, 'local_id', atom, head
from (
    select atom, min(atom) over (partition by feed, sender_code, local_person_id) as head
    from atoms
    where local_person_id is not null
)
where atom <> head;
