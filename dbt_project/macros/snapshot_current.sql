{#-
    Current snapshot per sender (shared interface): the batch with the latest extract date for each sender
    (ties: highest batch id) among the feed's batches whose status in audit.batches is 'loaded'.
-#}
{% macro current_batch_ids(feed) -%}
    (
        select distinct on (b.sender_code) b.batch_id
        from {{ source('audit', 'batches') }} as b
        where b.feed = '{{ feed }}' and b.status = 'loaded'
        order by b.sender_code, b.extract_date desc, b.batch_id desc
    )
{%- endmacro %}
