{#- A contracted table is created with CREATE TABLE AS, then given its constraints.

    dbt-postgres creates a contracted table empty, with its columns and constraints, and fills it with
    INSERT ... SELECT. PostgreSQL never runs the SELECT of an INSERT in parallel, but it does run the SELECT of a
    CREATE TABLE AS in parallel: the marts built last in a night, alone on the critical path, took about 17 s
    instead of about 10 s. So the model's select is cast to the declared column types (the table's columns are
    exactly the contract's), and the constraints are added after the rows, in one ALTER TABLE: not null (one scan),
    unique and primary key (an index). A violated constraint fails the model, as before. Any other constraint
    kind, or a model-level constraint, takes dbt-postgres's own path unchanged. -#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- set contract_config = config.get('contract') -%}
    {%- if not (contract_config.enforced and not temporary and model_constraints_addable()) -%}
        {{ dbt.postgres__create_table_as(temporary, relation, sql) }}
    {%- else -%}
        {%- set sql_header = config.get('sql_header', none) -%}
        {{ sql_header if sql_header is not none }}
        {{ get_assert_columns_equivalent(sql) }}
        {%- set columns = model['columns'].values() | list %}
        create {% if config.get('unlogged', default=false) %}unlogged {% endif %}table {{ relation }} as (
            select
        {%- for column in columns %}
                cast(model_subq.{{ contract_column_name(column) }} as {{ column['data_type'] }})
                    as {{ contract_column_name(column) }}{{ "," if not loop.last }}
        {%- endfor %}
            from (
                {{ sql }}
            ) as model_subq
        );
        {%- set additions = [] -%}
        {%- for column in columns -%}
            {%- for constraint in column.get('constraints', []) -%}
                {%- if constraint['type'] == 'not_null' -%}
                    {%- do additions.append('alter column ' ~ contract_column_name(column) ~ ' set not null') -%}
                {%- else -%}
                    {%- do additions.append('add ' ~ constraint['type'] | replace('_', ' ')
                        ~ ' (' ~ contract_column_name(column) ~ ')') -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endfor %}
        {% if additions %}
        alter table {{ relation }} {{ additions | join(', ') }};
        {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- True when every constraint of the model is a column's not_null, unique or primary_key without options: the
    kinds postgres__create_table_as adds after the rows. -#}
{% macro model_constraints_addable() -%}
    {%- if model.get('constraints') -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for column in model['columns'].values() -%}
        {%- for constraint in column.get('constraints', []) -%}
            {%- if constraint['type'] not in ('not_null', 'unique', 'primary_key') or constraint.get('expression')
                or constraint.get('name') or constraint.get('to') -%}
                {{ return(false) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{#- A contract column's name as dbt writes it: quoted when the column asks for it. -#}
{% macro contract_column_name(column) -%}
    {{ adapter.quote(column['name']) if column.get('quote') else column['name'] }}
{%- endmacro %}
