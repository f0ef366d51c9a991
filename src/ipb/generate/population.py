"""One population of synthetic people: who they are (true identifiers), where they live, and which feeds they
are in. Every attribute is a hash of (seed, person index), so a chunk of people is computed on its own."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ipb.generate import dates, names, vocab
from ipb.generate.identifiers import UPN_LETTERS
from ipb.generate.params import (
    CATEGORIES,
    EPOCH,
    PHB_ONLY,
    PHB_SC,
    PHB_SEND,
    SC_ONLY,
    SEND_ONLY,
    SEND_SC,
    Params,
)
from ipb.generate.rand import Rand, pick
from ipb.reference import Reference

EPOCH_DAY = dates.day(EPOCH)
CAT = {c: i for i, c in enumerate(CATEGORIES)}
NAMES = np.array([n for n, _ in vocab.MALE] + [n for n, _ in vocab.FEMALE], dtype=object)
NICKS = np.array([k for _, k in vocab.MALE] + [k for _, k in vocab.FEMALE], dtype=object)
N_MALE = len(vocab.MALE)
SURNAMES = np.array(vocab.SURNAMES, dtype=object)
# SEND ages at the epoch: EHC plans peak at secondary school age.
_SEND_AGE_W = np.array([0.2, 0.4, 1, 2, 3, 4, 5, 6, 6.5, 7, 7, 7, 7, 7, 7, 6.5, 6, 5, 4, 3, 2.5, 2, 1.5, 1, 0.6])


@dataclass(frozen=True)
class Geography:
    """Places people live: the sample councils, then for each ICB the part of it outside those councils."""

    icb_codes: tuple[str, ...]
    council_gss: tuple[str, ...]
    council_cld: tuple[str, ...]
    council_dfe: tuple[str, ...]
    unit_icb: np.ndarray  # ICB index per unit
    unit_council: np.ndarray  # council index per unit, -1 outside the sample councils
    unit_pop: np.ndarray
    unit_areas: tuple[tuple[str, ...], ...]
    sub_icbs: tuple[tuple[str, ...], ...]  # per ICB index
    anchor_unit: np.ndarray  # per ICB index: the unit its anchor person lives in

    @classmethod
    def build(cls, ref: Reference) -> Geography:
        icbs = tuple(i.icb_code for i in ref.icbs)
        icb_ix = {c: k for k, c in enumerate(icbs)}
        orgs = ref.organisations
        u_icb, u_council, u_pop, u_areas = [], [], [], []
        for k, o in enumerate(orgs):
            u_icb.append(icb_ix[o.primary_icb_code])
            u_council.append(k)
            u_pop.append(o.approx_population)
            u_areas.append(vocab.COUNCIL_AREAS.get(o.la_gss_code) or vocab.ICB_AREAS.get(o.primary_icb_code, ("ZZ",)))
        for k, i in enumerate(ref.icbs):
            inside = sum(o.approx_population for o in orgs if o.primary_icb_code == i.icb_code)
            u_icb.append(k)
            u_council.append(-1)
            u_pop.append(max(i.approx_population - inside, 0))
            u_areas.append(vocab.ICB_AREAS.get(i.icb_code, ("ZZ",)))
        unit_icb = np.array(u_icb, dtype=np.int64)
        unit_pop = np.array(u_pop, dtype=np.float64)
        anchor = np.array([int(np.argmax(np.where(unit_icb == k, unit_pop + 1, -1))) for k in range(len(icbs))])
        subs = tuple(tuple(sorted(s for s, ic in ref.sub_icb_codes.items() if ic == code)) for code in icbs)
        return cls(icbs, tuple(o.la_gss_code for o in orgs), tuple(o.cld_la_code for o in orgs),
                   tuple(o.dfe_la_number for o in orgs), unit_icb, np.array(u_council, dtype=np.int64), unit_pop,
                   tuple(u_areas), subs, anchor)

    @property
    def n_anchor(self) -> int:
        return len(self.icb_codes) + 2 * len(self.council_gss)


def _ages(r: Rand, idx: np.ndarray, group: np.ndarray, cat: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Age in (fractional) years at the epoch, by group and PHB category."""
    u = r.uniform("age.u", idx)
    v = r.uniform("age.v", idx)
    age = np.full(len(idx), np.nan)

    def band(mask: np.ndarray, lo: float, hi: float) -> None:
        age[mask] = lo + u[mask] * (hi - lo)

    phb = (group == PHB_ONLY) | (group == PHB_SC) | (group == PHB_SEND)
    band(phb & (cat == CAT["CHC"]) & (v < 0.6), 65, 96)
    band(phb & (cat == CAT["CHC"]) & (v >= 0.6), 19, 65)
    band(phb & (cat == CAT["CYP_CC"]), 0.8, 17.5)
    band(phb & (cat == CAT["S117"]), 20, 80)
    band(phb & (cat == CAT["WHEELCHAIR"]) & child, 2, 17.5)
    band(phb & (cat == CAT["WHEELCHAIR"]) & ~child, 19, 95)
    band(phb & (cat == CAT["PMCB"]), 19, 44)
    band(phb & (cat == CAT["LD_AUTISM"]), 19, 65)
    band(phb & (cat == CAT["MENTAL_HEALTH"]) & child, 10, 17.5)
    band(phb & (cat == CAT["MENTAL_HEALTH"]) & ~child, 19, 75)
    band(phb & (cat == CAT["END_OF_LIFE"]), 50, 98)
    band(phb & (cat == CAT["LTC"]), 25, 90)
    band(phb & (cat == CAT["OTHER"]), 19, 85)
    band((group == PHB_SEND), 1.5, 17.5)
    band((group == SC_ONLY) & (v < 0.35), 19, 65)
    band((group == SC_ONLY) & (v >= 0.35), 65, 100)
    band(group == SEND_SC, 18.5, 25.5)
    send = group == SEND_ONLY
    age[send] = pick(u[send], _SEND_AGE_W) + v[send]
    return age


def twins(r: Rand, p: Params, geo: Geography, idx: np.ndarray) -> np.ndarray:
    """Person idx is the second of a twin pair with idx - 1 (never a chain, never an anchor): a hash of idx and
    idx - 1 only, so any chunk knows its twins and their partners."""
    hit = r.uniform("hc.twin", idx) < p.twin
    before = r.uniform("hc.twin", idx - 1) < p.twin
    return hit & ~before & (idx > geo.n_anchor)


def _sex_fname(r: Rand, keys: np.ndarray, age: np.ndarray, group: np.ndarray,
               cat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sex (person-gender codes 1/2, a few 9/X adults; maternity budgets are for women) and forename index."""
    sex = np.where(r.uniform("sex", keys) < 0.49, "1", "2").astype(object)
    odd = (r.uniform("sex.odd", keys) < 0.003) & (age >= 18) & ~np.isin(group, [PHB_SEND, SEND_ONLY, SEND_SC])
    sex[odd] = np.where(r.uniform("sex.oddk", keys)[odd] < 0.5, "9", "X")
    sex[cat == CAT["PMCB"]] = "2"
    female = sex == "2"
    male_name = r.integers("fn.m", keys, 0, N_MALE)
    female_name = r.integers("fn.f", keys, N_MALE, len(NAMES))
    fname_ix = np.where(female, female_name, np.where(sex == "1", male_name,
                                                       np.where(r.uniform("fn.x", keys) < 0.5, male_name,
                                                                female_name)))
    return sex, fname_ix


def people(r: Rand, p: Params, geo: Geography, idx: np.ndarray) -> dict[str, np.ndarray]:
    """True attributes of people `idx` (int64 array). NHS numbers are assigned later (they need a running count).
    A twin shares its household draws (group, place, birth date, surname, postcode) with idx - 1: `hh` keys them."""
    n = len(idx)
    n_icb, n_cn = len(geo.icb_codes), len(geo.council_gss)
    twin = twins(r, p, geo, idx)
    hh = np.where(twin, idx - 1, idx)
    twin_partner = twins(r, p, geo, idx + 1)
    is_phb = r.uniform("phb", hh) < p.phb_share
    cat = r.choice("cat", hh, np.array(p.category_weights))
    ov = r.uniform("overlap", hh)
    group = np.full(n, PHB_ONLY, dtype=np.int64)
    adult_sc = np.isin(cat, [CAT["S117"], CAT["LD_AUTISM"], CAT["MENTAL_HEALTH"]])
    cu = r.uniform("child", hh)
    child = ((cat == CAT["WHEELCHAIR"]) & (cu < p.wheelchair_child_share)) | (
        (cat == CAT["MENTAL_HEALTH"]) & (cu < p.mental_health_child_share)) | (cat == CAT["CYP_CC"])
    group[is_phb & (cat == CAT["CHC"]) & (ov < p.chc_with_social_care)] = PHB_SC
    group[is_phb & adult_sc & ~child & (ov < p.adult_phb_with_social_care)] = PHB_SC
    group[is_phb & (cat == CAT["CYP_CC"]) & (ov < p.cyp_cc_with_send)] = PHB_SEND
    rest = np.array([SC_ONLY, SEND_ONLY, SEND_SC])[r.choice("group", hh, np.array(p.non_phb_mix))]
    group[~is_phb] = rest[~is_phb]
    cat[~is_phb] = -1
    child &= is_phb

    # Where they live: council-feed people by council population, PHB-only people anywhere in an ICB.
    n_units = len(geo.unit_pop)
    unit = r.choice("unit.all", hh, geo.unit_pop)
    unit_cn = r.choice("unit.council", hh, geo.unit_pop[:n_cn])
    unit = np.where(group == PHB_ONLY, unit, unit_cn)

    # Anchors: one always-open record per sender file, so even a tiny run has no header-only files.
    anchor = idx < geo.n_anchor
    a = idx[anchor]
    a_group = np.where(a < n_icb, PHB_ONLY, np.where(a < n_icb + n_cn, SC_ONLY, SEND_ONLY))
    a_unit = np.where(a < n_icb, geo.anchor_unit[np.minimum(a, n_icb - 1)], (a - n_icb) % n_cn)
    group[anchor] = a_group
    unit[anchor] = a_unit
    cat[anchor] = np.where(a_group == PHB_ONLY, CAT["LTC"], -1)
    child[anchor] = False
    assert n_units > 0

    council = geo.unit_council[unit]
    icb = geo.unit_icb[unit]
    age = _ages(r, hh, group, cat, child)
    # Anchors' records started ~8 years before the epoch: adults were adults then, SEND anchors were 9-16.
    a_sc = anchor & (group == SC_ONLY)
    age[a_sc] = np.maximum(age[a_sc], 30.0)
    a_send = anchor & (group == SEND_ONLY)
    age[a_send] = 17.0 + 7.0 * r.uniform("age.anchor", idx[a_send])
    dob = EPOCH_DAY - np.floor(age * 365.25).astype(np.int64) - r.integers("dob.jitter", hh, 0, 3)

    sex, fname_ix = _sex_fname(r, idx, age, group, cat)
    if twin.any():  # a twin's forename is not its sibling's, nor an alias of it (FEEDS.md: twins are two people)
        k = np.flatnonzero(twin)
        _, other = _sex_fname(r, idx[k] - 1, age[k], group[k], cat[k])
        for j, o in zip(k.tolist(), other.tolist(), strict=True):
            while names.same_forename(NAMES[fname_ix[j]], NAMES[o]):
                lo, hi = (0, N_MALE) if fname_ix[j] < N_MALE else (N_MALE, len(NAMES))
                fname_ix[j] = lo + (fname_ix[j] - lo + 1) % (hi - lo)
    sur1 = r.integers("sn.1", hh, 0, len(SURNAMES))
    sur2 = r.integers("sn.2", hh, 0, len(SURNAMES))
    double = (r.uniform("sn.double", hh) < p.double_surname) & (sur1 != sur2)
    fname, nick, surname1 = NAMES[fname_ix], NICKS[fname_ix], SURNAMES[sur1]
    # Linkage hard cases that belong to the person (every feed, every night): an accented name that some feeds
    # fold, and a changed (married) surname that some feeds still show.
    plain = ~twin & ~twin_partner & ~anchor
    accent = plain & (r.uniform("hc.accent", idx) < p.hard_case)
    if accent.any():
        k = np.flatnonzero(accent)
        fem = sex[k] == "2"
        pool_f, pool_m = names.ACCENTED_FEMALE, names.ACCENTED_MALE
        pick_f = r.integers("hc.accf", idx[k], 0, len(pool_f))
        pick_m = r.integers("hc.accm", idx[k], 0, len(pool_m))
        fname = fname.copy()
        nick = nick.copy()
        surname1 = surname1.copy()
        fname[k] = np.where(fem, np.array(pool_f, dtype=object)[pick_f], np.array(pool_m, dtype=object)[pick_m])
        nick[k] = ""
        surname1[k] = np.array(names.ACCENTED_SURNAMES, dtype=object)[
            r.integers("hc.accs", idx[k], 0, len(names.ACCENTED_SURNAMES))]
        double[k] = False
    married = plain & ~accent & ~double & (age >= 20) & (r.uniform("hc.married", idx) < p.hard_case)
    sur_old = SURNAMES[r.integers("sn.old", idx, 0, len(SURNAMES))]
    sur_old = np.where(married & (sur_old == surname1), SURNAMES[(sur1 + 1) % len(SURNAMES)], sur_old)
    sur_old[~married] = ""

    # Postcodes: an area of the person's place, district, inward code. `pc_old` is where they lived before.
    area_n = np.array([len(geo.unit_areas[u]) for u in range(n_units)])
    postcode = _postcodes(r, "pc", hh, geo, unit, area_n)
    pc_old = _postcodes(r, "pc.old", hh, geo, unit, area_n)

    in_phb = np.isin(group, [PHB_ONLY, PHB_SC, PHB_SEND])
    in_sc = np.isin(group, [PHB_SC, SC_ONLY, SEND_SC])
    in_send = np.isin(group, [PHB_SEND, SEND_ONLY, SEND_SC])
    nhs_in_sc = r.uniform("nhs.sc", idx) >= p.nhs_missing_social_care
    miss_send = np.where(group == PHB_SEND, p.nhs_missing_send_with_phb, p.nhs_missing_send)
    nhs_in_send = r.uniform("nhs.send", idx) >= miss_send
    anchor_sc = anchor & (group == SC_ONLY)
    nhs_in_sc[anchor_sc] = True
    has_nhs = in_phb | (in_sc & nhs_in_sc) | (in_send & nhs_in_send)
    opted_out = has_nhs & (r.uniform("optout", idx) < p.opt_out) & ~anchor

    # UPN: LA number + establishment + year of allocation + serial (unique per person), then the check letter.
    upn = np.full(n, "", dtype=object)
    upn_present = in_send & (r.uniform("upn", idx) < np.where(age < 4, 0.2, np.where(age < 17, 0.93,
                                                                                      np.where(age < 20, 0.6, 0.3))))
    k = np.flatnonzero(upn_present)
    dfe = np.array([int(c) for c in geo.council_dfe], dtype=np.int64)[council[k]]
    num = (dfe * 10**9 + (2000 + idx[k] // 1000) * 10**5 + (dates.ymd(dob[k])[0] + 5) % 100 * 10**3
           + idx[k] % 1000)
    total = sum(((num // 10 ** (11 - j)) % 10) * (j + 2) for j in range(12))
    letters = np.array(list(UPN_LETTERS), dtype=object)[total % 23]
    upn[k] = [f"{a}{b:012d}" for a, b in zip(letters.tolist(), num.tolist(), strict=True)]
    uln = np.full(n, "", dtype=object)
    uln_present = in_send & (age >= 14) & (r.uniform("uln", idx) < 0.6)
    # ULN: 10 digits, unique per person (an affine map of the index with a multiplier coprime to the modulus).
    uln_num = 1_000_000_000 + (idx[uln_present] * 104_729 + 7_919) % 8_999_999_999
    uln[uln_present] = [f"{u:010d}" for u in uln_num.tolist()]

    return {
        "idx": idx, "group": group, "cat": cat, "child": child, "anchor": anchor, "unit": unit,
        "council": council, "icb": icb, "dob": dob, "sex": sex, "fname": fname, "nick": nick,
        "sur1": surname1, "sur2": SURNAMES[sur2], "double": double, "postcode": postcode, "pc_old": pc_old,
        "twin": twin, "twin_partner": twin_partner, "accent": accent, "married": married, "sur_old": sur_old,
        "in_phb": in_phb, "in_sc": in_sc, "in_send": in_send, "nhs_in_sc": nhs_in_sc, "nhs_in_send": nhs_in_send,
        "has_nhs": has_nhs, "opted_out": opted_out, "upn": upn, "uln": uln,
    }


def _postcodes(r: Rand, stream: str, idx: np.ndarray, geo: Geography, unit: np.ndarray,
               area_n: np.ndarray) -> np.ndarray:
    a = np.floor(r.uniform(stream + ".a", idx) * area_n[unit]).astype(np.int64)
    district = r.integers(stream + ".d", idx, 1, 30)
    sector = r.integers(stream + ".s", idx, 0, 10)
    l1 = r.integers(stream + ".l1", idx, 0, len(vocab.INWARD_LETTERS))
    l2 = r.integers(stream + ".l2", idx, 0, len(vocab.INWARD_LETTERS))
    letters = vocab.INWARD_LETTERS
    return np.array([f"{geo.unit_areas[u][ai]}{d} {s}{letters[x]}{letters[y]}"
                     for u, ai, d, s, x, y in zip(unit.tolist(), a.tolist(), district.tolist(), sector.tolist(),
                                                  l1.tolist(), l2.tolist(), strict=True)], dtype=object)
