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
-#}
{% macro person_link_keys(records_relation, group) %}
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
    {%- set rule_names = groups[group] %}
    {%- if all_rules | map(attribute=1) | max >= 16 %}
        {{ exceptions.raise_compiler_error("person_link_keys: rule priorities must stay below 16 (the link_key_id)") }}
    {%- endif %}
    {%- set rules = [] %}
    {%- for rule in all_rules if rule[0] in rule_names %}{% do rules.append(rule) %}{% endfor %}
    with

    -- Not materialised: each rule's branch scans the table itself (a shared CTE of every column spilled to disk).
    records as not materialized (
        select * from {{ records_relation }}
    ),

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
            where {{ required[rule] | join(' is not null and ') }} is not null
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ),

    rule_names as (
        select *
        from (
            values
            {%- for rule, priority, key in rules %}
                ({{ priority }}, '{{ rule }}'){{ ',' if not loop.last }}
            {%- endfor %}
        ) as v (rule_priority, link_rule)
    ),

    -- Plain and filtered count(*) and "at most one" as min = max (nulls ignored, as count(distinct) does): no
    -- distinct aggregate, so PostgreSQL can hash-aggregate.
    blocks as (
        select
            rule_priority,
            link_key,
            count(*) as n_records,
            (min(nhs_number) is not distinct from max(nhs_number)) as at_most_one_nhs_number,
            count(*) filter (where surname is null) as n_unnamed,
            (min(surname) is not distinct from max(surname)) as at_most_one_surname
        from candidate_keys
        group by rule_priority, link_key
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
            blocks.n_records > 1
            and (
                rule_names.link_rule in ('nhs_number', 'local_id')
                or (blocks.at_most_one_nhs_number and blocks.n_records <= {{ var('linkage_max_block_size') }})
            )
            -- CLD carries no names: the weak date-of-birth + postcode rule only links a record without names, and
            -- only when the named records of the block agree on the surname
            and (rule_names.link_rule != 'demo_dob_postcode' or (blocks.n_unnamed >= 1 and blocks.at_most_one_surname))
    ),

    final as (
        select
            candidate_keys.record_seq,
            rule_names.link_rule,
            candidate_keys.rule_priority,
            candidate_keys.link_key,
            usable_blocks.link_key_id,
            usable_blocks.n_records as block_size
        from candidate_keys
        inner join usable_blocks
            on candidate_keys.rule_priority = usable_blocks.rule_priority and candidate_keys.link_key = usable_blocks.link_key
        inner join rule_names on candidate_keys.rule_priority = rule_names.rule_priority
    )

    select * from final
{% endmacro %}
