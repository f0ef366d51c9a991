"""The GX file context in expectations/: datasource, suites, validation definitions and checkpoints, registered
idempotently from ipb.quality.checks (a file is rewritten only when its definition changed).

GX reads the warehouse as `ipb_validator` in read-only sessions. The URL, which carries a password, reaches GX
through an environment variable that great_expectations.yml names; it is never written to a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ipb import config, db
from ipb.quality import checks
from ipb.quality.settings import GateConfig

DATASOURCE = "ipb_warehouse"
ASSET = "batch_log"  # audit.batches: a small table every check may name as its batch
BATCH_DEFINITION = "whole_table"
SITE = "ipb_data_docs"
URL_ENV = "IPB_GX_WAREHOUSE_URL"
DOCS_ENV = "IPB_GX_DATA_DOCS_DIR"
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0, "include_unexpected_rows": False}


def data_docs_dir(settings: config.Settings | None = None) -> Path:
    return (settings or config.load()).output_dir / "data_docs"


def validator_url() -> str:
    """The warehouse URL for GX: sessions start as ipb_validator and read-only."""
    parts = urlsplit(db.url())
    options = ("options=-c%20role%3Dipb_validator%20-c%20default_transaction_read_only%3Don"
               "%20-c%20search_path%3Daudit")
    query = f"{parts.query}&{options}" if parts.query else options
    return urlunsplit(parts._replace(query=query))


def get_context(settings: config.Settings | None = None) -> Any:
    settings = settings or config.load()
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    os.environ[DOCS_ENV] = str(data_docs_dir(settings))
    os.environ[URL_ENV] = validator_url()
    import great_expectations as gx

    import ipb.quality.expectation  # noqa: F401  (registers ExpectNoBreaches before suites are read)

    return gx.get_context(mode="file", context_root_dir=str(settings.expectations_dir))


def suite_name(suite: str) -> str:
    return f"ipb_{suite}"


def _signature(expectations: list[Any]) -> list[tuple]:
    return [(e.type, e.kwargs.get("unexpected_rows_query"), e.description, e.notes, e.meta)
            for e in (x.configuration if hasattr(x, "configuration") else x for x in expectations)]


def _batch_definition(context: Any) -> Any:
    try:
        ds = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        ds = context.data_sources.add_postgres(
            name=DATASOURCE, connection_string="${" + URL_ENV + "}", create_temp_table=False
        )
    try:
        asset = ds.get_asset(ASSET)
    except LookupError:
        asset = ds.add_table_asset(name=ASSET, table_name="batches")  # search_path=audit
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except (KeyError, LookupError, ValueError):
        return asset.add_batch_definition_whole_table(BATCH_DEFINITION)


def _query(check: checks.Check) -> str:
    """GX formats `{batch}` into the query: escape the SQL's own braces (regex quantifiers) and name the batch."""
    body = check.sql.replace("{", "{{").replace("}", "}}")
    return f"/* ipb check {check.key} on {{batch}} */\n{body}"


def register(context: Any, cfg: GateConfig) -> dict[str, Any]:
    """Make the stored definitions match the code and configuration; returns checkpoint name -> Checkpoint."""
    import great_expectations as gx

    from ipb.quality.expectation import ExpectNoBreaches

    batch_definition = _batch_definition(context)
    checkpoints: dict[str, Any] = {}
    for suite, suite_checks in checks.suites(cfg).items():
        name = suite_name(suite)
        wanted = [
            ExpectNoBreaches(unexpected_rows_query=_query(c), description=c.name, notes=c.notes,
                             meta={"check_key": c.key, "suite": suite})
            for c in suite_checks
        ]
        try:
            stored = context.suites.get(name)
        except Exception:  # noqa: BLE001 - GX raises several "not found" types across stores
            stored = None
        if stored is None:
            stored = context.suites.add(gx.ExpectationSuite(name=name, expectations=wanted))
        elif _signature(stored.expectations) != _signature(wanted):
            stored.expectations = []
            for e in wanted:
                stored.add_expectation(e)
            stored.save()
        try:
            vd = context.validation_definitions.get(name)
        except Exception:  # noqa: BLE001
            vd = context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch_definition, suite=stored)
            )
        try:
            cp = context.checkpoints.get(name)
        except Exception:  # noqa: BLE001
            cp = context.checkpoints.add(
                gx.Checkpoint(name=name, validation_definitions=[vd], actions=[], result_format=RESULT_FORMAT)
            )
        checkpoints[name] = cp
    return checkpoints


def prune_results(context: Any, keep: int) -> None:
    """Keep the newest `keep` validation results so Data Docs stay small and quick to rebuild."""
    store = context.validation_results_store
    keys = sorted(store.list_keys(), key=lambda k: str(k.run_id.run_time), reverse=True)
    for key in keys[keep:]:
        try:
            store.remove_key(key)
        except (FileNotFoundError, KeyError):  # another gate run pruned it first
            continue
