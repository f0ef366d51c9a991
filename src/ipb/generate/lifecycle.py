"""Deterministic record lifecycles. Each record slot repeats a cycle of period P days from its own phase: a record
(one "generation", with its own key) appears, is amended every I days while open, ends (its end date appears),
stays listed for a while as recently closed, then leaves the snapshot until the slot's next generation. A few
generations are withdrawn (vanish without an end date). Whether and how a record shows on date D is a pure
function of (seed, slot, D): O(1) per record, no iteration over past days."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ipb.generate.population import EPOCH_DAY
from ipb.generate.rand import Rand

ANCHOR_START = EPOCH_DAY - 3000  # anchors: one generation, open from here on (dates from 2018 on)


@dataclass(frozen=True)
class Shape:
    """Lifecycle parameters (broadcast per slot): period, end and keep as days or fractions, amendment interval."""

    period: tuple[int, int]
    end_frac: tuple[float, float]
    keep: tuple[int, int]
    amend: tuple[int, int]
    withdraw: float


@dataclass
class Life:
    visible: np.ndarray
    gen: np.ndarray  # generation number (part of the record key)
    start: np.ndarray  # day the record started
    end: np.ndarray  # end day, -1 while open
    n_amend: np.ndarray  # amendments so far
    last_event: np.ndarray  # day of the latest change
    length: np.ndarray  # days from start to end


def _arr(v: np.ndarray | float, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(v), (n,))


def evaluate(r: Rand, stream: str, slot: np.ndarray, day: int, period_lo: np.ndarray, period_hi: np.ndarray,
             end_lo: np.ndarray, end_hi: np.ndarray, keep_lo: np.ndarray, keep_hi: np.ndarray,
             amend_lo: np.ndarray, amend_hi: np.ndarray, withdraw: np.ndarray, anchored: np.ndarray) -> Life:
    n = len(slot)
    period = r.integers(stream + ".P", slot, 0, 1_000_000) % np.maximum(_arr(period_hi, n) - _arr(period_lo, n), 1)
    period = period + _arr(period_lo, n)
    phase = r.integers(stream + ".phi", slot, 0, 1_000_000_000) % period
    x = day - EPOCH_DAY + phase
    gen = np.floor_divide(x, period)
    t = x - gen * period
    start = day - t
    fe = _arr(end_lo, n) + r.uniform(stream + ".e", slot, gen) * (_arr(end_hi, n) - _arr(end_lo, n))
    e = np.maximum(np.floor(period * fe).astype(np.int64), 2)
    keep = _arr(keep_lo, n) + np.floor(r.uniform(stream + ".k", slot, gen)
                                       * (_arr(keep_hi, n) - _arr(keep_lo, n))).astype(np.int64)
    keep = np.clip(keep, 0, np.maximum(period - e - 1, 0))
    withdrawn = r.uniform(stream + ".w", slot, gen) < _arr(withdraw, n)
    tw = 1 + np.floor(r.uniform(stream + ".tw", slot, gen) * (e - 1)).astype(np.int64)
    interval = _arr(amend_lo, n) + np.floor(r.uniform(stream + ".I", slot, gen)
                                            * (_arr(amend_hi, n) - _arr(amend_lo, n))).astype(np.int64)
    interval = np.maximum(interval, 1)

    # Anchors: one long generation that never ends, so every sender's file always has a record.
    if anchored.any():
        a = anchored
        gen = np.where(a, 0, gen)
        start = np.where(a, ANCHOR_START - (slot % 97), start)
        t = np.where(a, day - start, t)
        e = np.where(a, 10**9, e)
        withdrawn = withdrawn & ~a

    visible = (t >= 0) & (t < e + keep) & ~(withdrawn & (t >= tw))
    last_open = np.minimum(t, e - 1)
    n_amend = np.where(last_open >= interval, last_open // interval, 0)
    ended = t >= e
    end = np.where(ended, start + e, -1)
    last_event = np.where(ended, start + e, start + n_amend * interval)
    return Life(visible, gen, start, end, n_amend, last_event, e)


def evaluate_shape(r: Rand, stream: str, slot: np.ndarray, day: int, shape: Shape, anchored: np.ndarray) -> Life:
    return evaluate(r, stream, slot, day, np.int64(shape.period[0]), np.int64(shape.period[1]),
                    np.float64(shape.end_frac[0]), np.float64(shape.end_frac[1]), np.int64(shape.keep[0]),
                    np.int64(shape.keep[1]), np.int64(shape.amend[0]), np.int64(shape.amend[1]),
                    np.float64(shape.withdraw), anchored)
