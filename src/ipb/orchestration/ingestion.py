"""What an ingestion DAG run does: find the night's files for a feed in the landing zone and load each one."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from ipb import config, feeds
from ipb.ingest.landing import LocalLandingZone

log = logging.getLogger(__name__)
_DATE = re.compile(r"_([0-9]{8})\.[a-z]+$")


def landing_zone(night: str, landing_dir: str | None) -> LocalLandingZone:
    """The night's folder: an explicit one (from `ipb run --landing` or a DAG param) or `<IPB_LANDING_DIR>/<night>/`."""
    if landing_dir:
        return LocalLandingZone(Path(landing_dir))
    return LocalLandingZone(config.load().landing_dir / night)


def claimed_by(name: str) -> str | None:
    """The loadable feed a landed name claims by its prefix (the longest one: `send_budget_` is not `send_`)."""
    claims = [f.name for f in feeds.LOADABLE.values() if name.startswith(f"{f.name}_")]
    return max(claims, key=len) if claims else None


def _handled_by(name: str) -> str:
    """The ingestion DAG that accounts for a landed entry: its feed's; the opt-out list and entries that claim
    no feed at all go to nhs_phb's, so every entry of a night is loaded, a duplicate or rejected by exactly one."""
    claim = claimed_by(name)
    return claim if claim in feeds.FEEDS else feeds.NHS_PHB.name


def files_for_feed(feed: str, night: str, landing_dir: str | None) -> list[str]:
    """Every entry of the night this feed's DAG accounts for (see `_handled_by`), oldest extract first, so that a
    late older file is loaded before the newer one and never wins. Misnamed ones are kept: the load rejects
    them with a reason, so nothing in the landing zone goes unaccounted for. Each is returned as the zone's
    reference (a misnamed entry's name is withheld from XCom and logs)."""
    zone = landing_zone(night, landing_dir)
    names = [n for n in zone.list_names() if _handled_by(n) == feed]

    def order(name: str) -> tuple[int, str, str]:
        m = _DATE.search(name)
        return ({feed: 0, feeds.OPT_OUT.name: 1}.get(claimed_by(name) or "", 2), m.group(1) if m else "", name)

    return [zone.reference(n) for n in sorted(names, key=order)]


def load_one(feed: str, reference: str, run_id: str) -> dict:
    from ipb.ingest.loader import load_file, reject_unclaimed

    path = LocalLandingZone(Path(reference).parent).resolve(reference)
    target = claimed_by(path.name)
    result = load_file(target, path, run_id=run_id) if target else reject_unclaimed(path, run_id=run_id)
    # XCom carries counts, reason codes and contract file names only: no row values, no misnamed names.
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
