-- sqlfluff:exclude_rules:LT02,AM04,ST06,RF04,AL09,ST05,LT05
{#- The project's exclusions (dbt_project/.sqlfluff) plus LT02 (branches rendered in several variants). -#}
{#-
    Incremental person models (int_person_labels, int_person_index, int_person_demographics): the next night
    rewrites only the people its changes reach; everyone else keeps their rows.

    Each model stores applied_change_seq (the record map's latest change_seq when the row was written) and
    build_version (a number for the model's code and what it reads besides the records: the pseudonym key, the
    reference data). A build is
    - full: the first build, --full-refresh, another build_version, or a record map rebuilt since the model last ran
      (its smallest change_seq is above the model's watermark, so every record counts as changed);
    - delta: otherwise. The pre-hook collects the region (see each pre-hook), deletes its rows, and the model
      appends the region's new rows (one transaction).
    Why the regions are whole: the person labels (macros/label_propagation.sql) relabel every record of every
    person a change reaches and keep everyone else's person; every value these models hold is a function of the
    person's records (their link_hash covers each field read), their labels and link keys, and the reference data
    in build_version. tests/test_dbt_generated.py checks two delta nights against a full rebuild.
-#}

{#- A stored int for a text SQL expression: the first 28 bits of its md5. A scalar subquery, so PostgreSQL computes
    it once per statement, not once per row (the HMAC inside took 1.1 s per pass over the national index). -#}
{% macro person_build_version(text_sql) -%}
    (select ('x' || left(md5({{ text_sql }}), 7))::bit(28)::int)
{%- endmacro %}

{#- 'full' or 'delta' for this build, with the watermark (the largest applied_change_seq) it starts from. -#}
{% macro person_model_mode(record_seqs, version_sql) %}
    {#- (`this` is none in a unit test: unit tests run the full build on their fixtures.) -#}
    {%- if not execute or this is none or not is_incremental() %}
        {{ return({'mode': 'full', 'watermark': none}) }}
    {%- endif %}
    {#- A table from before these models were incremental: rebuild it. on_schema_change adds the new columns; a
        column no longer written stays, empty (dropping it would fail while a view selects it). -#}
    {%- if 'build_version' not in adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
        {{ return({'mode': 'full', 'watermark': none}) }}
    {%- endif %}
    {%- set row = run_query(
        "select coalesce(max(applied_change_seq), -1), coalesce(bool_and(build_version = " ~ version_sql
        ~ "), false), (select min(change_seq) from " ~ record_seqs ~ ") from " ~ this
    ).rows[0] %}
    {%- set watermark, same_version, map_min = row[0], row[1], row[2] %}
    {%- set mode = 'delta' if same_version and (map_min is none or map_min <= watermark) else 'full' %}
    {{ return({'mode': mode, 'watermark': watermark}) }}
{% endmacro %}

{#- The pre-hook of an incremental person model: in delta mode, `region_sql(watermark, inputs)` (temp tables of
    what the night rewrites, and those rows out of the table); a full build on an existing table empties it. -#}
{% macro _person_pre_hook(record_seqs, version_sql, region_sql, inputs) %}
    {%- if execute and is_incremental() %}
        {%- set state = person_model_mode(record_seqs, version_sql) %}
        {%- do log(this.identifier ~ ": " ~ state.mode ~ " build", info=True) %}
        {%- if state.mode == 'full' %}
            truncate {{ this }}
        {%- else %}
            {{ region_sql(state.watermark, inputs) }}
        {%- endif %}
    {%- else %}
        select 1
    {%- endif %}
{% endmacro %}

{#- The region a night's changes reach in a model of one row per record with its person_seq (int_person_labels,
    int_person_index), into the temp tables `affected` and `region`, and the region's rows out of the model: the
    records changed since the watermark in any of `sources` (pairs of a relation and its change column), and every
    record of their old people. -#}
{% macro whole_people_region_sql(sources, watermark, affected, region) -%}
    create temp table {{ affected }} on commit drop as
    {%- for relation, column in sources %}
    {{ 'union' if not loop.first }}
    select record_seq from {{ relation }} where {{ column }} > {{ watermark }}
    {%- endfor %};
    analyze {{ affected }};
    create temp table {{ region }} on commit drop as
    select record_seq from {{ affected }}
    union
    select people.record_seq
    from {{ this }} as people
    where people.person_seq in (
        select old.person_seq
        from {{ this }} as old
        inner join {{ affected }} as affected on old.record_seq = affected.record_seq
    );
    analyze {{ region }};
    delete from {{ this }} as people using {{ region }} as region
    where people.record_seq = region.record_seq
{%- endmacro %}

{#- Pre-hook of int_person_index. The region: the affected records (changed in the record map, relabelled, or with
    a link key row rewritten since the index last ran) and every record of their old people
    (pg_temp.ipb_person_index_region keeps it for the model's select). -#}
{% macro person_index_pre_hook(record_seqs, labels, key_halves, version_sql) %}
    {{ _person_pre_hook(record_seqs, version_sql, _person_index_region_sql, [record_seqs, labels, key_halves]) }}
{% endmacro %}

{% macro _person_index_region_sql(watermark, inputs) %}
    {%- set record_seqs, labels, key_halves = inputs %}
    {%- set sources = [(record_seqs, 'change_seq'), (labels, 'applied_change_seq')] %}
    {%- for half in key_halves %}{% do sources.append((half, 'applied_change_seq')) %}{% endfor %}
    {{ whole_people_region_sql(sources, watermark, 'ipb_person_index_affected', 'ipb_person_index_region') }}
{% endmacro %}

{#- Pre-hook of int_person_demographics. The region, as person numbers: every record the index rewrote or the
    record map changed since the demographics last ran (a person's number is one of its records, and the index
    region holds whole people, old and new), and every person with an opted-out record now or opted out before (the
    opt-out list changes independently of the records). Those people's rows are deleted
    (pg_temp.ipb_person_demographics_region keeps them for the model's select). -#}
{% macro person_demographics_pre_hook(record_seqs, person_index, records, opt_out, version_sql) %}
    {{ _person_pre_hook(record_seqs, version_sql, _person_demographics_region_sql,
                        [record_seqs, person_index, records, opt_out]) }}
{% endmacro %}

{% macro _person_demographics_region_sql(watermark, inputs) %}
    {%- set record_seqs, person_index, records, opt_out = inputs %}
    create temp table ipb_person_demographics_region on commit drop as
    select record_seq as person_seq from {{ person_index }} where applied_change_seq > {{ watermark }}
    union
    select record_seq as person_seq from {{ record_seqs }} where change_seq > {{ watermark }}
    union
    select person_index.person_seq
    from {{ records }} as records
    inner join {{ opt_out }} as opt_out on records.nhs_number = opt_out.nhs_number
    inner join {{ person_index }} as person_index on records.record_seq = person_index.record_seq
    union
    select people.person_seq from {{ this }} as people where people.is_opted_out;
    analyze ipb_person_demographics_region;
    delete from {{ this }} as people using ipb_person_demographics_region as region
    where people.person_seq = region.person_seq
{% endmacro %}

{#- The link key halves' rules versions as text (every row of a half has its half's version). A new rule rebuilds
    the halves, but when no record changed that night their rows keep the same applied_change_seq: the models
    downstream see it through this text in their own version, not through the watermark. -#}
{% macro link_keys_version_text(key_halves) -%}
    {%- for half in key_halves -%}
        coalesce((select rules_version::text from {{ half }} limit 1), '-'){{ " || ',' || " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- build_version of int_person_index: its code, the link key halves' versions and the pseudonym key (an HMAC of a
    fixed text, so a new key rebuilds every person key; the key itself never appears). -#}
{% macro person_index_version(key_halves) %}
    {{ return(person_build_version(
        "'" ~ local_md5(model.raw_code) ~ "' || " ~ link_keys_version_text(key_halves) ~ " || "
        ~ pseudonymise("'ipb:pseudonym-key-check'")
    )) }}
{% endmacro %}

{#- build_version of int_person_demographics: its code, the index's version (a new key or rules rebuild the index
    without changing its watermark) and the councils' codes it maps senders with. -#}
{% macro person_demographics_version(person_index, orgs) %}
    {{ return(person_build_version(
        "'" ~ local_md5(model.raw_code) ~ "' || coalesce((select build_version::text from " ~ person_index
        ~ " limit 1), '-') || (select coalesce(string_agg(row(la_gss_code, cld_la_code, dfe_la_number, "
        ~ "primary_icb_code)::text, ',' order by la_gss_code), '') from " ~ orgs ~ ")"
    )) }}
{% endmacro %}
