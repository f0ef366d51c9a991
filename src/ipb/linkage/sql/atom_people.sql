-- DuckDB. Each atom's person (root), the best rule that linked it and its strongest Splink weight: a component that
-- keeps the guard is one person and every one of its links counts; a guard-breaking one comes from the link-by-link
-- clustering (bad_atom_people).

create table atom_rules as
select atom, min(rule) as rule, max(w) filter (where rule = 3) as w
from (
    select a as atom, rule, w from edges
    union all
    select b, rule, w from edges
    union all
    -- an atom of several records is linked inside by its strongest identifier
    select atom, case when nhs_number is not null then 0 when upn is not null then 1 else 2 end, null
    from atoms where n_records > 1
)
group by atom;

create table atom_people as
select
    c.atom,
    c.comp as root,
    ['nhs_number', 'upn', 'local_id', 'splink', 'unlinked'][coalesce(r.rule, 4) + 1] as rule,
    case when r.rule = 3 then r.w end as match_weight
from atom_comp as c
left join atom_rules as r on c.atom = r.atom
where c.comp not in (select comp from bad_comps)
union all
select atom, root, rule, match_weight from bad_atom_people;
