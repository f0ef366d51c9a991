"""The answer key next to a generated night: every data row's person and record key (records.csv; a SEN2 file's
row_number is the Person's ordinal in the file), every injected defect with its expected outcome (defects.csv),
every linkage hard case (hard_cases.csv: file_name, row_number, case_class; hard.py), the true people
(people.csv), and a manifest of arguments, rates and counts."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ipb.generate import dates
from ipb.generate.params import GROUP_NAMES
from ipb.generate.population import Geography

RECORD_COLUMNS = ("file_name", "row_number", "feed", "person_id", "record_key")
DEFECT_COLUMNS = ("file_name", "row_number", "defect_class", "expected_outcome", "expected_reason_code")
PEOPLE_COLUMNS = (
    "person_id", "nhs_number", "forename", "surname", "date_of_birth", "sex", "postcode", "la_gss_code",
    "cld_la_code", "dfe_la_number", "icb_code", "upn", "uln", "group", "phb_category", "in_nhs_phb",
    "in_social_care", "in_send", "opted_out", "anchor", "twin_of", "previous_surname",
)
HARD_CASE_COLUMNS = ("file_name", "row_number", "case_class")


def person_ids(idx: np.ndarray) -> list[str]:
    return [f"P{i:08d}" for i in np.asarray(idx).tolist()]


class Truth:
    """Streams records.csv and people.csv; collects defects (few) and writes them with the manifest at the end."""

    def __init__(self, directory: Path | None) -> None:
        self.dir = directory
        self.defects: list[tuple[str, str, str, str, str]] = []
        self._fh: list[TextIO] = []
        if directory is None:
            return
        directory.mkdir(parents=True, exist_ok=True)
        self.records = self._writer("records.csv", RECORD_COLUMNS)
        self.people = self._writer("people.csv", PEOPLE_COLUMNS)
        self.hard = self._writer("hard_cases.csv", HARD_CASE_COLUMNS)

    @property
    def enabled(self) -> bool:
        return self.dir is not None

    def _writer(self, name: str, header: tuple[str, ...]) -> Any:
        assert self.dir is not None
        fh = (self.dir / name).open("w", encoding="utf-8", newline="")
        self._fh.append(fh)
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        return w

    def add_defect(self, file_name: str, row_number: int | None, cls: str, outcome: str, reason: str) -> None:
        self.defects.append((file_name, "" if row_number is None else str(row_number), cls, outcome, reason))

    def write_people(self, P: dict[str, np.ndarray], geo: Geography, cat_names: tuple[str, ...]) -> None:
        if not self.enabled:
            return
        council = P["council"]
        has_c = council >= 0
        cc = np.where(has_c, council, 0)
        gss = np.where(has_c, np.array(geo.council_gss, dtype=object)[cc], "")
        cld = np.where(has_c, np.array(geo.council_cld, dtype=object)[cc], "")
        dfe = np.where(has_c, np.array(geo.council_dfe, dtype=object)[cc], "")
        surname = np.where(P["double"], P["sur1"] + "-" + P["sur2"], P["sur1"])
        cat = np.where(P["cat"] >= 0, np.array(cat_names, dtype=object)[np.maximum(P["cat"], 0)], "")
        b = {True: "1", False: "0"}
        idx = np.asarray(P["idx"])
        twin_of = np.where(P["twin"], idx - 1, np.where(P["twin_partner"], idx + 1, -1))
        twin_ids = [f"P{t:08d}" if t >= 0 else "" for t in twin_of.tolist()]
        rows = zip(
            person_ids(P["idx"]), P["nhs"].tolist(), P["fname"].tolist(), surname.tolist(),
            dates.iso(P["dob"]).tolist(), P["sex"].tolist(), P["postcode"].tolist(), gss.tolist(), cld.tolist(),
            dfe.tolist(), np.array(geo.icb_codes, dtype=object)[P["icb"]].tolist(), P["upn"].tolist(),
            P["uln"].tolist(), [GROUP_NAMES[g] for g in P["group"].tolist()], cat.tolist(),
            [b[x] for x in P["in_phb"].tolist()], [b[x] for x in P["in_sc"].tolist()],
            [b[x] for x in P["in_send"].tolist()], [b[x] for x in P["opted_out"].tolist()],
            [b[x] for x in P["anchor"].tolist()], twin_ids, P["sur_old"].tolist(), strict=True,
        )
        self.people.writerows(rows)

    def close_files(self) -> None:
        for fh in self._fh:
            fh.close()
        self._fh = []

    def finish(self, manifest: dict) -> None:
        """Write defects.csv and manifest.json (after the extra defect files, whose records stream too)."""
        self.close_files()
        if not self.enabled:
            return
        assert self.dir is not None
        with (self.dir / "defects.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(DEFECT_COLUMNS)
            w.writerows(self.defects)
        (self.dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                                encoding="utf-8")
