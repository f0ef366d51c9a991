"""The dbt docs site documents the project: an `__overview__` doc block, and every macro of macros/*.sql described
in macros/_macros.yml with exactly its arguments, in order (no database, no dbt)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
MACRO = re.compile(r"\{%-?\s*macro\s+(\w+)\s*\((.*?)\)\s*-?%\}", re.DOTALL)

pytestmark = pytest.mark.fast


def _defined_macros() -> dict[str, list[str]]:
    """Macro name -> argument names, read from the .sql files (Jinja's argument list parses as Python's)."""
    macros: dict[str, list[str]] = {}
    for path in sorted((DBT_PROJECT / "macros").glob("*.sql")):
        for name, args in MACRO.findall(path.read_text(encoding="utf-8")):
            signature = ast.parse(f"def {name}({args}): pass").body[0]
            assert isinstance(signature, ast.FunctionDef)
            assert name not in macros, f"macro {name} is defined twice"
            macros[name] = [arg.arg for arg in signature.args.args]
    return macros


def test_every_macro_is_documented_with_its_arguments() -> None:
    defined = _defined_macros()
    assert len(defined) >= 20, "the macro pattern found too few macros"
    properties = yaml.safe_load((DBT_PROJECT / "macros" / "_macros.yml").read_text(encoding="utf-8"))
    assert properties["version"] == 2
    documented = {entry["name"]: entry for entry in properties["macros"]}
    assert len(documented) == len(properties["macros"]), "a macro is documented twice"
    assert sorted(documented) == sorted(defined), "_macros.yml must list exactly the macros of macros/*.sql"
    for name, args in defined.items():
        entry = documented[name]
        assert str(entry.get("description") or "").strip(), f"{name} has no description"
        arguments = entry.get("arguments") or []
        assert [a["name"] for a in arguments] == args, f"{name}: arguments differ from its signature"
        for a in arguments:
            assert str(a.get("type") or "").strip() and str(a.get("description") or "").strip(), (
                f"{name}.{a['name']} needs a type and a description"
            )


def test_overview_doc_block_exists() -> None:
    opening = re.compile(r"\{%-?\s*docs\s+__overview__\s*-?%\}(.*?)\{%-?\s*enddocs\s*-?%\}", re.DOTALL)
    docs_paths = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))["docs-paths"]
    files = [p for folder in docs_paths for p in sorted((DBT_PROJECT / folder).rglob("*.md"))]
    blocks = [m.group(1) for p in files for m in opening.finditer(p.read_text(encoding="utf-8"))]
    assert len(blocks) == 1, "exactly one __overview__ doc block"
    assert len(blocks[0].strip().splitlines()) > 10
