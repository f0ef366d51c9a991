"""Linkage quality against the generator's truth: pairwise precision and recall, overall and per rule.

Truth (`records.csv`) maps (file_name, row_number) -> person_id; the records behind the person index in the
restricted layer carry the same lineage (source_file_name, source_row_number). Only records present in both are
compared. Pairs: predicted = two records in the same linked person; true = two records of the same true person.
Per rule, each record of that rule contributes its predicted, correct and true partners (so rules add up to the
overall figures).
Output carries counts only, never identifiers. Comparing no record at all is a failure, not 100%.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ipb import db


@dataclass
class RuleQuality:
    rule: str
    records: int = 0
    predicted_partners: int = 0
    correct_partners: int = 0
    true_partners: int = 0

    @property
    def precision(self) -> float:
        return self.correct_partners / self.predicted_partners if self.predicted_partners else 1.0

    @property
    def recall(self) -> float:
        return self.correct_partners / self.true_partners if self.true_partners else 1.0


@dataclass
class LinkageQuality:
    compared_records: int
    unmatched_truth_rows: int  # truth rows not in the person index (quarantined, rejected, older snapshots)
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int
    rules: dict[str, RuleQuality] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    def meets_goal(self, precision: float = 0.9995, recall: float = 0.995) -> bool:
        """The goal of issue 20 (at 100k people). Never met when no record was compared: 100% of nothing is not
        a measurement (a truth folder from another night, or an empty index)."""
        return self.compared_records > 0 and self.precision >= precision and self.recall >= recall


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def read_truth(truth_dir: Path) -> dict[tuple[str, int], str]:
    path = Path(truth_dir) / "records.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no records.csv in {truth_dir}: pass the generator's --truth folder")
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["file_name"], int(r["row_number"])): r["person_id"] for r in csv.DictReader(fh)}


def read_links() -> list[tuple[str, int, int, str]]:
    """(file name, row number, linked person, rule) of every record in the restricted person index."""
    with db.connect(role=db.TRANSFORMER) as conn:
        rows = conn.execute(
            "select records.source_file_name, records.source_row_number, person_index.person_seq,"
            " person_index.link_rule"
            " from restricted.int_person_index as person_index"
            " inner join restricted.int_person_records as records on person_index.record_seq = records.record_seq"
        ).fetchall()
    return [(f, int(n), int(p), r) for f, n, p, r in rows]


def compare(truth: dict[tuple[str, int], str], links: list[tuple[str, int, int, str]]) -> LinkageQuality:
    matched = [(person, truth[(f, n)], rule) for f, n, person, rule in links if (f, n) in truth]
    cluster_size = Counter(p for p, _, _ in matched)
    true_size = Counter(t for _, t, _ in matched)
    both = Counter((p, t) for p, t, _ in matched)
    rules: dict[str, RuleQuality] = {}
    for person, true_person, rule in matched:
        q = rules.setdefault(rule, RuleQuality(rule))
        q.records += 1
        q.predicted_partners += cluster_size[person] - 1
        q.correct_partners += both[(person, true_person)] - 1
        q.true_partners += true_size[true_person] - 1
    return LinkageQuality(
        compared_records=len(matched),
        unmatched_truth_rows=len(truth) - len(matched),
        predicted_pairs=sum(_pairs(n) for n in cluster_size.values()),
        true_pairs=sum(_pairs(n) for n in true_size.values()),
        correct_pairs=sum(_pairs(n) for n in both.values()),
        rules=dict(sorted(rules.items())),
    )


def linkage_quality(truth_dir: Path) -> LinkageQuality:
    return compare(read_truth(truth_dir), read_links())
