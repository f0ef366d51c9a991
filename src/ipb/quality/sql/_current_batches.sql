{#- The current snapshot per sender: the one definition is the view audit.current_batches (src/ipb/sql/bootstrap.sql;
    the latest extract date, ties to the highest batch id). With `feed`, that feed's senders only. -#}
select
    batch_id,
    feed,
    sender_code
from audit.current_batches
{%- if feed is defined %}
    where feed = {{ feed | lit }}
{%- endif %}
