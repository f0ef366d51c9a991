"""The night's summary, read from the audit schema and the published marts: what a data engineer reads in ten
seconds. Counts, rule names and paths only: never a row value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ipb import config, db


@dataclass
class Summary:
    files: dict[str, int] = field(default_factory=dict)  # status -> files
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason code)
    rows_loaded: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: list[tuple[str, int]] = field(default_factory=list)
    feed_note: str = ""
    linked_by_rule: list[tuple[str, int]] = field(default_factory=list)
    people: int | None = None
    integrated_budgets: int | None = None
    checks_passed: int = 0
    checks_failed: int = 0
    failed_checks: list[str] = field(default_factory=list)
    published: bool = False
    data_docs: str = ""
    dbt_docs: str = ""
    outputs: str = ""


def _table_exists(conn, qualified: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (qualified,)).fetchone()[0]


def collect(since: datetime, build_run_id: str | None) -> Summary:
    settings = config.load()
    s = Summary()
    with db.connect() as conn:
        for status, n in conn.execute(
            "select status, count(*) from audit.batches where started_at >= %s group by 1 order by 1", (since,)
        ):
            s.files[status] = n
        s.rejected = conn.execute(
            "select file_name, reason_code from audit.batches where started_at >= %s and status = 'rejected'"
            " order by file_name", (since,)).fetchall()
        s.rows_loaded, s.rows_quarantined = conn.execute(
            "select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0) from audit.batches"
            " where started_at >= %s and status = 'loaded'", (since,)).fetchone()
        s.quarantine_reasons = conn.execute(
            "select q.reason_code, count(*) from quarantine.rows q join audit.batches b using (batch_id)"
            " where b.started_at >= %s group by 1 order by 2 desc, 1", (since,)).fetchall()
        note = conn.execute(
            "select detail from audit.pipeline_events where event in ('feeds_fresh', 'feeds_stale')"
            " and recorded_at >= %s order by event_id desc limit 1", (since,)).fetchone()
        s.feed_note = note[0] if note else ""
        if _table_exists(conn, "restricted.int_person_index"):
            s.linked_by_rule = conn.execute(
                "select coalesce(link_rule, 'unlinked'), count(*) from restricted.int_person_index"
                " group by 1 order by 2 desc").fetchall()
        if _table_exists(conn, "marts.dim_person"):
            s.people = conn.execute("select count(*) from marts.dim_person").fetchone()[0]
        if _table_exists(conn, "marts.fct_integrated_personal_budget"):
            s.integrated_budgets = conn.execute(
                "select count(*) from marts.fct_integrated_personal_budget where is_integrated and as_at_date ="
                " (select max(as_at_date) from marts.fct_integrated_personal_budget)").fetchone()[0]
        if build_run_id:
            rows = conn.execute(
                "select r.check_name, r.success from audit.validation_results r join audit.validation_runs v"
                " using (validation_run_id) where v.run_id = %s", (build_run_id,)).fetchall()
            s.checks_passed = sum(1 for _, ok in rows if ok)
            s.checks_failed = sum(1 for _, ok in rows if not ok)
            s.failed_checks = sorted({name for name, ok in rows if not ok})
            pub = conn.execute("select bool_or(published) from audit.validation_runs where run_id = %s",
                               (build_run_id,)).fetchone()[0]
            s.published = bool(pub)
    s.data_docs = str(settings.output_dir / "data_docs" / "latest.html")
    s.dbt_docs = str(settings.output_dir / "dbt_docs" / "index.html")
    s.outputs = str(settings.output_dir / "published")
    return s


def render(s: Summary, title: str, seconds: float, trigger: str) -> str:
    lines = [f"== {title} ({seconds:.0f}s; build triggered by {trigger}) =="]
    files = ", ".join(f"{n} {k}" for k, n in sorted(s.files.items())) or "none"
    lines.append(f"files:        {files}")
    for name, code in s.rejected[:10]:
        lines.append(f"  rejected    {name}: {code}")
    lines.append(f"rows:         {s.rows_loaded:,} loaded, {s.rows_quarantined:,} quarantined")
    if s.quarantine_reasons:
        lines.append("  quarantined by reason: " + ", ".join(f"{c} {n:,}" for c, n in s.quarantine_reasons))
    if s.feed_note:
        lines.append(f"feeds:        {s.feed_note}")
    if s.linked_by_rule:
        lines.append("linkage:      records by rule: " + ", ".join(f"{r} {n:,}" for r, n in s.linked_by_rule))
    if s.people is not None:
        lines.append(f"people:       {s.people:,} in marts; integrated budgets (2+ funders): "
                     f"{s.integrated_budgets if s.integrated_budgets is not None else 'n/a':,}")
    lines.append(f"checks:       {s.checks_passed} passed, {s.checks_failed} failed"
                 + (f" ({'; '.join(s.failed_checks[:5])})" if s.failed_checks else ""))
    lines.append(f"published:    {'yes' if s.published else 'NO: previous published state kept'}")
    lines.append(f"Data Docs:    {s.data_docs}")
    lines.append(f"dbt docs:     {s.dbt_docs}")
    lines.append(f"outputs:      {s.outputs}")
    return "\n".join(lines)
