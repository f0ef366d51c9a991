"""Counter-based randomness: every draw is a pure hash of (seed, stream, key, sub), so any record on any date
can be computed on its own, in any chunking, in O(1). splitmix64, vectorised with numpy."""

from __future__ import annotations

import zlib

import numpy as np

_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x + _C1
    x = (x ^ (x >> _S30)) * _C2
    x = (x ^ (x >> _S27)) * _C3
    return x ^ (x >> _S31)


class Rand:
    """Draws keyed by an int64 array (person index, slot id) and an optional sub-key (generation, amendment)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._base = _mix(np.array([self.seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]

    def bits(self, stream: str, key: np.ndarray, sub: np.ndarray | int = 0) -> np.ndarray:
        sid = np.uint64(zlib.crc32(stream.encode()))
        k = np.asarray(key).astype(np.uint64)
        s = np.asarray(sub).astype(np.int64).astype(np.uint64)
        with np.errstate(over="ignore"):
            h = _mix(k ^ self._base)
            h = _mix(h + sid * _C2)
            return _mix(h + s * _C3)

    def uniform(self, stream: str, key: np.ndarray, sub: np.ndarray | int = 0) -> np.ndarray:
        return (self.bits(stream, key, sub) >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)

    def normal(self, stream: str, key: np.ndarray, sub: np.ndarray | int = 0) -> np.ndarray:
        u1 = self.uniform(stream + ".n1", key, sub)
        u2 = self.uniform(stream + ".n2", key, sub)
        return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)

    def integers(self, stream: str, key: np.ndarray, low: int, high: np.ndarray | int,
                 sub: np.ndarray | int = 0) -> np.ndarray:
        """Uniform integers in [low, high)."""
        u = self.uniform(stream, key, sub)
        return (low + np.floor(u * (np.asarray(high) - low))).astype(np.int64)

    def choice(self, stream: str, key: np.ndarray, probs: np.ndarray | list[float],
               sub: np.ndarray | int = 0) -> np.ndarray:
        """Index into `probs` (weights, normalised here). A 2-D probs gives one row of weights per key."""
        u = self.uniform(stream, key, sub)
        return pick(u, probs)


def pick(u: np.ndarray, probs: np.ndarray | list[float]) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 1:
        c = np.cumsum(p / p.sum())
        return np.minimum(np.searchsorted(c, u, side="right"), len(p) - 1)
    c = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((c <= u[:, None]).sum(axis=1), p.shape[1] - 1)
