-- sqlfluff:exclude_rules:LT02,AM04,ST06,RF04,AL09,ST05,LT05
{#- The project's exclusions (dbt_project/.sqlfluff) plus LT02: sqlfluff lints the macros' SQL in several rendered
    variants of their branches, and no one indentation satisfies them all. -#}
{#-
    Label propagation over the link keys, run as the pre-hook of int_person_labels: a record's label is the
    smallest record_seq reachable through its keys. Each round is its own statement into a temp table that is
    analysed before the next, so every round is planned on real row counts (chained CTEs let the estimates
    collapse and the national night never finished).
    Round 1 is over every key. Later rounds are semi-naive: a label can only fall when a key of the record gained
    a smaller label, which happens only through a record whose label fell in the round before, so a round starts
    from those changes alone (national: the confirming round costs 0.3 s, not 4.5 s). Rounds stop as soon as one
    changes no label, at the latest after max_rounds (the linkage_converged data test then fails).
    The temp tables live in the model's transaction only (on commit drop); the model selects from
    pg_temp.ipb_person_labels.
-#}
{% macro propagate_person_labels(link_keys, max_rounds, key_halves, record_seqs) %}
    {%- if execute -%}
        {%- set started = modules.datetime.datetime.now() -%}
        {%- set edges = _label_edges_sql(link_keys, key_halves, record_seqs) -%}
        {%- do run_query(
            "create temp table ipb_link_edges on commit drop as " ~ edges ~ "; analyze ipb_link_edges"
        ) -%}
        {%- set state = namespace(done=false, rounds=0) -%}
        {%- for i in range(1, (max_rounds | int) + 1) -%}
            {%- if not state.done -%}
                {%- do run_query(_label_round_sql(i)) -%}
                {%- set changed = run_query("select count(*) from ipb_label_changes_" ~ i).columns[0].values()[0] -%}
                {%- if i > 1 -%}
                    {%- do run_query(
                        "update ipb_person_labels as labels set label = changes.label from ipb_label_changes_" ~ i
                        ~ " as changes where labels.record_seq = changes.record_seq; drop table ipb_label_changes_"
                        ~ (i - 1)
                    ) -%}
                {%- endif -%}
                {%- set state.rounds = i -%}
                {%- set state.done = (changed == 0) -%}
                {%- do log("int_person_labels: round " ~ i ~ " changed " ~ changed ~ " labels", info=True) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not state.done -%}
            {%- do log("int_person_labels: not converged after " ~ max_rounds ~ " rounds", info=True) -%}
        {%- endif -%}
        {%- do log("int_person_labels: " ~ state.rounds ~ " rounds over "
                   ~ run_query("select reltuples::bigint from pg_class where oid = 'ipb_link_edges'::regclass")
                       .columns[0].values()[0] ~ " edges (as analysed) in "
                   ~ (modules.datetime.datetime.now() - started).total_seconds() ~ " s", info=True) -%}
        analyze ipb_person_labels
    {%- endif -%}
{% endmacro %}

{#- Round 1 starts from label = record_seq: each key takes its smallest record, each record the smallest label of
    its keys (never more than its own: it is one of the records of each of its keys). Its changes are the records
    whose label fell below their own record_seq. Round i > 1 takes the changes of round i - 1: the keys they sit on
    take their smallest new label, and a record of those keys changes when that is below its current label. -#}
{% macro _label_round_sql(i) -%}
    {%- if i == 1 -%}
        create temp table ipb_person_labels on commit drop as
        select
            edges.record_seq,
            min(key_labels.label) as label
        from ipb_link_edges as edges
        inner join (
            select
                link_key_id,
                min(record_seq) as label
            from ipb_link_edges
            group by link_key_id
        ) as key_labels on edges.link_key_id = key_labels.link_key_id
        group by edges.record_seq;
        analyze ipb_person_labels;
        create temp table ipb_label_changes_1 on commit drop as
        select
            record_seq,
            label
        from ipb_person_labels
        where label < record_seq;
        analyze ipb_label_changes_1
    {%- else -%}
        create temp table ipb_label_changes_{{ i }} on commit drop as
        with key_labels as (
            select
                edges.link_key_id,
                min(changes.label) as label
            from ipb_link_edges as edges
            inner join ipb_label_changes_{{ i - 1 }} as changes on edges.record_seq = changes.record_seq
            group by edges.link_key_id
        ),
        candidates as (
            select
                edges.record_seq,
                min(key_labels.label) as label
            from ipb_link_edges as edges
            inner join key_labels on edges.link_key_id = key_labels.link_key_id
            group by edges.record_seq
        )
        select
            candidates.record_seq,
            candidates.label
        from candidates
        inner join ipb_person_labels as labels on candidates.record_seq = labels.record_seq
        where candidates.label < labels.label;
        analyze ipb_label_changes_{{ i }}
    {%- endif -%}
{%- endmacro %}

{#- The edges to propagate over. A full build: every usable key. The next night (the table exists, the record
    map was not rebuilt since, and the link key halves have the rules the labels were built from: person_model_mode): only the region
    its changes can reach (whole_people_region_sql, macros/person_increments.sql), and the region's old labels are
    deleted (the model then appends the new ones). The region: the affected records (changed in the record map
    since the labels were last written, or with a key row the link key models rewrote since: a member of a block
    that was touched), and every record of the old people of those records. No usable key joins a record of the region to
    one outside it (an untouched key joined records of one old person, and a touched key's members are all
    affected), so the region's components are whole and every other record keeps its person: the labels equal
    a full build's. -#}
{% macro _label_edges_sql(link_keys, key_halves, record_seqs) %}
    {#- The same decision as the index and demographics (person_model_mode): the labels' build_version is the
        link key halves' rules versions. -#}
    {%- set state = person_model_mode(record_seqs, person_build_version(link_keys_version_text(key_halves))) -%}
    {%- set mode, watermark = state.mode, state.watermark -%}
    {%- do log("int_person_labels: " ~ mode ~ " build", info=True) -%}
    {%- if mode == 'full' -%}
        {%- if is_incremental() %}{% do run_query("truncate " ~ this) %}{% endif -%}
        select record_seq, link_key_id from {{ link_keys }}
    {%- else -%}
        {%- set sources = [(record_seqs, 'change_seq')] -%}
        {%- for half in key_halves %}{% do sources.append((half, 'applied_change_seq')) %}{% endfor -%}
        {%- do run_query(whole_people_region_sql(sources, watermark, 'ipb_label_affected', 'ipb_label_region')) -%}
        select keys.record_seq, keys.link_key_id
        from {{ link_keys }} as keys
        inner join ipb_label_region as region on keys.record_seq = region.record_seq
    {%- endif -%}
{% endmacro %}
