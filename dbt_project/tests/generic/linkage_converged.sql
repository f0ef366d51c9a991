{#- Label propagation converged: the records sharing a usable link key all have the same person, so one more round
    would change nothing (a key whose records carry two labels is returned).
    Declared on validation_linkage, the leaf the publication gate reads, with the index and keys as arguments: dbt
    build blocks only the common descendants of everything a test reads, so the check runs beside the marts instead
    of before them (about 10 s off the national critical path). A failure still fails the build: nothing is
    published. -#}
{% test linkage_converged(model, person_index, link_keys) %}
    select k.link_key_id
    from {{ link_keys }} as k
    inner join {{ person_index }} as i on k.record_seq = i.record_seq
    group by k.link_key_id
    having min(i.person_seq) <> max(i.person_seq)
{% endtest %}
