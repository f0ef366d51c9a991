-- sqlfluff:exclude_rules:LT02,AM04,ST06,RF04,AL09,ST05,LT05
{#- The project's exclusions (dbt_project/.sqlfluff) plus LT02: sqlfluff lints a macro body in several rendered
    variants of its loops, and no one indentation of the rule loops satisfies them all. -#}
{#-
    Blocking keys of the named deterministic linkage rules, for one group of rules (each rule's blocks depend only
    on its own keys, so the groups are computed in separate models that dbt builds side by side: `identifiers` in
    int_person_link_keys_by_identifiers, `names` in int_person_link_keys_by_names; every rule is in one group).
    Records sharing a key of a rule are linked; a key is only used when its block is unambiguous (at most one
    distinct valid NHS number, and at most var('linkage_max_block_size') records), so no all-pairs comparison is
    ever made. Each usable key gets one bigint id, unique across all rules (the rule's priority in the low 4 bits),
    so label propagation (int_person_labels) joins and groups on one integer, not two text columns.

    The models are incremental and hold every candidate key of every current record (link_key_id is null where the
    block is not usable: a singleton, too large or ambiguous), so that the next night only recomputes the blocks
    its changed records touch:
    - full (first build, --full-refresh, a changed rule or block logic, or a rebuilt record map): every key.
    - delta: the records changed since the model last ran (int_person_record_seqs.change_seq above the model's
      applied_change_seq). The pre-hook moves their old keys aside; the model selects every member of each block
      they touched (old or new), recomputes those blocks, and dbt's delete+insert on (rule_priority, link_key)
      replaces exactly those blocks. A usable block keeps its id; a newly usable one takes the next free number.
    Either way the usable keys equal a full build's (only new ids differ, and ids are only compared for equality).
-#}

{#- The rules, their required identifiers and their groups. -#}
{% macro link_rules() %}

    {%- set all_rules = [
        ('nhs_number', 1, "r.nhs_number"),
        ('local_id', 2, "case when r.local_person_id is not null then r.feed || ':' || r.sender_code || ':' || r.local_person_id end"),
        ('demo_exact', 3, "concat_ws('|', r.surname, r.forename, r.birth_date, r.postcode, r.sex_code)"),
        ('demo_nickname', 4, "concat_ws('|', r.surname, r.forename_canonical, r.birth_date, r.postcode)"),
        ('demo_dob_swap', 5, "concat_ws('|', r.surname, r.forename, r.postcode, extract(year from r.birth_date), least(extract(month from r.birth_date), extract(day from r.birth_date)), greatest(extract(month from r.birth_date), extract(day from r.birth_date)))"),
        ('demo_initial', 6, "concat_ws('|', r.surname, left(r.forename, 1), r.birth_date, r.postcode, r.sex_code)"),
        ('demo_surname_part', 7, "concat_ws('|', t.surname_token, r.forename_canonical, r.birth_date, r.postcode)"),
        ('demo_forename_dob_postcode', 8, "concat_ws('|', r.forename_canonical, r.birth_date, r.postcode, r.sex_code)"),
        ('demo_district', 9, "concat_ws('|', r.surname, r.forename_canonical, r.birth_date, r.postcode_district, r.sex_code)"),
        ('demo_dob_postcode', 10, "concat_ws('|', r.birth_date, r.postcode, r.sex_code)"),
    ] %}
    {#- Which identifiers each rule needs (a key is never built from a missing one). -#}
    {%- set required = {
        'nhs_number': ['r.nhs_number'],
        'local_id': ['r.local_person_id'],
        'demo_exact': ['r.surname', 'r.forename', 'r.birth_date', 'r.postcode'],
        'demo_nickname': ['r.surname', 'r.forename_canonical', 'r.birth_date', 'r.postcode'],
        'demo_dob_swap': ['r.surname', 'r.forename', 'r.birth_date', 'r.postcode'],
        'demo_initial': ['r.surname', 'r.forename', 'r.birth_date', 'r.postcode'],
        'demo_surname_part': ['t.surname_token', 'r.forename_canonical', 'r.birth_date', 'r.postcode'],
        'demo_forename_dob_postcode': ['r.forename_canonical', 'r.birth_date', 'r.postcode'],
        'demo_district': ['r.surname', 'r.forename_canonical', 'r.birth_date', 'r.postcode_district'],
        'demo_dob_postcode': ['r.birth_date', 'r.postcode'],
    } %}
    {#- The two groups take about as long as each other at national scale (4.1 M and 5.4 M candidate keys). -#}
    {%- set groups = {
        'identifiers': ['nhs_number', 'local_id', 'demo_dob_postcode'],
        'names': ['demo_exact', 'demo_nickname', 'demo_dob_swap', 'demo_initial', 'demo_surname_part',
                  'demo_forename_dob_postcode', 'demo_district'],
    } %}
    {%- if (groups.values() | sum(start=[]) | sort | list) != (all_rules | map(attribute=0) | sort | list) %}
        {{ exceptions.raise_compiler_error("person_link_keys: every rule must be in exactly one group") }}
    {%- endif %}
    {%- if all_rules | map(attribute=1) | max >= 16 %}
        {{ exceptions.raise_compiler_error("person_link_keys: rule priorities must stay below 16 (the link_key_id)") }}
    {%- endif %}
    {{ return({'all_rules': all_rules, 'required': required, 'groups': groups}) }}
{% endmacro %}

{#- The candidate keys of the records in CTE `records` (and `surname_tokens`) for the group's rules. -#}
{% macro _candidate_keys_sql(group, defs) %}
    {%- set rules = [] %}
    {%- for rule in defs.all_rules if rule[0] in defs.groups[group] %}{% do rules.append(rule) %}{% endfor %}
        {%- for rule, priority, key in rules %}
            select {% if rule == 'demo_surname_part' %}distinct{% endif %}
                r.record_seq,
                {{ priority }} as rule_priority,
                md5({{ key }})::uuid as link_key,
                {% if rule in ('nhs_number', 'local_id') %}null::bigint{% else %}r.nhs_number::bigint{% endif %}
                    as nhs_number,
                {% if rule == 'demo_dob_postcode' %}r.surname{% else %}null::text{% endif %} as surname
            from
                records as r
                {%- if rule == 'demo_surname_part' %}
                inner join surname_tokens as t on r.record_seq = t.record_seq
                {%- endif %}
            where {{ defs.required[rule] | join(' is not null and ') }} is not null
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
{% endmacro %}

{#- (rule_priority, link_rule) of the group's rules, as VALUES. -#}
{% macro _rule_names_sql(group, defs) %}
        select *
        from (
            values
            {%- for rule, priority, key in defs.all_rules if rule in defs.groups[group] %}
                ({{ priority }}, '{{ rule }}'){{ ',' if loop.index < defs.groups[group] | length }}
            {%- endfor %}
        ) as v (rule_priority, link_rule)
{% endmacro %}

{#- Plain and filtered count(*) and "at most one" as min = max (nulls ignored, as count(distinct) does): no distinct
    aggregate, so PostgreSQL can hash-aggregate. -#}
{% macro _blocks_sql(members) %}
        select
            rule_priority,
            link_key,
            count(*) as n_records,
            (min(nhs_number) is not distinct from max(nhs_number)) as at_most_one_nhs_number,
            count(*) filter (where surname is null) as n_unnamed,
            (min(surname) is not distinct from max(surname)) as at_most_one_surname
        from {{ members }}
        group by rule_priority, link_key
{% endmacro %}

{#- Whether block `blocks` of rule `rule_names` is usable. -#}
{% macro _usable_block_sql() %}
            blocks.n_records > 1
            and (
                rule_names.link_rule in ('nhs_number', 'local_id')
                or (blocks.at_most_one_nhs_number and blocks.n_records <= {{ var('linkage_max_block_size') }})
            )
            -- CLD carries no names: the weak date-of-birth + postcode rule only links a record without names, and
            -- only when the named records of the block agree on the surname
            and (rule_names.link_rule != 'demo_dob_postcode' or (blocks.n_unnamed >= 1 and blocks.at_most_one_surname))
{% endmacro %}

{#- A number for the rules and the block logic: stored with every key, so that a change of either rebuilds. -#}
{% macro link_rules_version(group, defs) %}
    {%- set text = _candidate_keys_sql(group, defs) ~ _rule_names_sql(group, defs) ~ _blocks_sql('m')
        ~ _usable_block_sql() %}
    {{ return(local_md5(text)[:7] | int(base=16)) }}
{% endmacro %}

{#- How the model builds this run: 'full' or 'delta' (see the top), with the watermark it starts from and the
    largest key id it holds (one pass over the table). -#}
{% macro link_keys_mode(record_seqs, version) %}
    {#- (`this` is none in a unit test: unit tests run the full build on their fixtures.) -#}
    {%- if not execute or this is none or not is_incremental() %}
        {{ return({'mode': 'full', 'watermark': none, 'max_link_key_id': 0}) }}
    {%- endif %}
    {#- A table from before the keys were incremental: rebuild it (on_schema_change adds the new columns). -#}
    {%- if 'rules_version' not in adapter.get_columns_in_relation(this) | map(attribute='name') | list %}
        {{ return({'mode': 'full', 'watermark': none, 'max_link_key_id': 0}) }}
    {%- endif %}
    {%- set row = run_query(
        "select coalesce(max(applied_change_seq), -1), coalesce(bool_and(rules_version = "
        ~ version ~ "), false), (select min(change_seq) from " ~ record_seqs ~ "), coalesce(max(link_key_id), 0)"
        ~ " from " ~ this
    ).rows[0] %}
    {%- set watermark, same_rules, map_min = row[0], row[1], row[2] %}
    {%- set mode = 'delta' if same_rules and (map_min is none or map_min <= watermark) else 'full' %}
    {{ return({'mode': mode, 'watermark': watermark, 'max_link_key_id': row[3]}) }}
{% endmacro %}

{#- Pre-hook: in delta mode, the changed records and their old keys into temp tables, and those keys out of the
    table; in full mode on an existing table, empty it. -#}
{% macro link_keys_pre_hook(record_seqs, group) %}
    {%- if execute and is_incremental() %}
        {%- set state = link_keys_mode(record_seqs, link_rules_version(group, link_rules())) %}
        {%- do log(this.identifier ~ ": " ~ state.mode ~ " build", info=True) %}
        {%- if state.mode == 'full' %}
            truncate {{ this }}
        {%- else %}
            create temp table ipb_changed_{{ group }} on commit drop as
            select record_seq from {{ record_seqs }} where change_seq > {{ state.watermark }};
            analyze ipb_changed_{{ group }};
            create temp table ipb_old_keys_{{ group }} on commit drop as
            select keys.rule_priority, keys.link_key, keys.link_key_id
            from {{ this }} as keys
            inner join ipb_changed_{{ group }} as changed on keys.record_seq = changed.record_seq;
            analyze ipb_old_keys_{{ group }};
            delete from {{ this }} as keys using ipb_changed_{{ group }} as changed
            where keys.record_seq = changed.record_seq
        {%- endif %}
    {%- else %}
        select 1
    {%- endif %}
{% endmacro %}

{#- The model's select. The model passes in the rules, their version and the state (link_rules, link_rules_version,
    link_keys_mode): each is called from the model itself, where sqlfluff's templater can follow dbt's return(). -#}
{% macro person_link_keys(records_relation, record_seqs, group, defs, version, state) %}
    {%- set rule_names = defs.groups[group] %}
    {%- set mode = state.mode %}
    with

    {% if mode == 'full' -%}
    -- Not materialised: each rule's branch scans the table itself (a shared CTE of every column spilled to disk).
    records as not materialized (
        select * from {{ records_relation }}
    ),
    {%- else -%}
    changed as (
        select * from pg_temp.ipb_changed_{{ group }}
    ),

    records as (
        select records.*
        from {{ records_relation }} as records
        inner join changed on records.record_seq = changed.record_seq
    ),
    {%- endif %}

    {% if 'demo_surname_part' in rule_names -%}
    surname_tokens as (
        select
            records.record_seq,
            tok.surname_token
        from records
        cross join lateral regexp_split_to_table(records.surname_tokens, ' ') as tok (surname_token)
        where length(tok.surname_token) > 1
    ),

    {% endif -%}
    -- One row per record, rule and key: only the surname-token rule can repeat a key of a record (a repeated token).
    -- Kept narrow for national volumes (about 6 keys per record): the key as a uuid (the md5's 16 bytes), the NHS
    -- number as a bigint and only for the rules whose blocks check it, the surname only for the rule that needs it.
    candidate_keys as (
        {{ _candidate_keys_sql(group, defs) }}
    ),

    rule_names as (
        {{ _rule_names_sql(group, defs) }}
    ),

    run as (
        select max(change_seq) as change_seq from {{ record_seqs }}
    ),

    {% if mode == 'full' -%}
    members as (
        select * from candidate_keys
    ),

    blocks as (
        {{ _blocks_sql('candidate_keys') }}
    ),

    -- The id: the key's number within its rule times 16 plus the rule's priority, so the ids of keys computed in
    -- different models never collide and stay small and dense. (The priority in the high bits, 2^40 apart, made
    -- PostgreSQL's int8 hash fold many ids onto one value: at 1.6 M people label propagation's hash aggregate spilled
    -- into 4,000 batches and took 55 s instead of 3.4 s.)
    usable_blocks as (
        select
            blocks.rule_priority,
            blocks.link_key,
            blocks.n_records,
            row_number() over (partition by blocks.rule_priority order by blocks.link_key) * 16
            + blocks.rule_priority as link_key_id
        from blocks
        inner join rule_names on blocks.rule_priority = rule_names.rule_priority
        where
            {{ _usable_block_sql() }}
    ),
    {%- else -%}
    old_keys as (
        select * from pg_temp.ipb_old_keys_{{ group }}
    ),

    -- The blocks the changed records left or joined.
    touched as (
        select rule_priority, link_key from old_keys
        union
        select rule_priority, link_key from candidate_keys
    ),

    kept as (
        select
            keys.record_seq,
            keys.rule_priority,
            keys.link_key,
            keys.nhs_number,
            keys.surname,
            keys.link_key_id
        from {{ this }} as keys
        inner join touched on keys.rule_priority = touched.rule_priority and keys.link_key = touched.link_key
    ),

    -- Every member of the touched blocks: the unchanged records' keys and the changed records' new keys.
    members as (
        select record_seq, rule_priority, link_key, nhs_number, surname from kept
        union all
        select record_seq, rule_priority, link_key, nhs_number, surname from candidate_keys
    ),

    blocks as (
        {{ _blocks_sql('members') }}
    ),

    known_ids as (
        select rule_priority, link_key, min(link_key_id) as link_key_id
        from (
            select rule_priority, link_key, link_key_id from kept
            union all
            select rule_priority, link_key, link_key_id from old_keys
        ) as ids
        where link_key_id is not null
        group by rule_priority, link_key
    ),

    -- Above every id the model holds or held (read before the run; the changed records' old ids included).
    next_number as (
        select greatest(
            {{ state.max_link_key_id }},
            (select coalesce(max(link_key_id), 0) from old_keys)
        ) / 16 as n
    ),

    -- A block that stays usable keeps its id; a newly usable one takes the next number.
    usable_blocks as (
        select
            blocks.rule_priority,
            blocks.link_key,
            blocks.n_records,
            coalesce(
                known_ids.link_key_id,
                (next_number.n + row_number() over (
                    partition by known_ids.link_key_id is null order by blocks.rule_priority, blocks.link_key
                )) * 16 + blocks.rule_priority
            ) as link_key_id
        from blocks
        inner join rule_names on blocks.rule_priority = rule_names.rule_priority
        left join known_ids on blocks.rule_priority = known_ids.rule_priority and blocks.link_key = known_ids.link_key
        cross join next_number
        where
            {{ _usable_block_sql() }}
    ),
    {%- endif %}

    final as (
        select
            members.record_seq,
            rule_names.link_rule,
            members.rule_priority,
            members.link_key,
            usable_blocks.link_key_id,
            usable_blocks.n_records as block_size,
            members.nhs_number,
            members.surname,
            run.change_seq as applied_change_seq,
            {{ version }} as rules_version
        from members
        inner join rule_names on members.rule_priority = rule_names.rule_priority
        left join usable_blocks
            on members.rule_priority = usable_blocks.rule_priority and members.link_key = usable_blocks.link_key
        cross join run
    )

    select * from final
{% endmacro %}
