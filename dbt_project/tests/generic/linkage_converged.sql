{#- One more round of label propagation changes no record's person: the fixed number of rounds was enough.
    Keys are compared by their bigint link_key_id (one per rule and key). -#}
{% test linkage_converged(model) %}
    with key_labels as (
        select k.link_key_id, min(i.person_seq) as person_seq
        from {{ ref('int_person_link_keys') }} as k
        inner join {{ model }} as i on k.record_seq = i.record_seq
        group by k.link_key_id
    )

    select i.record_seq
    from {{ model }} as i
    inner join {{ ref('int_person_link_keys') }} as k on i.record_seq = k.record_seq
    inner join key_labels as kl on k.link_key_id = kl.link_key_id
    where kl.person_seq < i.person_seq
{% endtest %}
