{#- Raw rows per current batch of `feed` in its raw table `table` (guarded: the table may not exist). -#}
select
    b.batch_id::text as location,
    count(r._batch_id) as n,
    null as detail,
    false as breach
from ({% include '_current_batches.sql' %}) as b
left join {{ table | ident }} as r on b.batch_id = r._batch_id
group by b.batch_id
