{#- One more round of label propagation changes no record's person: the fixed number of rounds was enough. -#}
{% test linkage_converged(model) %}
    with key_labels as (
        select k.link_rule, k.link_key, min(i.person_seq) as person_seq
        from {{ ref('int_person_link_keys') }} as k
        inner join {{ model }} as i on k.record_seq = i.record_seq
        group by k.link_rule, k.link_key
    )

    select i.record_seq
    from {{ model }} as i
    inner join {{ ref('int_person_link_keys') }} as k on i.record_seq = k.record_seq
    inner join key_labels as kl on k.link_rule = kl.link_rule and k.link_key = kl.link_key
    where kl.person_seq < i.person_seq
{% endtest %}
