{#- The record number map gives each record id one number and each number one record id, withdrawn records
    included (a number never goes to a second record). Declared on the leaf validation_linkage, with the map as an
    argument, for the reason linkage_converged is (tests/generic/linkage_converged.sql): a test on the map itself
    would hold up the link keys until it ends; here it runs beside them and still fails the build. -#}
{% test record_numbers_unique(model, record_seqs) %}
    select
        'record_id' as duplicated,
        record_id::text as value
    from {{ record_seqs }}
    group by record_id
    having count(*) > 1
    union all
    select
        'record_seq' as duplicated,
        record_seq::text as value
    from {{ record_seqs }}
    group by record_seq
    having count(*) > 1
{% endtest %}
