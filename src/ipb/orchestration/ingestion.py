"""What an ingestion DAG run does: find the night's files for a feed in the landing zone and load each one."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ipb import config, feeds
from ipb.ingest.landing import LocalLandingZone

log = logging.getLogger(__name__)
_DATE = re.compile(r"_(\d{8})\.csv$")


def landing_zone(night: str, landing_dir: str | None) -> LocalLandingZone:
    """The night's folder: an explicit one (from `ipb run --landing` or a DAG param) or `<IPB_LANDING_DIR>/<night>/`."""
    if landing_dir:
        return LocalLandingZone(Path(landing_dir))
    return LocalLandingZone(config.load().landing_dir / night)


def files_for_feed(feed: str, night: str, landing_dir: str | None) -> list[str]:
    """Every file of the night that claims to be this feed's (by prefix), oldest extract first, so that a
    late older file is loaded before the newer one and never wins. Misnamed ones are kept: the load rejects
    them with a reason, so nothing in the landing zone goes unaccounted for."""
    zone = landing_zone(night, landing_dir)
    prefixes = [f"{feed}_"] + ([f"{feeds.OPT_OUT.name}_"] if feed == "nhs_phb" else [])
    names = [n for n in zone.list_names() if any(n.startswith(p) for p in prefixes)]

    def order(name: str) -> tuple[int, str, str]:
        m = _DATE.search(name)
        is_opt_out = name.startswith(feeds.OPT_OUT.name)
        return (int(is_opt_out), m.group(1) if m else "", name)

    return [zone.describe(n) for n in sorted(names, key=order)]


def load_one(feed: str, path: str, run_id: str) -> dict:
    from ipb.ingest import load_file

    target = feeds.OPT_OUT.name if Path(path).name.startswith(feeds.OPT_OUT.name) else feed
    result = load_file(target, path, run_id=run_id)
    # XCom carries counts and file names only: no row values.
    return result.as_dict()


def summarise(feed: str, results: list[dict]) -> dict:
    summary = {
        "feed": feed,
        "files": len(results),
        "loaded": sum(r["status"] == "loaded" for r in results),
        "duplicate": sum(r["status"] == "duplicate" for r in results),
        "rejected": sum(r["status"] == "rejected" for r in results),
        "rows_loaded": sum(r["rows_loaded"] for r in results),
        "rows_quarantined": sum(r["rows_quarantined"] for r in results),
    }
    for r in results:
        if r["status"] == "rejected":
            log.warning("%s rejected: %s", r["file_name"], r["reason_code"])
    log.info("feed %s: %s", feed, summary)
    return summary
