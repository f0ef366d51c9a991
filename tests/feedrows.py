"""Small hand-made feed rows for focused ingestion tests (the generator covers realism and scale)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ipb import feeds
from ipb.contract import normalise


def nhs_number(seed: int) -> str:
    """A valid NHS number in the 999 test range."""
    n = seed
    while True:
        base = f"999{n % 1000000:06d}"
        total = sum(int(d) * w for d, w in zip(base, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            return base + str(check)
        n += 1


def phb(i: int, **over: str) -> dict[str, str]:
    row = {
        "phb_id": f"PHB{i:06d}", "nhs_number": nhs_number(i), "forename": "Alex", "surname": f"Testperson{i}",
        "date_of_birth": "1950-03-04", "sex": "2", "postcode": "ME14 1XX", "icb_code": "QKS", "sub_icb_code": "91Q",
        "phb_category": "CHC", "direct_payment_gbp": "0", "notional_gbp": "41250.50", "third_party_gbp": "0",
        "management_option": "NOTIONAL", "budget_basis": "ANNUAL", "indicative_budget_gbp": "40000",
        "care_plan_agreed_date": "2025-01-02", "start_date": "2025-01-06", "end_date": "",
        "record_updated_at": "2026-11-21T22:00:00Z",
    }
    row.update(over)
    return row


def social_care(i: int, **over: str) -> dict[str, str]:
    """A CLD Release 2 service row, keyed by the specification's field names. Overrides may use any spelling that
    normalises to a field (`Unit_Cost=...` sets `Unit Cost`)."""
    row = {
        "LA Code": "886", "LA Person Unique Identifier": f"KCC{i:07d}", "NHS Number": nhs_number(i + 500000),
        "Date of Birth": "1948-07-09", "Gender": "Male", "Postcode": "CT1 2YY", "Client Type": "Service user",
        "Primary Support Reason": "Physical support: Personal care support",
        "Client Funding Status": "Fully social care funded", "Event Type": "Service",
        "Event Reference": f"EV{i:08d}", "Event Start Date": "2025-04-01", "Event End Date": "",
        "Service Type": "Long term support: Community", "Service Component": "Home support or domiciliary care",
        "Delivery Mechanism": "CASSR managed personal budget", "Unit Cost": "24.50",
        "Cost Frequency (Unit Type)": "Hourly", "Planned units per week": "10",
        "Reporting Period Start Date": "2025-12-01", "Reporting Period End Date": "2026-11-30",
    }
    by_column = {normalise(f): f for f in feeds.SOCIAL_CARE.columns + feeds.SOCIAL_CARE.dropped}
    for key, value in over.items():
        row[by_column.get(normalise(key), key)] = value
    return row


def upn(seed: int, la: str = "886") -> str:
    """A valid UPN (DfE modulus-23 check letter, then the LA number and 9 digits)."""
    digits = f"{la}{seed % 10**9:09d}"
    total = sum(int(d) * w for d, w in zip(digits, range(2, 14), strict=True))
    return "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + digits


def send(i: int, plans: list[dict] | None = None, **over: str) -> dict:
    """A SEN2 Person: its own items by element name, and `plans` (each a NamedPlan's items plus `needs`, a list of
    (SENtype, SENtypeRank)), written by `sen2_xml`."""
    person = {
        "Surname": f"Pupil{i}", "Forename": "Sam", "PersonBirthDate": "2014-05-06", "Sex": "M",
        "Ethnicity": "WBRI", "PostCode": "ME15 6ZZ", "UPN": upn(i), "UniqueLearnerNumber": "", "UPNunknown": "",
        "plans": plans if plans is not None else [
            {"StartDate": "2022-09-01", "PlanRes": "1", "PlanWBP": "1", "PB": "1", "OA": "1", "DP": "0",
             "needs": [("ASD", "1"), ("SLCN", "2")]},
        ],
    }
    person.update(over)
    return person


def sen2_xml(persons: list[dict], lea: str = "886", year: str = "2026", reference_date: str = "2026-01-15") -> str:
    """A SEN2 COLLECT XML return (2025 element set) for hand-made persons; blank items are left out."""
    from xml.sax.saxutils import escape

    def items(d: dict, names: tuple[str, ...]) -> str:
        return "".join(f"<{n}>{escape(str(d[n]))}</{n}>" for n in names if d.get(n) not in (None, ""))

    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<Message><Header><CollectionDetails>",
           f"<Collection>SEN2</Collection><Year>{year}</Year><ReferenceDate>{reference_date}</ReferenceDate>",
           "</CollectionDetails><Source><SourceLevel>L</SourceLevel>", f"<LEA>{escape(lea)}</LEA>",
           "<SoftwareCode>TestSoft</SoftwareCode><Release>1.3</Release><SerialNo>001</SerialNo>",
           "<DateTime>2026-01-20T10:00:00</DateTime></Source></Header><Persons>"]
    for p in persons:
        out.append("<Person>" + items(p, ("Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity", "PostCode",
                                           "UPN", "UniqueLearnerNumber", "UPNunknown")))
        for plan in p.get("plans", []):
            out.append("<Requests>" + items(plan, ("ReceivedDate",)) + "<RequestSource>1</RequestSource>"
                       "<RequestOutcome>A</RequestOutcome>")
            out.append("<Assessment><AssessmentOutcome>H</AssessmentOutcome><NamedPlan>"
                       + items(plan, ("StartDate", "PlanRes", "PlanWBP", "PB", "OA", "DP", "CeaseDate",
                                      "CeaseReason"))
                       + "<PlanDetail><URN>100001</URN><SENsetting>MS</SENsetting><PlacementRank>1</PlacementRank>"
                       "</PlanDetail></NamedPlan></Assessment>")
            needs = "".join(f"<SENneed><SENtype>{t}</SENtype><SENtypeRank>{r}</SENtypeRank></SENneed>"
                            for t, r in plan.get("needs", []))
            out.append("<ActivePlans>" + items(plan, ("LastReview",)) + needs + "</ActivePlans></Requests>")
        out.append("</Person>")
    out.append("</Persons></Message>")
    return "\n".join(out) + "\n"


def send_budget(i: int, **over: str) -> dict[str, str]:
    """A send_budget row (FEEDS.md, ours): the money of one EHC plan's personal budget."""
    row = {
        "LEA": "886", "BudgetID": f"BUD{i:07d}", "LocalPersonID": f"SEN{i:07d}", "UPN": upn(i),
        "UniqueLearnerNumber": "", "NHSNumber": "", "Surname": f"Pupil{i}", "Forename": "Sam",
        "PersonBirthDate": "2014-05-06", "Sex": "M", "PostCode": "ME15 6ZZ", "PlanStartDate": "2022-09-01",
        "EducationElementGBP": "6000", "SocialCareElementGBP": "1500.00", "DirectPaymentGBP": "0",
        "IndicativeBudgetGBP": "7000", "BudgetStartDate": "2023-09-01", "BudgetEndDate": "",
        "LastUpdated": "2026-11-21T20:00:00Z",
    }
    row.update(over)
    return row


ROWS = {"nhs_phb": phb, "social_care": social_care, "send_budget": send_budget}


def csv_text(feed: str, rows: list[dict[str, str]], columns: list[str] | None = None,
             line_end: str = "\n") -> str:
    cols = columns or list(feeds.FEEDS[feed].columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator=line_end, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: r.get(c, "") for c in cols})
    return buf.getvalue()


def write(directory: Path, name: str, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    path = directory / name
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path
