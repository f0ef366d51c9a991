-- DuckDB. Which connected components of the links (atom_comp) break the clustering guard (cluster.py): two
-- different valid NHS numbers, two different local ids of one sender's feed, or two atoms of one NHS number or UPN
-- whose demographics conflict (id_conflicts). Only these are re-clustered link by link.

-- Each atom's id profiles (the NHS number's and the UPN's), by their head.
create table atom_id_heads as
select unnest(members) as atom, head from id_profiles;

create table bad_comps as
select c.comp
from atom_comp as c inner join atoms as a on c.atom = a.atom
group by c.comp
having count(distinct a.nhs_number) > 1
union
select comp
from (
    select c.comp
    from atom_comp as c inner join atoms as a on c.atom = a.atom
    where a.local_person_id is not null
    group by c.comp, a.feed, a.sender_code
    having count(distinct a.local_person_id) > 1
)
union
select cl.comp
from id_conflicts as x
inner join atom_comp as cl on x.atom_l = cl.atom
inner join atom_comp as cr on x.atom_r = cr.atom
where cl.comp = cr.comp;
