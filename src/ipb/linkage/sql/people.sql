-- DuckDB. From the clustering (atom_people: each atom's root, rule and weight) to one row per record with the
-- person's stable anchor; the conflict and review lists with their records' feed and sender.

-- A person's anchor, the identity its key is the HMAC of (docs/linkage.md): its NHS number when no other person
-- holds it (only an identity conflict can make two), else its UPN on the same terms, else its smallest local id
-- (feed:sender:id) on the same terms, else its smallest record id (always its own).
create table root_facts as
select
    ap.root,
    max(a.nhs_number) as nhs_number,
    min(a.upn) as upn,
    min(case when a.local_person_id is not null then a.feed || ':' || a.sender_code || ':' || a.local_person_id end)
        as local_key,
    min(a.first_record) as first_record,
    sum(a.n_records) as n_records
from atom_people as ap
inner join atoms as a on ap.atom = a.atom
group by ap.root;

create table root_anchors as
select
    root,
    n_records,
    case
        when nhs_number is not null and count(*) over (partition by nhs_number) = 1 then 'nhs:' || nhs_number
        when upn is not null and count(*) over (partition by upn) = 1 then 'upn:' || upn
        when local_key is not null and count(*) over (partition by local_key) = 1 then 'local:' || local_key
        else 'record:' || first_record
    end as person_anchor
from root_facts;

create table person_links as
select
    r.record_id,
    ra.person_anchor,
    dense_rank() over (order by ra.person_anchor) as person_number,
    case when ra.n_records = 1 then 'unlinked' else ap.rule end as link_rule,
    case when ra.n_records > 1 then ap.match_weight end as match_weight
from rec_p as r
inner join atoms as a on r.akey = a.akey
inner join atom_people as ap on a.atom = ap.atom
inner join root_anchors as ra on ap.root = ra.root;

create table conflicts as
select
    c.identifier,
    c.reason,
    al.first_record as record_id_l,
    al.feed as feed_l,
    al.sender_code as sender_l,
    ar.first_record as record_id_r,
    ar.feed as feed_r,
    ar.sender_code as sender_r
from (select * from id_conflicts union all select * from guard_conflicts) as c
inner join atoms as al on c.atom_l = al.atom
inner join atoms as ar on c.atom_r = ar.atom;

create table review as
select
    v.reason,
    v.match_weight,
    al.first_record as record_id_l,
    al.feed as feed_l,
    al.sender_code as sender_l,
    ar.first_record as record_id_r,
    ar.feed as feed_r,
    ar.sender_code as sender_r
from (select * from splink_review union all select * from guard_review) as v
inner join atoms as al on v.atom_l = al.atom
inner join atoms as ar on v.atom_r = ar.atom;
