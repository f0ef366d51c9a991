"""The three feeds as views of the population on one date: which records are in the snapshot and their fields.
Columns are built whole (numpy object arrays), in the contract's order from ipb.feeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ipb import feeds
from ipb.feeds import Feed
from ipb.generate import dates, noise
from ipb.generate.lifecycle import Life, evaluate
from ipb.generate.params import CATEGORIES, PHB_SEND, SEND_SC, Params
from ipb.generate.population import CAT, Geography
from ipb.generate.rand import Rand, pick

F_PHB, F_SC, F_SEND = 0, 1, 2


@dataclass
class Block:
    """Rows of one feed for a chunk of people, before they are split into sender files."""

    feed: Feed
    cols: dict[str, np.ndarray]  # contract column -> object array of strings
    sender: np.ndarray  # index into the feed's sender list
    person: np.ndarray  # person index
    key: np.ndarray  # record key (object)
    info: dict[str, np.ndarray]  # extra arrays the defect injector needs (day numbers, categories)

    def __len__(self) -> int:
        return len(self.person)

    def take(self, ix: np.ndarray) -> Block:
        return Block(self.feed, {k: v[ix] for k, v in self.cols.items()}, self.sender[ix], self.person[ix],
                     self.key[ix], {k: v[ix] for k, v in self.info.items()})


@dataclass(frozen=True)
class Ctx:
    r: Rand
    p: Params
    geo: Geography
    day: int  # extract date as a day number


def money(cents: np.ndarray) -> np.ndarray:
    return np.array([f"{c // 100}.{c % 100:02d}" for c in np.asarray(cents, dtype=np.int64).tolist()], dtype=object)


def stamp(day: np.ndarray, secs: np.ndarray) -> np.ndarray:
    d = dates.iso(day)
    return np.array([f"{a}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z"
                     for a, s in zip(d.tolist(), np.asarray(secs).tolist(), strict=True)], dtype=object)


def iso_or_blank(day: np.ndarray) -> np.ndarray:
    out = dates.iso(np.maximum(day, 0))
    out[day < 0] = ""
    return out


def lognormal(r: Rand, stream: str, key: np.ndarray, sub: np.ndarray, median: np.ndarray,
              sigma: np.ndarray) -> np.ndarray:
    return median * np.exp(sigma * r.normal(stream, key, sub))


def _sub(gen: np.ndarray, n: np.ndarray | int = 0) -> np.ndarray:
    """Sub-key for draws that change with the generation and the amendment number."""
    return gen * 4096 + n


def _amend_factor(r: Rand, stream: str, slot: np.ndarray, life: Life, uplift: float, jitter: float) -> np.ndarray:
    u = r.uniform(stream, slot, _sub(life.gen, life.n_amend))
    return np.where(life.n_amend > 0, (1 + uplift * life.n_amend) * (1 + jitter * (u - 0.5)), 1.0)


def _take(P: dict[str, np.ndarray], ix: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[ix] for k, v in P.items()}


def _life_take(life: Life, ix: np.ndarray) -> Life:
    return Life(*(getattr(life, f)[ix] for f in Life.__dataclass_fields__))


# ---------------------------------------------------------------------------------------------------- nhs_phb
# Per category: (median annual or one-off GBP, sigma) and lifecycle (period, end fraction, keep, amend interval).
_PHB_AMOUNT = {
    "CHC": (48000, 0.45), "CYP_CC": (38000, 0.55), "S117": (26000, 0.55), "WHEELCHAIR": (2600, 0.55),
    "PMCB": (1800, 0.35), "LD_AUTISM": (32000, 0.55), "MENTAL_HEALTH": (3200, 0.8), "END_OF_LIFE": (9000, 0.6),
    "LTC": (2800, 0.8), "OTHER": (2200, 0.8),
}
_ANNUAL = ((700, 1500), (0.78, 0.92), (60, 150), (100, 200), 0.04)
_ONE_OFF = ((500, 900), (0.03, 0.10), (250, 450), (40, 90), 0.03)
_PHB_LIFE = {c: _ANNUAL for c in CATEGORIES} | {"WHEELCHAIR": _ONE_OFF, "PMCB": _ONE_OFF,
                                                 "END_OF_LIFE": ((250, 600), (0.3, 0.6), (30, 90), (40, 90), 0.03)}


def _table(values: dict[str, tuple], k: int) -> np.ndarray:
    return np.array([np.asarray(values[c][k] if not isinstance(values[c][k], tuple) else values[c][k])
                     for c in CATEGORIES])


def nhs_phb(ctx: Ctx, P: dict[str, np.ndarray]) -> Block:
    r, p, geo = ctx.r, ctx.p, ctx.geo
    Q = _take(P, np.flatnonzero(P["in_phb"]))
    slot, cat = Q["idx"], Q["cat"]
    per = np.array([_PHB_LIFE[c][0] for c in CATEGORIES])[cat]
    endf = np.array([_PHB_LIFE[c][1] for c in CATEGORIES])[cat]
    keep = np.array([_PHB_LIFE[c][2] for c in CATEGORIES])[cat]
    amend = np.array([_PHB_LIFE[c][3] for c in CATEGORIES])[cat]
    wd = np.array([_PHB_LIFE[c][4] for c in CATEGORIES])[cat]
    life = evaluate(r, "phb", slot, ctx.day, per[:, 0], per[:, 1], endf[:, 0], endf[:, 1], keep[:, 0], keep[:, 1],
                    amend[:, 0], amend[:, 1], wd, Q["anchor"])
    dob = noise.birth_date(r, p, Q, F_PHB)
    age = dates.age_years(dob, life.start)
    ok = life.visible & (life.start >= dob + 365) & (age <= 120)
    ok &= np.where(cat == CAT["CHC"], age >= 18, True) & np.where(cat == CAT["CYP_CC"], age < 18, True)
    ix = np.flatnonzero(ok)
    Q, life, dob, cat, slot = _take(Q, ix), _life_take(life, ix), dob[ix], cat[ix], slot[ix]
    gen, n = life.gen, len(ix)

    # Management option: national 15% DP / 80% notional / 5% third party; no DP on wheelchair or maternity.
    u = r.uniform("phb.mgmt", slot, gen)
    no_dp = np.isin(cat, [CAT["WHEELCHAIR"], CAT["PMCB"]])
    dp, tp, mx = p.dp_share_where_allowed, p.third_party_share, p.mixed_share
    mgmt = np.where(u < dp, "DIRECT_PAYMENT", np.where(u < dp + tp, "THIRD_PARTY",
                                                     np.where(u < dp + tp + mx, "MIXED", "NOTIONAL")))
    mgmt_nodp = np.where(u < tp, "THIRD_PARTY", np.where(u < tp + mx / 2, "MIXED", "NOTIONAL"))
    mgmt = np.where(no_dp, mgmt_nodp, mgmt).astype(object)
    mgmt[cat == CAT["PMCB"]] = "NOTIONAL"
    med = np.array([_PHB_AMOUNT[c][0] for c in CATEGORIES], dtype=np.float64)[cat]
    sig = np.array([_PHB_AMOUNT[c][1] for c in CATEGORIES], dtype=np.float64)[cat]
    base = lognormal(r, "phb.amt", slot, gen, med, sig)
    total = np.maximum(np.round(base * _amend_factor(r, "phb.amd", slot, life, 0.025, 0.08) * 100), 5000)
    total = total.astype(np.int64)
    split = np.round(total * (0.3 + 0.4 * r.uniform("phb.split", slot, gen))).astype(np.int64)
    zero = np.zeros(n, dtype=np.int64)
    dpc = np.where(mgmt == "DIRECT_PAYMENT", total, np.where((mgmt == "MIXED") & ~no_dp, split, zero))
    tpc = np.where(mgmt == "THIRD_PARTY", total, np.where((mgmt == "MIXED") & no_dp, split, zero))
    noc = np.where(mgmt == "NOTIONAL", total, np.where(mgmt == "MIXED", total - split, zero))
    one_off = no_dp
    indicative = np.round(base * (0.9 + 0.2 * r.uniform("phb.ind", slot, gen)) / 10).astype(np.int64) * 10
    ind = np.array([str(x) for x in indicative.tolist()], dtype=object)
    ind[r.uniform("phb.indp", slot, gen) >= 0.7] = ""
    plan = life.start - r.integers("phb.plan", slot, 0, 60, gen)
    plan[r.uniform("phb.planp", slot, gen) >= 0.85] = -1
    icb = Q["icb"]
    sub_n = np.array([len(s) for s in geo.sub_icbs])[icb]
    sub_k = np.floor(r.uniform("phb.sub", slot) * sub_n).astype(np.int64)
    sub = np.array([geo.sub_icbs[i][k] if geo.sub_icbs[i] else "" for i, k in zip(icb.tolist(), sub_k.tolist(),
                                                                                   strict=True)], dtype=object)
    sub[r.uniform("phb.subp", slot) < 0.08] = ""
    icb_code = np.array(geo.icb_codes, dtype=object)[icb]
    key = np.array([f"{c}PHB{s:08d}{g % 100:02d}" for c, s, g in zip(icb_code.tolist(), slot.tolist(),
                                                                      gen.tolist(), strict=True)], dtype=object)
    secs = r.integers("phb.time", slot, 6 * 3600, 23 * 3600, _sub(gen, life.n_amend))
    cols = {
        "phb_id": key,
        "nhs_number": noise.nhs_number(r, p, Q, F_PHB, np.ones(n, dtype=bool), p.nhs_spaced),
        "forename": noise.forename(r, p, Q, F_PHB),
        "surname": noise.surname(r, p, Q, F_PHB),
        "date_of_birth": dates.iso(dob),
        "sex": Q["sex"],
        "postcode": noise.postcode(r, p, Q, F_PHB, optional=False),
        "icb_code": icb_code,
        "sub_icb_code": sub,
        "phb_category": np.array(CATEGORIES, dtype=object)[cat],
        "direct_payment_gbp": money(dpc),
        "notional_gbp": money(noc),
        "third_party_gbp": money(tpc),
        "management_option": mgmt,
        "budget_basis": np.where(one_off, "ONE_OFF", "ANNUAL").astype(object),
        "indicative_budget_gbp": ind,
        "care_plan_agreed_date": iso_or_blank(plan),
        "start_date": dates.iso(life.start),
        "end_date": iso_or_blank(life.end),
        "record_updated_at": stamp(life.last_event, secs),
    }
    info = {"start": life.start, "dob": dob, "cat": cat, "total": total}
    return Block(feeds.NHS_PHB, cols, icb, slot, key, info)


# ------------------------------------------------------------------------------------------------ social_care
_PSR_OLD = [0.08, 0.52, 0.02, 0.02, 0.005, 0.2, 0.02, 0.06, 0.005, 0.0, 0.07]
_PSR_YOUNG = [0.05, 0.22, 0.01, 0.01, 0.005, 0.02, 0.36, 0.25, 0.03, 0.005, 0.04]
_SERVICE_TYPE = [0.68, 0.12, 0.08, 0.001, 0.05, 0.03, 0.039]  # CLD_SERVICE_TYPES order
# Delivery mechanism per service type: Direct payment, CASSR managed personal budget, CASSR commissioned support.
_MECH = np.array([[0.28, 0.47, 0.25], [0, 0.15, 0.85], [0, 0.10, 0.90], [0, 0, 1], [0, 0.2, 0.8], [0, 0.1, 0.9],
                  [0.7, 0.0, 0.3]])
# Component (CLD_SERVICE_COMPONENTS order) per service type when not a direct payment.
_COMP = np.array([
    [0, .55, .14, .03, .05, 0, 0, 0, .13, .05, .05],
    [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    [0, .6, 0, 0, 0, .4, 0, 0, 0, 0, 0],
    [0, .5, 0, 0, 0, .5, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
])
# Cost frequency per component: (frequency, probability, median unit cost, sigma, median planned units a week).
_FREQ: dict[int, list[tuple[str, float, float, float, float]]] = {
    0: [("Weekly", .5, 380, .6, 0), ("4-weekly", .25, 1500, .6, 0), ("Monthly", .12, 1650, .6, 0),
        ("Fortnightly", .08, 760, .6, 0), ("Annually", .05, 15000, .7, 0)],
    1: [("Hourly", 1, 24.5, .12, 10)],
    2: [("Weekly", .7, 1100, .4, 0), ("Daily", .3, 160, .3, 7)],
    3: [("Weekly", 1, 520, .3, 0)],
    4: [("Weekly", .6, 300, .5, 0), ("Hourly", .4, 22, .1, 8)],
    5: [("Daily", .6, 150, .2, 7), ("Weekly", .4, 1000, .25, 0)],
    6: [("Weekly", 1, 1050, .25, 0)],
    7: [("Weekly", 1, 1250, .25, 0)],
    8: [("Per session", 1, 50, .3, 3)],
    9: [("One-off", .75, 450, .8, 0), ("Quarterly", .25, 150, .5, 0)],
    10: [("Monthly", .5, 250, .7, 0), ("Annually", .3, 1500, .7, 0), ("One-off", .2, 300, .8, 0)],
}
_SERVICE_LIFE = ((500, 1400), (0.6, 0.9), (30, 120), (90, 240), 0.03)
_EVENT_LIFE = ((150, 500), (0.05, 0.20), (30, 120), (100000, 100001), 0.02)
MAX_SERVICE_SLOTS = 4


def social_care(ctx: Ctx, P: dict[str, np.ndarray]) -> Block:
    r, p, geo = ctx.r, ctx.p, ctx.geo
    Q = _take(P, np.flatnonzero(P["in_sc"]))
    pid = Q["idx"]
    u = r.uniform("sc.nserv", pid)
    n_serv = 1 + (u < 0.65).astype(np.int64) + (u < 0.40) + (u < 0.20)
    v = r.uniform("sc.nother", pid)
    n_other = (v < 0.50).astype(np.int64) + (v < 0.15)
    n_slots = n_serv + n_other
    owner = np.repeat(np.arange(len(pid)), n_slots)
    first = np.repeat(np.cumsum(n_slots) - n_slots, n_slots)
    j = np.arange(len(owner)) - first
    is_service = j < n_serv[owner]
    jj = np.where(is_service, j, MAX_SERVICE_SLOTS + j - n_serv[owner])
    slot = pid[owner] * 8 + jj
    lo = np.where(is_service[:, None], np.array(_SERVICE_LIFE[:4]).reshape(1, 8),
                  np.array(_EVENT_LIFE[:4]).reshape(1, 8))
    wd = np.where(is_service, _SERVICE_LIFE[4], _EVENT_LIFE[4])
    anchored = Q["anchor"][owner] & (jj == 0)
    life = evaluate(r, "sc", slot, ctx.day, lo[:, 0].astype(np.int64), lo[:, 1].astype(np.int64), lo[:, 2], lo[:, 3],
                    lo[:, 4].astype(np.int64), lo[:, 5].astype(np.int64), lo[:, 6].astype(np.int64),
                    lo[:, 7].astype(np.int64), wd, anchored)
    dob_p = noise.birth_date(r, p, Q, F_SC)
    dob = dob_p[owner]
    age = dates.age_years(dob, life.start)
    ok = life.visible & (age >= 18) & (age <= 120)
    ix = np.flatnonzero(ok)
    owner, slot, is_service, life, dob = owner[ix], slot[ix], is_service[ix], _life_take(life, ix), dob[ix]
    gen, n = life.gen, len(ix)
    R = _take(Q, owner)

    age_now = dates.age_years(R["dob"], np.full(n, ctx.day))
    psr = pick(r.uniform("sc.psr", R["idx"]), np.where((age_now >= 65)[:, None], np.array(_PSR_OLD),
                                                       np.array(_PSR_YOUNG)))
    stype = r.choice("sc.stype", slot, _SERVICE_TYPE, gen)
    mech = pick(r.uniform("sc.mech", slot, gen), _MECH[stype])
    comp = np.where(mech == 0, 0, pick(r.uniform("sc.comp", slot, gen), _COMP[stype]))
    freq = np.full(n, "", dtype=object)
    unit_cost = np.zeros(n)
    units = np.zeros(n)
    uf = r.uniform("sc.freq", slot, gen)
    z = r.normal("sc.cost", slot, gen)
    zu = r.normal("sc.units", slot, gen)
    for c, options in _FREQ.items():
        m = comp == c
        if not m.any():
            continue
        k = pick(uf[m], [o[1] for o in options])
        freq[m] = np.array([o[0] for o in options], dtype=object)[k]
        unit_cost[m] = np.array([o[2] for o in options])[k] * np.exp(np.array([o[3] for o in options])[k] * z[m])
        units[m] = np.array([o[4] for o in options])[k] * np.exp(0.5 * zu[m])
    cost_cents = np.maximum(np.round(unit_cost * _amend_factor(r, "sc.amd", slot, life, 0.02, 0.04) * 100), 100)
    is_unit = np.isin(freq, list(feeds.CLD_UNIT_FREQUENCIES))
    units = np.where(freq == "Daily", np.minimum(np.maximum(np.round(units), 1), 7),
                     np.maximum(np.round(units * 2) / 2, 0.5))
    units_s = np.array([f"{x:g}" for x in units.tolist()], dtype=object)
    units_s[~is_unit] = ""
    event_type = np.array(["Request", "Assessment", "Review"], dtype=object)[
        r.choice("sc.etype", slot, [0.35, 0.35, 0.30], gen)]
    event_type[is_service] = "Service"
    blank = ~is_service

    def svc(values: np.ndarray) -> np.ndarray:
        out = values.astype(object)
        out[blank] = ""
        return out

    fy = dates.ymd(np.array([ctx.day]))
    fy_start = int(fy[0][0]) if int(fy[1][0]) >= 4 else int(fy[0][0]) - 1
    rp_start = dates.iso(dates.from_ymd(np.array([fy_start]), np.array([4]), np.array([1])))[0]
    rp_end = dates.iso(dates.from_ymd(np.array([fy_start + 1]), np.array([3]), np.array([31])))[0]
    council = R["council"]
    cld = np.array(geo.council_cld, dtype=object)[council]
    key = np.array([f"{c}EV{s:010d}{g % 100:02d}" for c, s, g in zip(cld.tolist(), slot.tolist(), gen.tolist(),
                                                                      strict=True)], dtype=object)
    status = np.array(feeds.CLD_FUNDING_STATUSES, dtype=object)[r.choice("sc.fund", slot, [0.70, 0.27, 0.03], gen)]
    cols = {
        "LA_Code": cld,
        "LA_Person_Unique_Identifier": np.array([f"{c}P{i:08d}" for c, i in zip(cld.tolist(), R["idx"].tolist(),
                                                                                strict=True)], dtype=object),
        "NHS_Number": noise.nhs_number(r, p, R, F_SC, R["nhs_in_sc"], p.nhs_spaced),
        "Date_of_Birth": dates.iso(dob),
        "Gender": R["sex"],
        "Postcode": noise.postcode(r, p, R, F_SC, optional=True),
        "Primary_Support_Reason": np.array(feeds.CLD_PRIMARY_SUPPORT_REASONS, dtype=object)[psr],
        "Client_Funding_Status": status,
        "Event_Type": event_type,
        "Event_Reference": key,
        "Event_Start_Date": dates.iso(life.start),
        "Event_End_Date": iso_or_blank(life.end),
        "Service_Type": svc(np.array(feeds.CLD_SERVICE_TYPES, dtype=object)[stype]),
        "Service_Component": svc(np.array(feeds.CLD_SERVICE_COMPONENTS, dtype=object)[comp]),
        "Delivery_Mechanism": svc(np.array(feeds.CLD_DELIVERY_MECHANISMS, dtype=object)[mech]),
        "Unit_Cost": svc(money(cost_cents)),
        "Cost_Frequency_Unit_Type": svc(freq),
        "Planned_units_per_week": svc(units_s),
        "Reporting_Period_Start_Date": np.full(n, rp_start, dtype=object),
        "Reporting_Period_End_Date": np.full(n, rp_end, dtype=object),
    }
    info = {"start": life.start, "dob": dob, "service": is_service}
    return Block(feeds.SOCIAL_CARE, cols, council, R["idx"], key, info)


# ------------------------------------------------------------------------------------------------------- send
_NEED_OTHERS = [0.04, 0.09, 0.05, 0.02, 0.15, 0.21, 0.02, 0.01, 0.005, 0.03, 0.33, 0.045]  # SEN_PRIMARY_NEEDS
_NEED_HEALTH = [0.01, 0.05, 0.20, 0.20, 0.04, 0.06, 0.03, 0.03, 0.05, 0.20, 0.10, 0.03]
_SEND_LIFE = ((1500, 3000), (0.8, 0.95), (60, 180), (90, 180), 0.02)


def send(ctx: Ctx, P: dict[str, np.ndarray]) -> Block:
    r, p, geo = ctx.r, ctx.p, ctx.geo
    Q = _take(P, np.flatnonzero(P["in_send"]))
    slot = Q["idx"]
    (plo, phi), (elo, ehi), (klo, khi), (alo, ahi), wd = _SEND_LIFE
    life = evaluate(r, "send", slot, ctx.day, np.int64(plo), np.int64(phi), np.float64(elo), np.float64(ehi),
                    np.int64(klo), np.int64(khi), np.int64(alo), np.int64(ahi), np.float64(wd), Q["anchor"])
    dob = noise.birth_date(r, p, Q, F_SEND)
    age = dates.age_years(dob, life.start)
    ok = life.visible & (life.start >= dob + 365) & (age <= 25)
    ix = np.flatnonzero(ok)
    Q, life, dob, slot = _take(Q, ix), _life_take(life, ix), dob[ix], slot[ix]
    gen, group = life.gen, Q["group"]

    pb_rate = np.where(group == PHB_SEND, p.pb_share_with_phb,
                       np.where(group == SEND_SC, p.pb_share_with_social_care, p.pb_share_send_only))
    pb = r.uniform("send.pb", slot, gen) < pb_rate
    way = r.choice("send.way", slot, [0.55, 0.35, 0.10], gen)  # OA only, DP only, both
    oa = pb & (way != 1)
    dp = pb & (way != 0)
    edu = np.round(lognormal(r, "send.edu", slot, gen, 4500.0, 0.6)
                   * _amend_factor(r, "send.amd", slot, life, 0.02, 0.06) * 100).astype(np.int64)
    edu = np.maximum(edu, 10000)
    sc_rate = np.where(group == PHB_SEND, 0.75, 0.12)
    has_sc = pb & (r.uniform("send.scp", slot, gen) < sc_rate)
    scm = np.where(group == PHB_SEND, 7000.0, 3500.0)
    sce = np.maximum(np.round(lognormal(r, "send.sc", slot, gen, scm, 0.5) * 100).astype(np.int64), 10000)
    edu_s = money(edu)
    edu_s[~pb] = ""
    sce_s = money(sce)
    sce_s[~has_sc] = ""
    off = np.where(r.uniform("send.bso", slot, gen) < 0.6, 0,
                   np.minimum(r.integers("send.bsd", slot, 0, 200, gen), life.length // 2))
    bstart = np.where(pb, life.start + off, -1)
    bend = np.where(pb & (life.end >= 0) & (r.uniform("send.bend", slot, gen) < 0.5), life.end, -1)
    need_p = np.where((group == PHB_SEND)[:, None], np.array(_NEED_HEALTH), np.array(_NEED_OTHERS))
    need = pick(r.uniform("send.need", slot), need_p)
    sex = np.where(Q["sex"] == "1", "M", np.where(Q["sex"] == "2", "F", "M")).astype(object)
    council = Q["council"]
    dfe = np.array(geo.council_dfe, dtype=object)[council]
    key = np.array([f"{c}EHC{s:08d}{g % 100:02d}" for c, s, g in zip(dfe.tolist(), slot.tolist(), gen.tolist(),
                                                                      strict=True)], dtype=object)
    secs = r.integers("send.time", slot, 7 * 3600, 22 * 3600, _sub(gen, life.n_amend))
    flag = {True: "1", False: "0"}
    cols = {
        "LEA": dfe,
        "PersonID": np.array([f"{c}S{i:08d}" for c, i in zip(dfe.tolist(), slot.tolist(), strict=True)],
                             dtype=object),
        "UPN": Q["upn"],
        "UniqueLearnerNumber": Q["uln"],
        "NHSNumber": noise.nhs_number(r, p, Q, F_SEND, Q["nhs_in_send"], 0.0),
        "Surname": noise.surname(r, p, Q, F_SEND),
        "Forename": noise.forename(r, p, Q, F_SEND),
        "PersonBirthDate": dates.iso(dob),
        "Sex": sex,
        "PostCode": noise.postcode(r, p, Q, F_SEND, optional=True),
        "EHCPlanID": key,
        "StartDate": dates.iso(life.start),
        "CeaseDate": iso_or_blank(life.end),
        "SENPrimaryNeed": np.array(feeds.SEN_PRIMARY_NEEDS, dtype=object)[need],
        "PB": np.array([flag[x] for x in pb.tolist()], dtype=object),
        "OA": np.array([flag[x] for x in oa.tolist()], dtype=object),
        "DP": np.array([flag[x] for x in dp.tolist()], dtype=object),
        "EducationElementGBP": edu_s,
        "SocialCareElementGBP": sce_s,
        "BudgetStartDate": iso_or_blank(bstart),
        "BudgetEndDate": iso_or_blank(bend),
        "LastUpdated": stamp(life.last_event, secs),
    }
    info = {"start": life.start, "dob": dob, "pb": pb}
    return Block(feeds.SEND, cols, council, slot, key, info)
