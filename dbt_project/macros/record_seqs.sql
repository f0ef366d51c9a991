{#-
    The record number map as the previous build left it, or none on the first build (int_person_records reads it
    directly: the map itself is built from int_person_records, so a ref would be a cycle).
-#}
{% macro previous_record_seqs() -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier='int_person_record_seqs')) }}
{%- endmacro %}
