"""Access to the landing zone. Local folders today; the interface is small so that an object store
(S3, Azure Blob) can replace it: list names, open a binary stream, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


class LandingZone(Protocol):
    def list_names(self) -> list[str]: ...

    def open(self, name: str) -> BinaryIO: ...

    def describe(self, name: str) -> str: ...


@dataclass(frozen=True)
class LocalLandingZone:
    root: Path

    def list_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_file() and not p.name.startswith("."))

    def open(self, name: str) -> BinaryIO:
        return (self.root / name).open("rb")

    def describe(self, name: str) -> str:
        return str(self.root / name)


def for_night(root: Path, night: str) -> LocalLandingZone:
    """The folder of one night's arrivals: `<root>/<YYYY-MM-DD>/`."""
    return LocalLandingZone(root / night)
