"""The gate's configuration files in expectations/: thresholds and approved analyst columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ipb import config

ANALYST_SCHEMAS = ("build_marts", "build_reports")


@dataclass(frozen=True)
class GateConfig:
    thresholds: dict[str, Any]
    approved: dict[str, Any]

    def approved_columns(self) -> list[tuple[str, str, str]]:
        """(schema, table, column) for every approved column."""
        out = []
        for schema in ANALYST_SCHEMAS:
            for table, spec in (self.approved.get(schema) or {}).items():
                out.extend((schema, table, col) for col in spec.get("columns", []))
        return out

    def report_specs(self) -> dict[str, dict[str, Any]]:
        return dict(self.approved.get("build_reports") or {})

    def name_scan_exempt(self) -> list[str]:
        return list(self.approved.get("name_scan_exempt") or [])


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def load(directory: Path | None = None) -> GateConfig:
    d = directory or config.load().expectations_dir
    return GateConfig(thresholds=_read(d / "thresholds.yml"), approved=_read(d / "approved_columns.yml"))
