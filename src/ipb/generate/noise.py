"""How the same person looks in different feeds: nicknames, typos, double surnames shown differently, an old
postcode, day and month swapped in a birth date, unnormalised postcodes, NHS numbers written with spaces.
Each draw is keyed by (person, feed), so a person looks the same in a feed every night."""

from __future__ import annotations

import numpy as np

from ipb.generate import dates
from ipb.generate.params import Params
from ipb.generate.rand import Rand


def _typo(s: str, u: float, v: float) -> str:
    if len(s) < 4:
        return s
    i = 1 + int(u * (len(s) - 2))
    if v < 0.4:  # adjacent letters swapped
        return s[:i] + s[i + 1] + s[i] + s[i + 2:] if s[i] != s[i + 1] else s[:i] + s[i + 1:]
    if v < 0.7:  # a letter dropped
        return s[:i] + s[i + 1:]
    return s[:i] + s[i] + s[i:]  # a letter doubled


def forename(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int) -> np.ndarray:
    idx = P["idx"]
    out = P["fname"].copy()
    nick = (P["nick"] != "") & (r.uniform("n.nick", idx, feed) < p.nickname)
    out[nick] = P["nick"][nick]
    _apply_typos(r, "n.ftypo", idx, feed, out, p.name_typo)
    return out


def surname(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int) -> np.ndarray:
    idx = P["idx"]
    double = P["double"]
    out = np.where(double, P["sur1"] + "-" + P["sur2"], P["sur1"]).astype(object)
    variant = double & (r.uniform("n.dbl", idx, feed) < p.double_surname_variant)
    which = r.uniform("n.dblk", idx, feed)
    out[variant] = np.where(which[variant] < 0.5, P["sur1"][variant] + " " + P["sur2"][variant],
                            np.where(which[variant] < 0.8, P["sur1"][variant], P["sur2"][variant]))
    _apply_typos(r, "n.styp", idx, feed, out, p.name_typo)
    return out


def _apply_typos(r: Rand, stream: str, idx: np.ndarray, feed: int, out: np.ndarray, rate: float) -> None:
    hit = np.flatnonzero(r.uniform(stream, idx, feed) < rate)
    if len(hit):
        u = r.uniform(stream + ".u", idx[hit], feed)
        v = r.uniform(stream + ".v", idx[hit], feed)
        for k, a, b in zip(hit.tolist(), u.tolist(), v.tolist(), strict=True):
            out[k] = _typo(out[k], a, b)


def birth_date(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int) -> np.ndarray:
    """Shown birth day numbers: true, or day and month swapped where that still makes a real date."""
    y, m, d = dates.ymd(P["dob"])
    swap = (r.uniform("n.dob", P["idx"], feed) < p.dob_day_month_swap) & (d <= 12) & (d != m)
    return np.where(swap, dates.from_ymd(y, d, m), P["dob"])


def moved(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int) -> np.ndarray:
    """Whether this feed still has the person's previous postcode."""
    return (r.uniform("n.pcmv", P["idx"], feed) < p.postcode_moved) & (P["pc_old"] != P["postcode"])


def postcode(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int, optional: bool) -> np.ndarray:
    idx = P["idx"]
    moved_ = moved(r, p, P, feed)
    out = np.where(moved_, P["pc_old"], P["postcode"]).astype(object)
    fmt = r.uniform("n.pcfmt", idx, feed)
    kind = r.uniform("n.pckind", idx, feed)
    for k in np.flatnonzero(fmt < p.postcode_unnormalised).tolist():
        s = out[k]
        out[k] = s.replace(" ", "") if kind[k] < 0.5 else s.lower() if kind[k] < 0.8 else s.replace(" ", "  ")
    if optional:
        out[r.uniform("n.pcmiss", idx, feed) < p.postcode_missing_optional] = ""
    return out


def nhs_number(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int, shown: np.ndarray,
               spaced_rate: float) -> np.ndarray:
    nhs = P["nhs"]
    shown = shown & (nhs != "")  # a person without an NHS number shows none
    out = np.where(shown, nhs, "").astype(object)
    spaced = shown & (r.uniform("n.nhssp", P["idx"], feed) < spaced_rate)
    out[spaced] = [f"{s[:3]} {s[3:6]} {s[6:]}" for s in nhs[spaced]]
    return out


def names(r: Rand, p: Params, P: dict[str, np.ndarray], feed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(forename, surname, swapped) as this feed shows the person: the usual noise, then the hard cases that are
    the person's (a married surname some feeds still show; an accented name some feeds fold) and the feed's
    (forename and surname swapped)."""
    from ipb.generate.names import fold

    idx = P["idx"]
    fore = forename(r, p, P, feed)
    sur = surname(r, p, P, feed)
    old = P["married"] & (r.uniform("hc.mshow", idx, feed) < 0.5)
    sur[old] = P["sur_old"][old]
    for k in np.flatnonzero(P["accent"] & (r.uniform("hc.fold", idx, feed) < 0.5)).tolist():
        fore[k], sur[k] = fold(fore[k]), fold(sur[k])
    swapped = (r.uniform("hc.swap", idx, feed) < p.hard_case) & ~P["anchor"]
    fore[swapped], sur[swapped] = sur[swapped], fore[swapped].copy()
    return fore, sur, swapped
