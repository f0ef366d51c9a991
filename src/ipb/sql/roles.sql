-- Group roles per zone (IG.md). Real users are granted these; pipeline components take them with SET ROLE.
do $$
declare r text;
begin
    foreach r in array array['ipb_loader', 'ipb_transformer', 'ipb_analyst', 'ipb_ig_lead', 'ipb_validator'] loop
        if not exists (select 1 from pg_roles where rolname = r) then
            execute format('create role %I nologin', r);
        end if;
    end loop;
end $$;

-- Loader: writes landing-to-raw, quarantine and the batch log.
grant usage, create on schema raw, quarantine to ipb_loader;
grant usage on schema audit to ipb_loader;
grant select, insert, update, delete on audit.batches, quarantine.rows to ipb_loader;
grant usage, select on all sequences in schema audit to ipb_loader;
grant select, insert on audit.pipeline_events to ipb_loader;

-- Transformer: reads raw and quarantine, builds restricted, build and published schemas, records publication.
grant usage on schema raw, quarantine, audit to ipb_transformer;
grant create on schema audit to ipb_transformer;
grant select on all tables in schema raw to ipb_transformer;
alter default privileges for role ipb_loader in schema raw grant select on tables to ipb_transformer;
grant select on quarantine.rows, quarantine.reason_counts, audit.batches, audit.current_batches to ipb_transformer;
grant select, insert, update on audit.validation_runs, audit.validation_results, audit.pipeline_events
    to ipb_transformer;
grant select, insert on audit.gate_checked_batches to ipb_transformer;
grant usage, select on all sequences in schema audit to ipb_transformer;

-- Validator (GX): read-only on what it checks, never writes.
grant usage on schema raw, quarantine, audit to ipb_validator;
grant select on all tables in schema raw to ipb_validator;
alter default privileges for role ipb_loader in schema raw grant select on tables to ipb_validator;
grant select on quarantine.reason_counts, audit.batches, audit.current_batches, audit.gate_checked_batches
    to ipb_validator;

-- IG lead: audit and quarantine reason counts (never quarantined values); marts and reports when published.
grant usage on schema audit, quarantine to ipb_ig_lead;
grant select on all tables in schema audit to ipb_ig_lead;
alter default privileges in schema audit grant select on tables to ipb_ig_lead;
grant select on quarantine.reason_counts to ipb_ig_lead;
-- Audit tables dbt (the transformer) creates, such as opt-out exclusion counts, are readable by the IG lead.
alter default privileges for role ipb_transformer in schema audit grant select on tables to ipb_ig_lead;

-- The restricted linkage layer belongs to the transformer (dbt builds it). The validator may enter the schema to
-- read the non-identifying validation views dbt grants it, never the identifier tables themselves.
create schema if not exists restricted authorization ipb_transformer;
grant usage on schema restricted to ipb_validator;
