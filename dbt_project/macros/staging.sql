{#- The lineage every staged row keeps (IG.md promise 7): the batch and file it came in tonight and its row number. -#}
{% macro staged_lineage() -%}
    _batch_id as batch_id,
    _file_name as source_file_name,
    _row_number as source_row_number,
    _extract_date as extract_date
{%- endmacro %}
