-- DuckDB. From Splink's scored profile pairs (`scored`: ul, ur, match weight w, forename and surname evidence) to
-- edges between atoms (stage 5, strongest first) and the review list. A pair links only at or above the link
-- threshold (variable ipb_link) with forename and surname evidence; without forename evidence it is neither linked
-- nor reviewed (twins; birth date and postcode alone); otherwise it goes to review with its reason.
-- A profile held by several atoms is scored against itself (ul = ur): each other atom joins its head.

create table profile_heads as
select distinct unique_id, head from profile_atoms;

create table scored_atoms as
-- two profiles: their head atoms
select s.w, s.se, hl.head as a, hr.head as b, null::bigint as profile
from scored as s
inner join profile_heads as hl on s.ul = hl.unique_id
inner join profile_heads as hr on s.ur = hr.unique_id
where s.fe and s.ul <> s.ur
union all
-- a profile against itself: every atom but the head, with the head
select s.w, s.se, pa.head, pa.atom, s.ul
from scored as s
inner join profile_atoms as pa on s.ul = pa.unique_id
where s.fe and s.ul = s.ur and pa.atom <> pa.head;

create table splink_edges as
select 5 as stage, 3 as rule, w, a, b, profile
from scored_atoms
where se and w >= getvariable('ipb_link');

create table splink_review as
select
    case when not se then 'no_surname_evidence' else 'between_thresholds' end as reason,
    w as match_weight,
    a as atom_l,
    b as atom_r
from scored_atoms
where not (se and w >= getvariable('ipb_link'));
