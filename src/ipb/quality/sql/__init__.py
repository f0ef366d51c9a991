"""The gate's check SQL: one Jinja template per check (docs/data-quality.md), rendered with explicit parameters.

Every `{{ ... }}` in a template must go through one of the filters below: `lit` (a value, quoted as an SQL string
literal), `lits` (a list of them), `ident` (a checked, possibly schema-qualified, lower-case name) or `sql` (a
fragment the gate itself rendered or built, never a value from a file). Numbers pass as they are. Any other string
is refused when rendering (`_finalize`), so a value can never reach the SQL unquoted.

sqlfluff lints the templates with these same filters (`library_path` in .sqlfluff here): this module needs nothing
but jinja2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jinja2

DIR = Path(__file__).parent
_IDENT = re.compile(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?")


class Sql(str):
    """Text that may enter a template as it is: a quoted literal, a checked name or a fragment the gate built."""


def lit(value: str) -> Sql:
    """An SQL string literal (quotes doubled): the one way a text value enters a check."""
    if not isinstance(value, str):
        raise TypeError(f"lit takes text, not {type(value).__name__}")
    return Sql("'" + value.replace("'", "''") + "'")


def lits(values: Iterable[str]) -> Sql:
    """Literals separated by commas, for `in (...)` lists."""
    return Sql(", ".join(lit(v) for v in values))


def ident(name: str) -> Sql:
    """A table or column name (optionally schema.table) from code or configuration, checked before it is used."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ValueError("not a plain lower-case SQL name (schema.table or column)")
    return Sql(name)


def sql(fragment: str) -> Sql:
    """A fragment of SQL the gate rendered or built itself (a condition, a subquery)."""
    return Sql(fragment)


def _finalize(value: Any) -> Any:
    if isinstance(value, Sql):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a {type(value).__name__} reached a check template without |lit, |ident or |sql")
    return str(value)


SQLFLUFF_JINJA_FILTERS = {"lit": lit, "lits": lits, "ident": ident, "sql": sql}

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(DIR),
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
    autoescape=False,  # noqa: S701 - SQL, not HTML: values are quoted by |lit
    keep_trailing_newline=False,
)
_ENV.filters.update(SQLFLUFF_JINJA_FILTERS)


def render(name: str, **params: Any) -> str:
    """The SQL of template `name` (e.g. "row_accounting.sql") with `params`, without its trailing newline."""
    return _ENV.get_template(name).render(**params).strip()
