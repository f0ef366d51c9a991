"""A custom GX expectation whose results are counts and locations, never row values.

`ExpectNoBreaches` runs one check query of ipb.quality.checks (rows of location, n, detail, breach) and passes
when no row is a breach. It keeps only those four columns, so whatever GX's result format, the validation
result and Data Docs show where and how many, not what.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.expectations.core.unexpected_rows_expectation import UnexpectedRowsExpectation
from great_expectations.render import RenderedAtomicContent, renderedAtomicValueSchema
from great_expectations.render.components import AtomicDiagnosticRendererType, LegacyDiagnosticRendererType
from great_expectations.render.renderer.renderer import renderer
from great_expectations.render.renderer_configuration import RendererConfiguration

MAX_LISTED = 50  # locations listed per result; counts always cover all of them


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    n = row.get("n")
    return {
        "location": str(row.get("location") or ""),
        "count": int(n) if n is not None else 0,
        "detail": str(row["detail"]) if row.get("detail") is not None else "",
    }


def summarise(result: dict[str, Any] | None) -> str:
    """One line for the IG lead: the breaches (where and how many), or what was measured when none."""
    details = ((result or {}).get("details") or {}) if isinstance(result, dict) else {}
    breaches = details.get("breaches") or []
    rows = breaches or details.get("measured") or []
    text = "; ".join(
        r["location"] + (f": {r['count']}" if breaches or r["count"] else "")
        + (f" ({r['detail']})" if r.get("detail") else "")
        for r in rows[:10]
    )
    if len(rows) > 10:
        text += f"; and {len(rows) - 10} more"
    prefix = f"{len(breaches)} breach(es): " if breaches else "ok: "
    return prefix + text


class ExpectNoBreaches(UnexpectedRowsExpectation):
    """Fails when the check's query returns a row flagged as a breach; reports counts per location only."""

    # Only the query's rows are needed: skip the extra count(*) over the same (possibly large) query.
    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.table",)

    def _validate(  # type: ignore[override]
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict[str, Any]:
        rows = [dict(r) for r in metrics["unexpected_rows_query.table"] or []]
        breaches = [_clean(r) for r in rows if r.get("breach") in (True, "true", "t", 1)]
        measured = [_clean(r) for r in rows if r.get("breach") not in (True, "true", "t", 1)]
        return {
            "success": not breaches,
            "result": {
                "observed_value": sum(b["count"] for b in breaches),
                # Not GX's unexpected_count/element_count: those make GX render percentages of rows.
                "details": {"rows_returned": len(rows), "breach_count": sum(b["count"] for b in breaches),
                            "breaches": breaches[:MAX_LISTED], "measured": measured[:MAX_LISTED]},
            },
        }

    @classmethod
    @renderer(renderer_type=AtomicDiagnosticRendererType.OBSERVED_VALUE)
    def _atomic_diagnostic_observed_value(  # type: ignore[override]
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict | None = None,
    ) -> RenderedAtomicContent:
        cfg = RendererConfiguration(configuration=configuration, result=result,
                                    runtime_configuration=runtime_configuration)
        value = renderedAtomicValueSchema.load(
            {
                "template": summarise(result.get("result") if result is not None else None),
                "params": cfg.params.dict(),
                "meta_notes": cfg.meta_notes,
                "schema": {"type": "com.superconductive.rendered.string"},
            }
        )
        return RenderedAtomicContent(name=AtomicDiagnosticRendererType.OBSERVED_VALUE, value=value,
                                     value_type="StringValueType")

    @classmethod
    @renderer(renderer_type=LegacyDiagnosticRendererType.OBSERVED_VALUE)
    def _diagnostic_observed_value_renderer(  # type: ignore[override]
        cls,
        configuration: Any = None,
        result: Any = None,
        runtime_configuration: dict | None = None,
        **kwargs: Any,
    ) -> str:
        return summarise(result.get("result") if result is not None else None)
