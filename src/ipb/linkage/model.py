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
    trained_profiles: int | None = None  # profiles of the night it was trained on (scales the prior, below)

    def settings_for(self, profiles: int) -> dict[str, Any]:
        """Splink settings for a night of `profiles` profiles. The chance that two random profiles are one person
        falls as the population grows (each person has about as many records whatever the night's size), so the
        trained prior is scaled by trained profiles / tonight's: a match weight means the same at 800 people and at
        national scale, and one link threshold serves both."""
        if not self.trained_profiles or profiles <= 0:
            return self.splink
        prior = float(self.splink["probability_two_random_records_match"]) * self.trained_profiles / profiles
        return {**self.splink, "probability_two_random_records_match": min(prior, 0.5)}

    @property
    def comparison_names(self) -> list[str]:
        return [c["output_column_name"] for c in self.splink["comparisons"]]


def load(path: Path = MODEL_PATH) -> Model:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    t = data["thresholds"]
    if not float(t["review"]) < float(t["link"]):
        raise ValueError("linkage model: the review threshold must be below the link threshold")
    profiles = data.get("trained", {}).get("profiles")
    return Model(data["splink"], float(t["link"]), float(t["review"]), str(data["version"]),
                 int(profiles) if profiles else None)


def write(splink: dict[str, Any], link: float, review: float, version: str, trained: dict[str, Any],
          path: Path = MODEL_PATH) -> None:
    doc = {"version": version, "thresholds": {"link": link, "review": review}, "trained": trained, "splink": splink}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
