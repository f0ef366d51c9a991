"""SEND as councils' SEND systems export it: the DfE SEN2 person-level return, COLLECT XML (FEEDS.md "Feed send").

    Message
     ├─ Header / CollectionDetails (Collection SEN2, Year, ReferenceDate)
     ├─ Header / Source (SourceLevel L, LEA, SoftwareCode, Release, SerialNo, DateTime)
     └─ Persons / Person (Surname ... UPNunknown) / Requests / Assessment / NamedPlan / PlanDetail
                                                          └ ActivePlans / PlacementDetail, SENneed (ranked)

Each sender's habits, deterministic by seed and sender, the same every night (quotas over the senders, as cld.py):
the 2025 v1.3 return (need code DS possible) or the 2024 v1.2 one (no DS; `PlanWPB` for `PlanWBP`), `SENSetting`
for `SENsetting`, PB and OA as `true`/`false` rather than `1`/`0`, SENneed elements not in rank order, and the
software that wrote it. Fragments are built column-wise (numpy object arrays) and joined per Person, so a national
night streams a chunk at a time. Code values the contract does not check (RequestSource, RequestOutcome,
AssessmentOutcome, ReviewOutcome, UPNunknown, Ethnicity, SENsetting) are illustrative: the warehouse drops or keeps
them as text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from ipb.generate import dates
from ipb.generate.cld import _quota
from ipb.generate.rand import Rand

V12 = 0.20  # senders still on the 2024 v1.2 return
SEN_SETTING_CAPS = 0.20  # `SENSetting`
BOOL_WORDS = 0.15  # PB, OA as true/false
NEEDS_UNORDERED = 0.25  # SENneed elements written in another order than their rank
SOFTWARE = (("CAPITAONE", "3.82.1"), ("SYNERGY", "2.14.0"), ("LIQUIDLOGIC", "7.3.2"), ("MOSAIC", "25.1"),
            ("TRIBAL", "4.2.7"))

# Weighted, illustrative.
ETHNICITY = (("WBRI", .66), ("WIRI", .01), ("WOTH", .05), ("WROM", .005), ("MWBC", .02), ("MWBA", .01),
             ("MWAS", .01), ("MOTH", .02), ("AIND", .025), ("APKN", .04), ("ABAN", .015), ("AOTH", .015),
             ("BCRB", .015), ("BAFR", .035), ("BOTH", .005), ("CHNE", .005), ("OOTH", .015), ("REFU", .01),
             ("NOBT", .02))
REQUEST_SOURCES = ("01", "02", "03", "04", "05")
CEASE_REASON_W = (.10, .05, .30, .25, .05, .10, .05, .05, .05)  # CeaseReason 1-9
SETTINGS_NO_URN = ("OLA", "EHE", "EYP", "NIE")


@dataclass(frozen=True)
class Sen2Style:
    year: int  # 2025 (v1.3) or 2024 (v1.2)
    plan_wbp: str  # element name: PlanWBP, or PlanWPB on 2024 v1.2 exports
    sen_setting: str  # SENsetting or SENSetting
    bool_words: bool
    needs_unordered: bool
    software: str
    release: str

    @property
    def version(self) -> str:
        return "v1.3" if self.year == 2025 else "v1.2"


def sender_styles(r: Rand, n: int) -> tuple[Sen2Style, ...]:
    v12 = _quota(r, "sen2.v12", n, V12)
    caps = _quota(r, "sen2.caps", n, SEN_SETTING_CAPS)
    words = _quota(r, "sen2.bool", n, BOOL_WORDS)
    unordered = _quota(r, "sen2.order", n, NEEDS_UNORDERED)
    sw = r.integers("sen2.sw", np.arange(n, dtype=np.int64), 0, len(SOFTWARE))
    return tuple(Sen2Style(2024 if v12[s] else 2025, "PlanWPB" if v12[s] else "PlanWBP",
                           "SENSetting" if caps[s] else "SENsetting", bool(words[s]), bool(unordered[s]),
                           SOFTWARE[int(sw[s])][0], SOFTWARE[int(sw[s])][1]) for s in range(n))


def reference_date(year: int) -> dt.date:
    """The SEN2 census date: the third Thursday of January."""
    jan1 = dt.date(year, 1, 1)
    return jan1 + dt.timedelta(days=(3 - jan1.weekday()) % 7 + 14)


def header(style: Sen2Style, lea: str, day: int, line_end: str = "\n") -> str:
    d = dates.to_date(day)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>', "<Message>", "  <Header>", "    <CollectionDetails>",
        "      <Collection>SEN2</Collection>", f"      <Year>{style.year}</Year>",
        f"      <ReferenceDate>{reference_date(style.year).isoformat()}</ReferenceDate>", "    </CollectionDetails>",
        "    <Source>", "      <SourceLevel>L</SourceLevel>", f"      <LEA>{escape(lea)}</LEA>",
        f"      <SoftwareCode>{style.software}</SoftwareCode>", f"      <Release>{style.release}</Release>",
        f"      <SerialNo>{day % 1000:03d}</SerialNo>",
        f"      <DateTime>{d.isoformat()}T02:{sum(map(ord, lea)) % 60:02d}:00</DateTime>",
        "    </Source>", "  </Header>", "  <Persons>",
    ]
    return line_end.join(lines) + line_end


def footer(line_end: str = "\n") -> str:
    return f"  </Persons>{line_end}</Message>{line_end}"


# ------------------------------------------------------------------------------------------------- fragments

Piece = str | np.ndarray  # a string every row has, or one string per row


def el(pad: int, name: str, values: np.ndarray, present: np.ndarray | None = None) -> list[Piece]:
    """`<name>value</name>` per row, indented; left out where not present."""
    if present is None:
        return [" " * pad + f"<{name}>", np.asarray(values, dtype=object), f"</{name}>\n"]
    out = np.full(len(present), "", dtype=object)
    k = np.flatnonzero(present)  # most optional elements are rare: build only the present ones
    out[k] = (" " * pad + f"<{name}>") + np.asarray(values, dtype=object)[k] + f"</{name}>\n"
    return [out]


def el_date(pad: int, name: str, days: np.ndarray, present: np.ndarray) -> list[Piece]:
    """An optional date element: ISO text only for the rows that have it."""
    out = np.full(len(present), "", dtype=object)
    k = np.flatnonzero(present)
    out[k] = (" " * pad + f"<{name}>") + dates.iso(days[k]) + f"</{name}>\n"
    return [out]


def el_named(pad: int, names: np.ndarray, values: np.ndarray, present: np.ndarray | None = None) -> list[Piece]:
    """As el, with a per-row element name (a sender's variant spelling)."""
    k = np.arange(len(names)) if present is None else np.flatnonzero(present)
    out = np.full(len(names), "", dtype=object)
    nm = names.astype(object)[k]
    out[k] = " " * pad + "<" + nm + ">" + np.asarray(values, dtype=object)[k] + ("</" + nm + ">\n")
    return [out]


def const(pad: int, text: str, present: np.ndarray | None = None) -> list[Piece]:
    line = " " * pad + text + "\n"
    return [line] if present is None else [np.where(present, line, "").astype(object)]


def join_rows(pieces: list[Piece]) -> np.ndarray:
    """One string per row: the constant runs become one %-template, filled per row in C (no repeated
    concatenation)."""
    consts, arrays, run = [], [], []
    for x in pieces:
        if isinstance(x, str):
            run.append(x)
        else:
            consts.append("".join(run).replace("%", "%%"))
            run = []
            arrays.append(x)
    consts.append("".join(run).replace("%", "%%"))
    template = "%s".join(consts)
    return np.array(list(map(template.__mod__, zip(*arrays, strict=True))), dtype=object)


def text(values: np.ndarray) -> np.ndarray:
    """XML-escaped text, escaping only when a value needs it."""
    values = np.asarray(values, dtype=object)
    joined = "".join(values.tolist())
    if "&" in joined or "<" in joined or ">" in joined:
        return np.array([escape(v) for v in values.tolist()], dtype=object)
    return values


# The Person's own items, in the return's order, and the column each comes from.
PERSON_ITEMS = ("Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity", "PostCode", "UPN",
                "UniqueLearnerNumber", "UPNunknown")
ALWAYS_SENT = frozenset({"Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity"})


def persons(cols: dict[str, np.ndarray], line_end: str = "\n") -> list[str]:
    """The Person elements of rows given as columns (values as sent; blank optional items are left out)."""
    pieces: list[Piece] = const(4, "<Person>")
    for name in PERSON_ITEMS:
        v = text(cols[name])
        pieces += el(6, name, v) if name in ALWAYS_SENT else el(6, name, v, v != "")
    pieces += [np.asarray(cols["Requests"], dtype=object), "    </Person>\n"]
    out = join_rows(pieces).tolist()
    return out if line_end == "\n" else [s.replace("\n", line_end) for s in out]


@dataclass
class Plan:
    """Everything under a Person's Requests, per row (day numbers -1 when absent)."""

    received: np.ndarray
    source: np.ndarray
    outcome_date: np.ndarray
    start: np.ndarray
    plan_res: np.ndarray
    plan_wbp: np.ndarray
    pb: np.ndarray
    oa: np.ndarray
    dp: np.ndarray
    cease: np.ndarray
    cease_reason: np.ndarray
    urn: np.ndarray  # placement 1 ('' when a setting without URN)
    ukprn: np.ndarray
    setting: np.ndarray
    has_second: np.ndarray
    urn2: np.ndarray
    ukprn2: np.ndarray
    active: np.ndarray
    transfer_la: np.ndarray
    review: np.ndarray
    review_outcome: np.ndarray
    last_review: np.ndarray
    needs: np.ndarray  # (n, 3) SENtype codes, rank order; '' after the last
    prior: np.ndarray  # an earlier request that was not assessed
    prior_received: np.ndarray
    prior_outcome_date: np.ndarray


def requests(pl: Plan, styles: tuple[Sen2Style, ...], sender: np.ndarray) -> np.ndarray:
    """The Requests subtree per row, as the row's sender writes it."""
    n = len(pl.start)
    wbp = np.array([s.plan_wbp for s in styles], dtype=object)[sender]
    setting = np.array([s.sen_setting for s in styles], dtype=object)[sender]
    words = np.array([s.bool_words for s in styles], dtype=bool)[sender]
    unordered = np.array([s.needs_unordered for s in styles], dtype=bool)[sender]
    v13 = np.array([s.year == 2025 for s in styles], dtype=bool)[sender]  # RequestSource is new in v1.3

    def flag(b: np.ndarray) -> np.ndarray:
        return np.where(words, np.where(b, "true", "false"), np.where(b, "1", "0")).astype(object)

    iso = dates.iso
    ceased = pl.cease >= 0
    has_review = pl.review >= 0
    no_urn = pl.urn == ""
    rank1 = np.full(n, "1", dtype=object)
    a = np.full(n, "A", dtype=object)
    p: list[Piece] = [
        *const(6, "<Requests>", pl.prior),
        *el_date(8, "ReceivedDate", pl.prior_received, pl.prior),
        *el(8, "RequestSource", pl.source, pl.prior & v13),
        *el(8, "RequestOutcome", np.full(n, "B", dtype=object), pl.prior),
        *el_date(8, "RequestOutcomeDate", pl.prior_outcome_date, pl.prior),
        *const(6, "</Requests>", pl.prior),
        *const(6, "<Requests>"),
        *el(8, "ReceivedDate", iso(pl.received)),
        *el(8, "RequestSource", pl.source, v13),
        *el(8, "RequestOutcome", a),
        *el(8, "RequestOutcomeDate", iso(pl.outcome_date)),
        *const(8, "<Assessment>"),
        *el(10, "AssessmentOutcome", a),
    ]
    start = iso(pl.start)
    p += [
        *el(10, "AssessmentOutcomeDate", start),
        *const(10, "<NamedPlan>"),
        *el(12, "StartDate", start),
        *el(12, "PlanRes", flag(pl.plan_res)),
        *el_named(12, wbp, flag(pl.plan_wbp)),
        *el(12, "PB", flag(pl.pb)),
        *el(12, "OA", flag(pl.oa)),
        *el(12, "DP", pl.dp),
        *el_date(12, "CeaseDate", pl.cease, ceased),
        *el(12, "CeaseReason", pl.cease_reason, ceased),
        *const(12, "<PlanDetail>"),
        *el(14, "URN", pl.urn, ~no_urn),
        *el(14, "UKPRN", pl.ukprn, ~no_urn),
        *el_named(14, setting, pl.setting, no_urn),
        *el(14, "PlacementRank", rank1),
        *const(12, "</PlanDetail>"),
        *const(12, "<PlanDetail>", pl.has_second),
        *el(14, "URN", pl.urn2, pl.has_second),
        *el(14, "UKPRN", pl.ukprn2, pl.has_second),
        *el(14, "PlacementRank", np.full(n, "2", dtype=object), pl.has_second),
        *const(12, "</PlanDetail>", pl.has_second),
        *const(10, "</NamedPlan>"),
        *const(8, "</Assessment>"),
        *const(8, "<ActivePlans>", pl.active),
        *el(10, "TransferLA", pl.transfer_la, pl.active & (pl.transfer_la != "")),
        *el_date(10, "ReviewMeeting", pl.review, pl.active & has_review),
        *el(10, "ReviewOutcome", pl.review_outcome, pl.active & has_review),
        *el_date(10, "LastReview", pl.last_review, pl.active & has_review),
        *const(10, "<PlacementDetail>", pl.active),
        *el(12, "URN", pl.urn, pl.active & ~no_urn),
        *el(12, "UKPRN", pl.ukprn, pl.active & ~no_urn),
        *el_named(12, setting, pl.setting, pl.active & no_urn),
        *el(12, "PlacementRank", rank1, pl.active),
        *const(10, "</PlacementDetail>", pl.active),
    ]
    n_needs = (pl.needs != "").sum(axis=1)
    for j in range(pl.needs.shape[1]):
        # Unordered senders write the needs last rank first.
        k = np.where(unordered, np.maximum(n_needs - 1 - j, 0), j)
        has = pl.active & (j < n_needs)
        code = pl.needs[np.arange(n), k]
        need = ("          <SENneed>\n            <SENtype>" + code + "</SENtype>\n            <SENtypeRank>"
                + (k + 1).astype(str).astype(object) + "</SENtypeRank>\n          </SENneed>\n")
        p.append(np.where(has, need, "").astype(object))
    p += [*const(8, "</ActivePlans>", pl.active), *const(6, "</Requests>")]
    return join_rows(p)
