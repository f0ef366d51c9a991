-- DuckDB. FEEDS.md Linkage, the one definition of a conflict: birth dates not equal, not day and month swapped, and more
-- than one of day, month, year different, or both sexes known (1 male, 2 female) and different.
create or replace macro ipb_conflict_reason(dob_l, sex_l, dob_r, sex_r) as
    case
        when dob_l is not null and dob_r is not null and dob_l <> dob_r
            and not (year(dob_l) = year(dob_r) and day(dob_l) = month(dob_r) and month(dob_l) = day(dob_r))
            and ((day(dob_l) <> day(dob_r))::int + (month(dob_l) <> month(dob_r))::int
                 + (year(dob_l) <> year(dob_r))::int) > 1
            then 'birth_date'
        when sex_l in ('1', '2') and sex_r in ('1', '2') and sex_l <> sex_r then 'sex'
    end;
