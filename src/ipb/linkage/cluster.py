"""Clustering with the guard, in two steps that give the same people as one guarded union-find over every link:

1. `components`: connected components of all the links, over NumPy int arrays (national scale: a few million
   links, no Python object per record).
2. A component whose atoms break the guard (two different valid NHS numbers, two different local ids of one
   sender's feed, or two atoms of one NHS number or UPN whose demographics conflict) is re-clustered by
   `GuardedClusters`: union-find over that component's links, strongest evidence first, refusing any merge that
   would break the guard. The guard is a property of pairs of atoms, so a component that does not break it has no
   part that does: all its links are accepted, in any order.

A refused link splits the cluster at that link: the stronger links keep their clusters, and the refused link goes
to the review list (Splink) or the conflict list (a deterministic pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label of each of n nodes: the smallest node of its component (edges a[i]-b[i]). Hooking and pointer jumping
    over int arrays."""
    label = np.arange(n, dtype=np.int64)
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    while True:
        la, lb = label[a], label[b]
        differ = la != lb
        if not differ.any():
            return label
        a, b, la, lb = a[differ], b[differ], la[differ], lb[differ]
        low = np.minimum(la, lb)
        np.minimum.at(label, la, low)  # each root points at the smallest root it touches
        np.minimum.at(label, lb, low)
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped


@dataclass
class Atom:
    nhs_number: str | None
    local_key: tuple[str, str] | None  # (feed:sender, local id)
    id_heads: tuple[int, ...]  # the heads of its NHS number's and UPN's id profiles (sql/prepare.sql)


@dataclass
class _State:
    nhs: str | None
    locals: dict[str, str]
    id_heads: set[int] = field(default_factory=set)


class GuardedClusters:
    """Union-find over the atoms of one or more guard-breaking components. `conflicting` holds the pairs of id
    profile heads whose demographics conflict (sql/deterministic.sql, id_conflicts): the only definition."""

    def __init__(self, atoms: list[Atom], conflicting: set[tuple[int, int]]) -> None:
        self.parent = list(range(len(atoms)))
        self.size = [1] * len(atoms)
        self.conflicting = conflicting
        self.state = [_State(a.nhs_number, dict([a.local_key]) if a.local_key else {}, set(a.id_heads))
                      for a in atoms]

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    def _compatible(self, a: _State, b: _State) -> bool:
        if a.nhs and b.nhs and a.nhs != b.nhs:
            return False
        small, big = (a.locals, b.locals) if len(a.locals) <= len(b.locals) else (b.locals, a.locals)
        if any(big.get(k, v) != v for k, v in small.items()):
            return False
        return not any((min(x, y), max(x, y)) in self.conflicting for x in a.id_heads for y in b.id_heads)

    def union(self, i: int, j: int) -> bool | None:
        """Merge the clusters of i and j: True when merged, None when already one, False when the guard refuses."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return None
        si, sj = self.state[ri], self.state[rj]
        if not self._compatible(si, sj):
            return False
        if self.size[ri] < self.size[rj]:
            ri, rj, si, sj = rj, ri, sj, si
        self.parent[rj] = ri
        self.size[ri] += self.size[rj]
        si.nhs = si.nhs or sj.nhs
        si.locals.update(sj.locals)
        si.id_heads |= sj.id_heads
        return True
