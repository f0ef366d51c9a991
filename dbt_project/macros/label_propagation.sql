{#-
    Label propagation over the link keys, run as the pre-hook of int_person_labels: each round is its own
    statement into a temp table that is analysed before the next round, so every round is planned on real row
    counts (chained CTEs let the estimates collapse and the national night never finished). Rounds stop as soon
    as one changes no label, at the latest after max_rounds (the linkage_converged data test then fails, as before).
    Only linked records take part; a record's label is the smallest record_seq reachable through its keys.
    The temp tables live in the model's transaction only (on commit drop); the last one is renamed to
    pg_temp.ipb_person_labels, which the model selects from.
-#}
{% macro propagate_person_labels(link_keys, max_rounds) %}
    {%- if execute -%}
        {%- set started = modules.datetime.datetime.now() -%}
        {%- do run_query(
            "create temp table ipb_link_edges on commit drop as select record_seq, link_key_id from "
            ~ link_keys ~ "; analyze ipb_link_edges"
        ) -%}
        {%- set state = namespace(done=false, rounds=0) -%}
        {%- for i in range(1, (max_rounds | int) + 1) -%}
            {%- if not state.done -%}
                {%- do run_query(_label_round_sql(i) ~ "; analyze ipb_labels_" ~ i) -%}
                {%- set changed = run_query(_label_changes_sql(i)).columns[0].values()[0] -%}
                {%- if i > 1 -%}
                    {%- do run_query("drop table ipb_labels_" ~ (i - 1)) -%}
                {%- endif -%}
                {%- set state.rounds = i -%}
                {%- set state.done = (changed == 0) -%}
                {%- do log("int_person_labels: round " ~ i ~ " changed " ~ changed ~ " labels", info=True) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not state.done -%}
            {%- do log("int_person_labels: not converged after " ~ max_rounds ~ " rounds", info=True) -%}
        {%- endif -%}
        {%- do log("int_person_labels: " ~ state.rounds ~ " rounds in "
                   ~ (modules.datetime.datetime.now() - started).total_seconds() ~ " s", info=True) -%}
        alter table ipb_labels_{{ state.rounds }} rename to ipb_person_labels
    {%- endif -%}
{% endmacro %}

{#- One round: each key takes the smallest label of its records, each record the smallest label of its keys
    (never more than its own: it is one of the records of each of its keys). Round 1 starts from label = record_seq. -#}
{% macro _label_round_sql(i) -%}
    create temp table ipb_labels_{{ i }} on commit drop as
    select
        edges.record_seq,
        min(key_labels.label) as label
    from ipb_link_edges as edges
    inner join ({{ _key_labels_sql(i) }}) as key_labels on edges.link_key_id = key_labels.link_key_id
    group by edges.record_seq
{%- endmacro %}

{#- Each key's smallest label after the previous round. -#}
{% macro _key_labels_sql(i) -%}
    {%- if i == 1 -%}
        select
            edges.link_key_id,
            min(edges.record_seq) as label
        from ipb_link_edges as edges
        group by edges.link_key_id
    {%- else -%}
        select
            edges.link_key_id,
            min(labels.label) as label
        from ipb_link_edges as edges
        inner join ipb_labels_{{ i - 1 }} as labels on edges.record_seq = labels.record_seq
        group by edges.link_key_id
    {%- endif -%}
{%- endmacro %}

{#- How many records the round gave a smaller label. -#}
{% macro _label_changes_sql(i) -%}
    {%- if i == 1 -%}
        select count(*) as changed from ipb_labels_1 as labels where labels.label < labels.record_seq
    {%- else -%}
        select count(*) as changed
        from ipb_labels_{{ i }} as labels
        inner join ipb_labels_{{ i - 1 }} as previous on labels.record_seq = previous.record_seq
        where labels.label < previous.label
    {%- endif -%}
{%- endmacro %}
