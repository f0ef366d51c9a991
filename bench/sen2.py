"""Benchmark: loading one ~100 MB SEN2 return (COLLECT XML, feed `send`; --mb N). Writes a synthetic 2025 return for
one council (test UPNs, made-up names; each person with one or two requests, a named plan with its placement
details, an active plan with ranked needs, and the items dropped at the door), then, in a fresh database and in its
own process so the peak RSS is the load's own, runs our load_file (snapshot + checksum, the streaming defusedxml
parse with the Person rules, COPY of the persons, quarantine, accounting). A second process parses the file alone
(no database) to show what the parse costs.

Prints seconds, persons/s, MB/s and peak RSS; goal: peak RSS < 200 MB whatever the file's size.
Ends with one JSON line. Usage: python bench/sen2.py [--mb N] [--keep]"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

NIGHT = "20261122"
SENDER = "886"
NEEDS = ("ASD", "SLCN", "SEMH", "MLD", "SPLD", "DS", "PD", "HI")


def _upn(n: int) -> str:
    digits = f"{SENDER}{n % 10**9:09d}"
    total = sum(int(d) * w for d, w in zip(digits, range(2, 14), strict=True))
    return "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + digits


def _person(n: int) -> str:
    year = 2005 + n % 19
    plans = []
    for k in range(1 + n % 2):
        start = f"{2019 + k + n % 5}-09-01"
        cease = f"<CeaseDate>{2024 + k}-07-31</CeaseDate><CeaseReason>{1 + n % 9}</CeaseReason>" if n % 7 == 0 else ""
        needs = "".join(f"<SENneed><SENtype>{NEEDS[(n + r) % len(NEEDS)]}</SENtype><SENtypeRank>{r + 1}</SENtypeRank>"
                        "</SENneed>" for r in range(1 + n % 3))
        plans.append(
            f"<Requests><ReceivedDate>{start[:4]}-01-1{k}</ReceivedDate><RequestSource>{1 + n % 4}</RequestSource>"
            f"<RYA>0</RYA><RequestOutcomeDate>{start[:4]}-02-2{k}</RequestOutcomeDate><RequestOutcome>A</RequestOutcome>"
            "<RequestMediation>0</RequestMediation><RequestTribunal>0</RequestTribunal>"
            "<Assessment><AssessmentOutcome>H</AssessmentOutcome>"
            f"<AssessmentOutcomeDate>{start[:4]}-06-1{k}</AssessmentOutcomeDate><AssessmentMediation>0"
            "</AssessmentMediation><AssessmentTribunal>0</AssessmentTribunal><Week20>0</Week20>"
            f"<NamedPlan><StartDate>{start}</StartDate><PlanRes>0</PlanRes><PlanWBP>0</PlanWBP>"
            f"<PB>{n % 3 == 0:d}</PB><OA>{n % 6 == 0:d}</OA><DP>{n % 9 == 0:d}</DP>{cease}"
            f"<PlanDetail><URN>{100000 + n % 5000}</URN><SENsetting>OLA</SENsetting><PlacementRank>1</PlacementRank>"
            "<SENUnitIndicator>0</SENUnitIndicator><ResourcedProvisionIndicator>0</ResourcedProvisionIndicator>"
            "</PlanDetail></NamedPlan></Assessment>"
            "<ActivePlans><TransferLA>0</TransferLA><ReviewMeeting>2026-03-10</ReviewMeeting>"
            "<ReviewOutcome>Y</ReviewOutcome><LastReview>2026-03-24</LastReview>"
            f"<PlacementDetail><URN>{100000 + n % 5000}</URN><PlacementRank>1</PlacementRank>"
            f"<EntryDate>{start}</EntryDate><RES>0</RES><WBP>0</WBP></PlacementDetail>{needs}</ActivePlans>"
            "</Requests>")
    return ("<Person>\n"
            f"  <Surname>Benchpupil{n}</Surname><Forename>Sam</Forename>"
            f"<PersonBirthDate>{year}-0{1 + n % 9}-1{n % 10}</PersonBirthDate><Sex>{'MFU'[n % 3]}</Sex>"
            f"<Ethnicity>WBRI</Ethnicity><PostCode>ME15 {n % 10}ZZ</PostCode><UPN>{_upn(n)}</UPN>\n"
            "  " + "\n  ".join(plans) + "\n</Person>\n")


def write_return(folder: str, megabytes: int) -> dict:
    path = Path(folder) / f"send_{SENDER}_{NIGHT}.xml"
    target = megabytes << 20
    persons = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<Message><Header><CollectionDetails>'
                 "<Collection>SEN2</Collection><Year>2025</Year><ReferenceDate>2025-01-16</ReferenceDate>"
                 f"</CollectionDetails><Source><SourceLevel>L</SourceLevel><LEA>{SENDER}</LEA>"
                 "<SoftwareCode>Bench</SoftwareCode><Release>1</Release><SerialNo>1</SerialNo>"
                 "<DateTime>2026-11-22T01:00:00</DateTime></Source></Header>\n<Persons>\n")
        while fh.tell() < target:
            persons += 1
            fh.write(_person(persons))
        fh.write("</Persons></Message>\n")
    return {"path": str(path), "persons": persons, "mb": round(path.stat().st_size / 2**20, 1)}


def load(path: str) -> dict:
    from ipb.ingest import load_file

    r = load_file("send", path, run_id="bench-sen2")
    return {"status": r.status, "persons": r.rows_in_file, "loaded": r.rows_loaded,
            "quarantined": r.rows_quarantined, "reason": r.reason_code}


def parse_only(path: str) -> int:
    from ipb.ingest.sen2 import Sen2Reader

    with open(path, "rb") as fh:
        return sum(1 for _ in Sen2Reader(fh, SENDER).persons())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    with common.temp_state(args.keep, "ipb-bench-sen2-") as base, common.fresh_database(args.keep) as database:
        t0 = time.perf_counter()
        written = write_return(str(base), args.mb)
        print(f"wrote {written['mb']} MB, {written['persons']:,} persons in {time.perf_counter() - t0:.1f} s")
        parsed = common.isolated(parse_only, written["path"])
        print(f"parse only: {parsed.seconds:.1f} s, {parsed.value / parsed.seconds:,.0f} persons/s, "
              f"{written['mb'] / parsed.seconds:.1f} MB/s, peak RSS {parsed.peak_rss_mb:.0f} MB")
        with common.ServerMemory(database) as server:
            loaded = common.isolated(load, written["path"])
        v = loaded.value
        print(f"load_file: {v['status']} {v['persons']:,} persons ({v['loaded']:,} loaded, {v['quarantined']:,} "
              f"quarantined) in {loaded.seconds:.1f} s, {v['persons'] / loaded.seconds:,.0f} persons/s, "
              f"{written['mb'] / loaded.seconds:.1f} MB/s, peak RSS {loaded.peak_rss_mb:.0f} MB "
              f"(start {loaded.start_rss_mb:.0f} MB; goal < 200 MB); largest PostgreSQL backend "
              f"{server.max_backend_mb:.0f} MB; load average {common.loadavg()}")
        print(json.dumps({"bench": "sen2", "mb": written["mb"], "persons": written["persons"],
                          "parse_seconds": round(parsed.seconds, 2), "parse_peak_rss_mb": round(parsed.peak_rss_mb),
                          "load_seconds": round(loaded.seconds, 2),
                          "persons_per_second": round(v["persons"] / loaded.seconds),
                          "load_peak_rss_mb": round(loaded.peak_rss_mb), **server.as_dict(), **v}))


if __name__ == "__main__":
    main()
