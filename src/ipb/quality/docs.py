"""A static page for the IG lead next to GX's Data Docs: `data_docs/latest.html`.

GX's own index is drawn by JavaScript from public CDNs, which a locked-down network may block; this page is
plain HTML with no script or external asset, says whether the latest run passed and which checks failed (with
locations and counts only), and links to GX's validation result page of each checkpoint.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

from ipb.quality.audit import CheckpointOutcome

STYLE = """body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}.ok{color:#176f2c}
.fail{color:#b00020;font-weight:bold}"""


def result_page(docs_dir: Path, suite: str, run_id: str, run_time: datetime) -> Path | None:
    """GX's validation result page of this suite for this run (GX files it under run name and run time)."""
    stamp = run_time.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    pages = sorted((docs_dir / "validations" / suite / run_id / stamp).glob("*.html"))
    return pages[-1] if pages else None


def write_latest(docs_dir: Path, run_id: str, run_time: datetime, outcomes: list[CheckpointOutcome]) -> Path:
    ok = all(o.success for o in outcomes)
    esc = html.escape
    rows = []
    for o in outcomes:
        page = result_page(docs_dir, o.checkpoint, run_id, run_time)
        link = f'<a href="{esc(str(page.relative_to(docs_dir)))}">{esc(o.checkpoint)}</a>' if page else esc(
            o.checkpoint)
        for c in o.checks:
            status = '<span class="ok">passed</span>' if c.success else '<span class="fail">FAILED</span>'
            rows.append(f"<tr><td>{link}</td><td>{esc(c.check_name)}</td><td>{status}</td>"
                        f"<td>{esc(c.observed)}</td></tr>")
    verdict = "PASSED: published outputs may be updated" if ok else "FAILED: publication blocked"
    failed = [f"<li>{esc(c.check_name)} ({esc(o.checkpoint)}): {esc(c.observed)}</li>"
              for o in outcomes for c in o.checks if not c.success]
    failed_list = f'<ul id="failed">{"".join(failed)}</ul>' if failed else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Publication gate: {esc(run_id)}</title>
<style>{STYLE}</style></head><body>
<h1>Publication gate, run {esc(run_id)}</h1>
<p class="{'ok' if ok else 'fail'}" id="verdict">{verdict}</p>
{failed_list}
<p>Checked {run_time.astimezone(UTC):%Y-%m-%d %H:%M UTC}. Counts and locations only: no identifying value is shown.
All runs: <a href="index.html">Great Expectations Data Docs</a>.</p>
<table><thead><tr><th>Checkpoint</th><th>Check</th><th>Result</th><th>Observed (where: how many)</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    path = docs_dir / "latest.html"
    docs_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
