"""The gate's check templates (src/ipb/quality/sql/): every check renders from the repository's settings, and a text
value can reach a template only through a quoting filter."""

from __future__ import annotations

import pytest

from ipb.quality import checks, settings
from ipb.quality.sql import ident, lit, render

pytestmark = pytest.mark.fast


def test_every_check_renders_one_query_from_the_repository_settings() -> None:
    suites = checks.suites(settings.load())
    keys = [c.key for suite in suites.values() for c in suite]
    assert len(keys) == len(set(keys)) and len(keys) >= 20
    for check in (c for suite in suites.values() for c in suite):
        assert check.sql.strip() and "{{" not in check.sql and "{%" not in check.sql, check.key


def test_a_text_value_cannot_reach_a_template_unquoted() -> None:
    from ipb.quality import sql as templates

    hostile = "x'); drop table audit.batches; --"
    # A template quotes a value with |lit ...
    assert "'x''); drop table audit.batches; --' as location" in render("_measured.sql", location=hostile)
    # ... and a text value placed without a filter is refused, not rendered.
    with pytest.raises(TypeError):
        templates._ENV.from_string("select {{ v }}").render(v=hostile)
    assert templates._ENV.from_string("select {{ v | lit }}").render(v=hostile) == f"select {lit(hostile)}"
    with pytest.raises(ValueError):
        ident("raw.nhs_phb; drop table x")
