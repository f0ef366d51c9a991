{#- The current snapshot per sender (shared interface, as audit.current_batches): the latest extract date, ties to
    the highest batch id. With `feed`, that feed's senders only. -#}
select distinct on (feed, coalesce(sender_code, ''))
    batch_id,
    feed,
    sender_code
from audit.batches
where
    status = 'loaded'
    {%- if feed is defined %}
        and feed = {{ feed | lit }}
    {%- endif %}
order by feed asc, coalesce(sender_code, '') asc, extract_date desc, batch_id desc
