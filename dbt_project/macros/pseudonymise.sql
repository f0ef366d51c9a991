{#-
    HMAC-SHA-256 (RFC 2104) in plain SQL with the built-in sha256(): the embedded server has no pgcrypto.
    The key never appears in compiled SQL: each session carries it as the custom setting ipb.pseudonym_key_hex
    (libpq PGOPTIONS, set by ipb.transform.dbt_env). The padded inner/outer keys are uncorrelated scalar
    subqueries, so PostgreSQL computes them once per statement (InitPlan), not per row.
-#}
{% macro pseudonymise(expr) -%}
    encode(sha256({{ _hmac_padded_key(92) }} || sha256({{ _hmac_padded_key(54) }} || convert_to({{ expr }}, 'UTF8'))), 'hex')
{%- endmacro %}

{#- The key (hashed first when longer than the 64-byte block), zero-padded to 64 bytes, XOR-ed with `pad`. -#}
{% macro _hmac_padded_key(pad) -%}
    (
        select decode(string_agg(lpad(to_hex((get_byte(k.block_key, i) | {{ pad }}) - (get_byte(k.block_key, i) & {{ pad }})), 2, '0'), '' order by i), 'hex')
        from (
            select h.short_key || decode(repeat('00', 64 - length(h.short_key)), 'hex') as block_key
            from (
                select case when length(s.raw_key) > 64 then sha256(s.raw_key) else s.raw_key end as short_key
                from (select decode(current_setting('ipb.pseudonym_key_hex'), 'hex') as raw_key) as s
            ) as h
        ) as k
        cross join generate_series(0, 63) as i
    )
{%- endmacro %}
