"""The reviewed, versioned linkage model: model.json in this package (Splink settings with fixed m and u values,
the two thresholds, how it was trained). Written only by `ipb linkage train`; the nightly run reads it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class Model:
    splink: dict[str, Any]  # Splink settings (m and u fixed)
    link_threshold: float  # match weight at or above which a pair links (with the name guard)
    review_threshold: float  # at or above this and below the link threshold: review list, not linked
    version: str

    @property
    def comparison_names(self) -> list[str]:
        return [c["output_column_name"] for c in self.splink["comparisons"]]


def load(path: Path = MODEL_PATH) -> Model:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    t = data["thresholds"]
    if not float(t["review"]) < float(t["link"]):
        raise ValueError("linkage model: the review threshold must be below the link threshold")
    return Model(data["splink"], float(t["link"]), float(t["review"]), str(data["version"]))


def write(splink: dict[str, Any], link: float, review: float, version: str, trained: dict[str, Any],
          path: Path = MODEL_PATH) -> None:
    doc = {"version": version, "thresholds": {"link": link, "review": review}, "trained": trained, "splink": splink}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
