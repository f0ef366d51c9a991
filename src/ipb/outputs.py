"""Published outputs, written only after publication, from the published `reports` schema:

- one CSV per report table (suppression is already applied in the tables; the CSVs are copies, not re-counts),
- the board chart: PHBs in place per quarter end by management option (England) and PHBs per 100,000 by ICB
  (latest quarter; suppressed rates are left out of the bars and listed), as a PNG and an HTML page.
"""

from __future__ import annotations

import csv
import html
import logging
from datetime import date
from pathlib import Path

from psycopg import sql

from ipb import config, db

log = logging.getLogger(__name__)
OPTIONS = ("direct_payment", "notional", "third_party", "mixed")


def _export_tables(conn, out: Path) -> list[str]:
    tables = [r[0] for r in conn.execute(
        "select table_name from information_schema.tables where table_schema = 'reports' order by 1")]
    written = []
    for table in tables:
        path = out / f"{table}.csv"
        cur = conn.execute(sql.SQL("select * from {} order by 1, 2, 3").format(sql.Identifier("reports", table)))
        cols = [d.name for d in cur.description]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(cols)
            for row in cur:
                writer.writerow(["" if v is None else v for v in row])
        written.append(str(path))
    return written


def _chart(conn, out: Path) -> tuple[str, str] | None:
    if not conn.execute("select to_regclass('reports.rpt_phb_quarterly') is not null").fetchone()[0]:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    national = conn.execute(
        """select quarter_end, breakdown_value, national_phbs_in_place from reports.rpt_phb_quarterly
           where area_level = 'national' and breakdown = 'management_option' order by quarter_end""").fetchall()
    quarters = sorted({r[0] for r in national})
    by_option = {o: [0] * len(quarters) for o in OPTIONS}
    for q, option, n in national:
        if option in by_option:
            by_option[option][quarters.index(q)] = int(n or 0)
    latest = quarters[-1] if quarters else None
    icb_rows = conn.execute(
        """select area_code, phbs_per_100k from reports.rpt_phb_quarterly
           where area_level = 'icb' and breakdown = 'all' and quarter_end = %s order by area_code""",
        (latest,)).fetchall() if latest else []
    shown = [(code, float(rate)) for code, rate in icb_rows if rate not in (None, "*", "")]
    suppressed = [code for code, rate in icb_rows if rate in (None, "*", "")]

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.5))
    labels = [q.isoformat() for q in quarters]
    bottom = [0] * len(quarters)
    for option in OPTIONS:
        left.bar(labels, by_option[option], bottom=bottom, label=option.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, by_option[option], strict=True)]
    left.set_title("PHBs in place at quarter end, England, by management option")
    left.set_ylabel("PHBs in place")
    left.tick_params(axis="x", rotation=30)
    left.legend()
    shown.sort(key=lambda x: x[1])
    right.barh([c for c, _ in shown], [v for _, v in shown], color="#005eb8")
    right.set_title(f"PHBs per 100,000 population by ICB, quarter ending {latest}")
    right.set_xlabel("per 100,000 (small numbers suppressed)")
    fig.tight_layout()
    png = out / "phb_board_chart.png"
    fig.savefig(png, dpi=110)
    plt.close(fig)

    rows = "".join(f"<tr><td>{html.escape(c)}</td><td>{v:.1f}</td></tr>" for c, v in reversed(shown))
    page = out / "phb_board_chart.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>Personal health budgets: board view</title>"
        "<style>body{font-family:Arial,sans-serif;margin:2em;color:#212b32}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}</style></head><body>"
        "<h1>Personal health budgets: board view</h1>"
        f"<p>Published {date.today().isoformat()}. Counts below England level follow the small-number rule: "
        "1-7 shown as *, others rounded to 5.</p>"
        f"<img src='{png.name}' alt='PHBs in place by management option and per 100,000 by ICB' width='100%'>"
        f"<h2>PHBs per 100,000 by ICB, quarter ending {latest}</h2>"
        f"<table><tr><th>ICB</th><th>per 100,000</th></tr>{rows}</table>"
        + (f"<p>Suppressed (small numbers): {html.escape(', '.join(suppressed))}</p>" if suppressed else "")
        + "</body></html>",
        encoding="utf-8",
    )
    return str(png), str(page)


def write_outputs(run_id: str | None, night: str | None) -> dict:
    """Write the night's published outputs into `<IPB_OUTPUT_DIR>/published/` (replacing the previous ones)."""
    settings = config.load()
    out = settings.output_dir / "published"
    out.mkdir(parents=True, exist_ok=True)
    with db.connect(role="ipb_analyst") as conn:  # exactly what an analyst may see
        files = _export_tables(conn, out)
        chart = _chart(conn, out)
    if chart:
        files.extend(chart)
    log.info("published outputs: %s files in %s", len(files), out)
    return {"run_id": run_id, "night": night, "folder": str(out), "files": [Path(f).name for f in files]}
