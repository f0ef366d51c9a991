"""Clustering with the guard: union-find over atoms, strongest evidence first, refusing any merge that would give
one person two different valid NHS numbers, two different local ids of one sender's feed, or two records with the
same NHS number or UPN whose birth dates or sexes conflict (FEEDS.md Linkage).

A cluster that a weaker link would make violate the guard is thereby split at that link: the stronger links
(deterministic passes first, then Splink links by descending match weight) keep their clusters, and the refused
link goes to the review list. Each cluster keeps at most one NHS number and one local id per sender's feed, so the
checks stay small.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


def dates_conflict(a: date | None, b: date | None) -> bool:
    """FEEDS.md: not equal, not day and month swapped, and more than one of day, month, year differ."""
    if a is None or b is None or a == b:
        return False
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return False
    return (a.day != b.day) + (a.month != b.month) + (a.year != b.year) > 1


def sexes_conflict(a: str | None, b: str | None) -> bool:
    """Both known (1 male, 2 female) and different."""
    return a in ("1", "2") and b in ("1", "2") and a != b


def conflict_reason(dob_a: date | None, sex_a: str | None, dob_b: date | None, sex_b: str | None) -> str | None:
    if dates_conflict(dob_a, dob_b):
        return "birth_date"
    if sexes_conflict(sex_a, sex_b):
        return "sex"
    return None


@dataclass
class Atom:
    nhs_number: str | None
    upn: str | None
    local_key: tuple[str, str] | None  # (feed:sender, local id)
    birth_date: date | None
    sex_code: str | None


@dataclass
class _State:
    nhs: str | None
    locals: dict[str, str]
    # (kind, value) -> demographic profiles of the cluster's atoms carrying that identifier
    profiles: dict[tuple[str, str], set[tuple[date | None, str | None]]] = field(default_factory=dict)


class GuardedClusters:
    def __init__(self, atoms: list[Atom]) -> None:
        self.parent = list(range(len(atoms)))
        self.size = [1] * len(atoms)
        self.state: dict[int, _State] = {}
        for i, a in enumerate(atoms):
            if a.nhs_number or a.upn or a.local_key:
                st = _State(a.nhs_number, dict([a.local_key]) if a.local_key else {})
                for kind, value in (("nhs_number", a.nhs_number), ("upn", a.upn)):
                    if value:
                        st.profiles[(kind, value)] = {(a.birth_date, a.sex_code)}
                self.state[i] = st

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    @staticmethod
    def _compatible(a: _State, b: _State) -> bool:
        if a.nhs and b.nhs and a.nhs != b.nhs:
            return False
        small, big = (a.locals, b.locals) if len(a.locals) <= len(b.locals) else (b.locals, a.locals)
        if any(big.get(k, v) != v for k, v in small.items()):
            return False
        for key, profs in a.profiles.items():
            other = b.profiles.get(key)
            if other and any(conflict_reason(d1, s1, d2, s2) for d1, s1 in profs for d2, s2 in other):
                return False
        return True

    def union(self, i: int, j: int) -> bool | None:
        """Merge the clusters of i and j: True when merged, None when already one, False when the guard refuses."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return None
        si, sj = self.state.get(ri), self.state.get(rj)
        if si and sj and not self._compatible(si, sj):
            return False
        if self.size[ri] < self.size[rj]:
            ri, rj, si, sj = rj, ri, sj, si
        self.parent[rj] = ri
        self.size[ri] += self.size[rj]
        if sj:
            if si is None:
                self.state[ri] = sj
            else:
                si.nhs = si.nhs or sj.nhs
                si.locals.update(sj.locals)
                for key, profs in sj.profiles.items():
                    si.profiles.setdefault(key, set()).update(profs)
            del self.state[rj]
        return True
