"""The feeds as views of the population on one date: which records are in the snapshot and their fields.
Columns are built whole (numpy object arrays): nhs_phb and send_budget in the contract's order from ipb.feeds,
social care as every CLD Release 2 column (ipb.contract) keyed by its normalised name, SEN2 persons as their own
items plus their rendered Requests subtree (sen2.py). Each block's info['hard'] labels its linkage hard cases."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ipb import feeds
from ipb.feeds import Feed
from ipb.generate import cld, dates, hard, noise, sen2, vocab
from ipb.generate.lifecycle import Life, evaluate
from ipb.generate.params import CATEGORIES, PHB_SEND, SC_ONLY, SEND_SC, Params
from ipb.generate.population import CAT, Geography
from ipb.generate.rand import Rand, pick

F_PHB, F_SC, F_SEND, F_BUDGET = 0, 1, 2, 3


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
    fore, sur, swapped = noise.names(r, p, Q, F_PHB)
    pc = noise.postcode(r, p, Q, F_PHB, optional=False)
    cols = {
        "phb_id": key,
        "nhs_number": noise.nhs_number(r, p, Q, F_PHB, np.ones(n, dtype=bool), p.nhs_spaced),
        "forename": fore,
        "surname": sur,
        "date_of_birth": dates.iso(dob),
        "sex": Q["sex"],
        "postcode": pc,
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
    info = {"start": life.start, "dob": dob, "cat": cat, "total": total,
            "hard": hard.row_labels(Q, fore, sur, swapped, dob, noise.moved(r, p, Q, F_PHB), pc)}
    return Block(feeds.NHS_PHB, cols, icb, slot, key, info)


# ------------------------------------------------------------------------------------------------ social_care
# CLD Release 2. The code lists are data (ipb.contract, via cld.code_list); the weights below name canonical values,
# and a name the lists do not hold fails loudly when the model is built.
_PSR_OLD = {"Physical support: Access and mobility only": .08, "Physical support: Personal care support": .52,
            "Sensory support: Support for visual impairment": .02,
            "Sensory support: Support for hearing impairment": .02,
            "Sensory support: Support for dual impairment": .005, "Support with memory and cognition": .2,
            "Learning disability support": .02, "Mental health support": .06,
            "Social support: Substance misuse support": .005,
            "Social support: Support for social isolation or other reason": .07}
_PSR_YOUNG = {"Physical support: Access and mobility only": .05, "Physical support: Personal care support": .22,
              "Sensory support: Support for visual impairment": .01,
              "Sensory support: Support for hearing impairment": .01,
              "Sensory support: Support for dual impairment": .005, "Support with memory and cognition": .02,
              "Learning disability support": .36, "Mental health support": .25,
              "Social support: Substance misuse support": .03, "Social support: Asylum seeker support": .005,
              "Social support: Support for social isolation or other reason": .04}
_PSR_CARER = {"Social support: Support to unpaid carer": 1.0}
_STYPE_USER = {"Long term support: Community": .70, "Long term support: Residential care": .12,
               "Long term support: Nursing care": .08, "Long term support: Prison": .001,
               "Short term support: ST-Max": .05, "Short term support: Ongoing low level": .02,
               "Short term support: Other short term": .03}
_STYPE_CARER = {"Unpaid carer support: Direct to unpaid carer": .85,
                "Unpaid carer support: Support involving the person cared-for": .15}
_DP, _MANAGED, _COMMISSIONED = "Direct payment", "CASSR managed personal budget", "CASSR commissioned support"
# Delivery mechanism per service type: (Direct payment, CASSR managed personal budget, CASSR commissioned support).
_MECH = {"Long term support: Community": (.28, .47, .25), "Long term support: Residential care": (0, .15, .85),
         "Long term support: Nursing care": (0, .10, .90), "Long term support: Prison": (0, 0, 1),
         "Short term support: ST-Max": (0, .2, .8), "Short term support: Ongoing low level": (0, .3, .7),
         "Short term support: Other short term": (0, .1, .9),
         "Unpaid carer support: Direct to unpaid carer": (.7, 0, .3),
         "Unpaid carer support: Support involving the person cared-for": (.2, .3, .5)}
# Service component per service type when the mechanism is not a direct payment (a direct payment's component is
# `Direct payment`).
_COMP = {
    "Long term support: Community": {"Home support or domiciliary care": .55, "Community supported living": .14,
                                     "Shared Lives": .03, "Extra care housing": .05, "Day support": .16,
                                     "Equipment": .07},
    "Long term support: Residential care": {"Long term residential care": 1},
    "Long term support: Nursing care": {"Long term nursing care": 1},
    "Long term support: Prison": {"Home support or domiciliary care": 1},
    "Short term support: ST-Max": {"Reablement": .6, "Short term residential care": .3,
                                   "Home support or domiciliary care": .1},
    "Short term support: Ongoing low level": {"Equipment": .5, "Home support or domiciliary care": .3,
                                              "Day support": .2},
    "Short term support: Other short term": {"Short term residential care": .5, "Short term nursing care": .2,
                                             "Home support or domiciliary care": .3},
    "Unpaid carer support: Direct to unpaid carer": {"Short term residential care": .3, "Day support": .3,
                                                     "Home support or domiciliary care": .4},
    "Unpaid carer support: Support involving the person cared-for": {"Short term residential care": .5,
                                                                     "Day support": .3,
                                                                     "Home support or domiciliary care": .2},
}
# Cost frequency per component: (frequency, probability, median unit cost, sigma, median planned units a week).
_FREQ: dict[str, list[tuple[str, float, float, float, float]]] = {
    "Direct payment": [("Weekly", .5, 380, .6, 0), ("4-weekly", .25, 1500, .6, 0), ("Monthly", .12, 1650, .6, 0),
                       ("Fortnightly", .08, 760, .6, 0), ("Annually", .05, 15000, .7, 0)],
    "Home support or domiciliary care": [("Hourly", 1, 24.5, .12, 10)],
    "Community supported living": [("Weekly", .7, 1100, .4, 0), ("Daily", .3, 160, .3, 7)],
    "Shared Lives": [("Weekly", 1, 520, .3, 0)],
    "Extra care housing": [("Weekly", .6, 300, .5, 0), ("Hourly", .4, 22, .1, 8)],
    "Short term residential care": [("Daily", .6, 150, .2, 7), ("Weekly", .4, 1000, .25, 0)],
    "Short term nursing care": [("Daily", .6, 185, .2, 7), ("Weekly", .4, 1250, .25, 0)],
    "Long term residential care": [("Weekly", 1, 1050, .25, 0)],
    "Long term nursing care": [("Weekly", 1, 1250, .25, 0)],
    "Day support": [("Per session", .8, 50, .3, 3), ("Monthly", .2, 250, .7, 0)],
    "Equipment": [("One-off", .75, 450, .8, 0), ("Quarterly", .25, 150, .5, 0)],
    "Reablement": [("Hourly", .7, 25, .12, 8), ("Weekly", .3, 250, .4, 0)],
}
_HOME_SUPPORT = "Home support or domiciliary care"
_OTHER_EVENTS = {"Request": .35, "Assessment": .35, "Review": .30}
_SERVICE_LIFE = ((500, 1400), (0.6, 0.9), (30, 120), (90, 240), 0.03)
_EVENT_LIFE = ((150, 500), (0.05, 0.20), (30, 120), (100000, 100001), 0.02)
MAX_SERVICE_SLOTS = 4
MANY_EVENTS_SLOT = 1 << 40  # slots of the many-events clients' extra events


@dataclass(frozen=True)
class _CldModel:
    psr: cld.CodeList
    psr_w: np.ndarray  # rows: older service user, younger service user, carer
    stype: cld.CodeList
    stype_w: np.ndarray  # rows: service user, carer
    mech: cld.CodeList
    mech_w: np.ndarray  # per service type
    comp: cld.CodeList
    comp_w: np.ndarray  # per service type
    freq: cld.CodeList
    freq_tables: dict[int, list[tuple[int, float, float, float, float]]]  # per component index
    unit_freqs: np.ndarray  # frequency indexes that need planned units
    daily: int
    dp_mech: int
    dp_comp: int
    home_comp: int
    funding: cld.CodeList
    funding_w: np.ndarray
    client: cld.CodeList
    event: cld.CodeList
    event_w: np.ndarray
    service_event: int
    gender: dict[str, str]  # person sex code -> canonical Gender value
    gender_list: cld.CodeList


@cache
def _cld_model(funding_unknown: float) -> _CldModel:
    psr, stype = cld.code_list("cld_primary_support_reason"), cld.code_list("cld_service_type")
    mech, comp = cld.code_list("cld_delivery_mechanism"), cld.code_list("cld_service_component")
    freq, funding = cld.code_list("cld_cost_frequency"), cld.code_list("cld_client_funding_status")
    event = cld.code_list("cld_event_type")
    mech_order = [mech.index(m) for m in (_DP, _MANAGED, _COMMISSIONED)]
    mech_w = np.zeros((len(stype.values), len(mech.values)))
    comp_w = np.zeros((len(stype.values), len(comp.values)))
    for st, w in _MECH.items():
        mech_w[stype.index(st), mech_order] = w
        comp_w[stype.index(st)] = comp.weights(_COMP[st])
    for k in range(len(stype.values)):  # a service type the generator has no weights for: commissioned
        if mech_w[k].sum() == 0:
            mech_w[k, mech.index(_COMMISSIONED)] = 1
            comp_w[k, comp.index(_HOME_SUPPORT)] = 1
    unit = [f for f, code in cld.warehouse_codes("cld_cost_frequency").items() if code == "per_unit"]
    status = {"Fully social care funded": .70, "Joint client and social care funded": .265,
              "Fully client funded": .035 - funding_unknown, "Unknown": funding_unknown}
    gender = {code: value for value, code in cld.warehouse_codes("cld_gender").items()}
    return _CldModel(
        psr, np.stack([psr.weights(_PSR_OLD), psr.weights(_PSR_YOUNG), psr.weights(_PSR_CARER)]),
        stype, np.stack([stype.weights(_STYPE_USER), stype.weights(_STYPE_CARER)]), mech, mech_w, comp, comp_w,
        freq, {comp.index(c): [(freq.index(f), pr, med, sig, un) for f, pr, med, sig, un in opts]
               for c, opts in _FREQ.items()},
        np.array([freq.index(f) for f in unit], dtype=np.int64), freq.index("Daily"), mech.index(_DP),
        comp.index(_DP), comp.index(_HOME_SUPPORT), funding, funding.weights(status),
        cld.code_list("cld_client_type"), event, event.weights(_OTHER_EVENTS), event.index("Service"), gender,
        cld.code_list("cld_gender"))


@cache
def _styles(seed: int, n: int) -> tuple[cld.SenderStyle, ...]:
    return cld.sender_styles(Rand(seed), n)


@cache
def _pools(seed: int) -> dict[str, np.ndarray]:
    """GP practices and CQC-registered provider locations people share (codes kept, names dropped at the door)."""
    r = Rand(seed)
    k = np.arange(600, dtype=np.int64)
    letters = "ABCDEFGHJKLMNPY"
    gl = r.integers("pool.gpl", k, 0, len(letters))
    gn = r.integers("pool.gpn", k, 1000, 99999)
    gw = r.integers("pool.gpw", k, 0, len(vocab.PROVIDER_WORDS))
    gk = r.integers("pool.gpk", k, 0, len(vocab.GP_KINDS))
    pn = r.integers("pool.cqc", k, 100_000_000, 2_000_000_000)
    pw = r.integers("pool.cqw", k, 0, len(vocab.PROVIDER_WORDS))
    pk = r.integers("pool.cqk", k, 0, len(vocab.PROVIDER_KINDS))
    return {
        "gp_code": np.array([f"{letters[a]}{b:05d}" for a, b in zip(gl.tolist(), gn.tolist(), strict=True)],
                            dtype=object),
        "gp_name": np.array([f"{vocab.PROVIDER_WORDS[a]} {vocab.GP_KINDS[b]}" for a, b in zip(gw.tolist(), gk.tolist(),
                                                                                         strict=True)], dtype=object),
        "cqc_id": np.array([f"1-{x}" for x in pn.tolist()], dtype=object),
        "cqc_name": np.array([f"{vocab.PROVIDER_WORDS[a]} {vocab.PROVIDER_KINDS[b]}"
                              for a, b in zip(pw.tolist(), pk.tolist(), strict=True)], dtype=object),
    }


def sc_styles(ctx: Ctx) -> tuple[cld.SenderStyle, ...]:
    """Each social care sender's habits (cld.py): the same for every night of a seed."""
    return _styles(ctx.r.seed, len(ctx.geo.council_cld))


def _vocab(r: Rand, stream: str, key: np.ndarray, table: tuple, sub: np.ndarray | int = 0) -> np.ndarray:
    """Pick from a tuple of values, or of (value, weight) pairs."""
    if table and isinstance(table[0], tuple):
        values = np.array([v for v, _ in table], dtype=object)
        return values[r.choice(stream, key, [w for _, w in table], sub)]
    values = np.array(table, dtype=object)
    return values[r.integers(stream, key, 0, len(table), sub)]


def _only(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = values.astype(object)
    out[~mask] = ""
    return out


def social_care(ctx: Ctx, P: dict[str, np.ndarray]) -> Block:
    """One row per CLD event (request, assessment, service, review) in the council's Release 2 file, every column
    of the release keyed by its normalised name; the sender's habits (cld.SenderStyle) already applied to values
    (date format, Release 1 spellings, blank Event References). Which columns a sender writes, and how it spells
    the header, night.py decides from the same styles."""
    r, p, geo = ctx.r, ctx.p, ctx.geo
    M = _cld_model(p.funding_status_unknown)
    styles = sc_styles(ctx)
    Q = _take(P, np.flatnonzero(P["in_sc"]))
    pid = Q["idx"]
    carer = (Q["group"] == SC_ONLY) & ~Q["anchor"] & (r.uniform("sc.carer", pid) < p.unpaid_carer)
    u = r.uniform("sc.nserv", pid)
    n_serv = 1 + (u < 0.65).astype(np.int64) + (u < 0.40) + (u < 0.20)
    n_serv = np.where(carer, 1 + (u < 0.3), n_serv)
    v = r.uniform("sc.nother", pid)
    n_other = (v < 0.50).astype(np.int64) + (v < 0.15)
    # A hard case: clients with many events (20-40 rows), on slots of their own above every ordinary slot.
    many = ~carer & ~Q["anchor"] & (r.uniform("hc.many", pid) < p.many_events)
    n_many = np.where(many, r.integers("hc.nmany", pid, 24, 42), 0)  # about 80% of them show: 20-40 rows
    n_slots = n_serv + n_other + n_many
    owner = np.repeat(np.arange(len(pid)), n_slots)
    first = np.repeat(np.cumsum(n_slots) - n_slots, n_slots)
    j = np.arange(len(owner)) - first
    extra = j >= (n_serv + n_other)[owner]
    k_extra = j - (n_serv + n_other)[owner]
    is_service = (j < n_serv[owner]) | (extra & (k_extra % 3 == 0))
    jj = np.where(j < n_serv[owner], j, MAX_SERVICE_SLOTS + j - n_serv[owner])
    slot = np.where(extra, MANY_EVENTS_SLOT + pid[owner] * 64 + k_extra, pid[owner] * 8 + jj)
    long_lived = is_service | extra
    lo = np.where(long_lived[:, None], np.array(_SERVICE_LIFE[:4]).reshape(1, 8),
                  np.array(_EVENT_LIFE[:4]).reshape(1, 8))
    wd = np.where(long_lived, _SERVICE_LIFE[4], _EVENT_LIFE[4])
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
    is_carer = carer[owner]
    person = R["idx"]
    council = R["council"]
    st = {k: np.array([getattr(s, k) for s in styles])[council] for k in ("release1", "dmy", "event_ref")}
    r1 = st["release1"]

    # Who: client type, primary support reason, funding; the person's own attributes (most dropped at the door),
    # drawn once per person and repeated on each of their rows.
    def each(values: np.ndarray) -> np.ndarray:
        return values[owner]

    def pv(stream: str, table: tuple) -> np.ndarray:
        return each(_vocab(r, stream, pid, table))

    age_now = each(dates.age_years(Q["dob"], np.full(len(pid), ctx.day)))
    psr_row = np.where(is_carer, 2, np.where(age_now >= 65, 0, 1))
    psr = pick(each(r.uniform("sc.psr", pid)), M.psr_w[psr_row])
    by_assoc = is_carer & each(r.uniform("sc.carerk", pid) < p.unpaid_carer_by_association)
    client = np.where(is_carer, np.where(by_assoc, M.client.index("Unpaid carer known by association"),
                                         M.client.index("Unpaid carer")), M.client.index("Service user"))
    status = each(r.choice("sc.fund", pid, M.funding_w))
    gender = np.full(n, M.gender_list.index(M.gender["X"]), dtype=np.int64)
    for code, value in M.gender.items():
        gender[R["sex"] == code] = M.gender_list.index(value)

    # What: event type; for services the type, component, delivery mechanism and cost.
    event = r.choice("sc.etype", slot, M.event_w, gen)
    event[is_service] = M.service_event
    stype = pick(r.uniform("sc.stype", slot, gen), M.stype_w[is_carer.astype(np.int64)])
    mech = pick(r.uniform("sc.mech", slot, gen), M.mech_w[stype])
    comp = np.where(mech == M.dp_mech, M.dp_comp, pick(r.uniform("sc.comp", slot, gen), M.comp_w[stype]))
    freq = np.full(n, -1, dtype=np.int64)
    unit_cost = np.zeros(n)
    units = np.zeros(n)
    uf = r.uniform("sc.freq", slot, gen)
    z = r.normal("sc.cost", slot, gen)
    zu = r.normal("sc.units", slot, gen)
    for c, options in M.freq_tables.items():
        m = comp == c
        if not m.any():
            continue
        k = pick(uf[m], [o[1] for o in options])
        freq[m] = np.array([o[0] for o in options])[k]
        unit_cost[m] = np.array([o[2] for o in options])[k] * np.exp(np.array([o[3] for o in options])[k] * z[m])
        units[m] = np.array([o[4] for o in options])[k] * np.exp(0.5 * zu[m])
    freq = np.where(freq < 0, M.freq.index("Weekly"), freq)
    cost_cents = np.maximum(np.round(unit_cost * _amend_factor(r, "sc.amd", slot, life, 0.02, 0.04) * 100), 100)
    is_unit = np.isin(freq, M.unit_freqs)
    units = np.where(freq == M.daily, np.minimum(np.maximum(np.round(units), 1), 7),
                     np.maximum(np.round(units * 2) / 2, 0.5))
    units_s = np.array([f"{x:g}" for x in units.tolist()], dtype=object)
    units_s[~is_unit] = ""
    # Delivery Mechanism is optional in CLD: often blank on a Direct payment component (the loader derives it),
    # rarely on another service (kept and counted, not a personal budget).
    ud = r.uniform("sc.dmblank", slot, gen)
    mech_blank = np.where(comp == M.dp_comp, ud < p.delivery_mechanism_blank_dp,
                          ud < p.delivery_mechanism_blank_other)
    # Providers: commissioned and managed services name a CQC location; a direct payment buys its own.
    has_provider = is_service & (mech != M.dp_mech) & (r.uniform("sc.cqcp", slot, gen) < 0.8)
    pools = _pools(r.seed)
    provider = r.integers("sc.cqc", slot, 0, len(pools["cqc_id"]), gen)
    gp = each(r.integers("sc.gp", pid, 0, len(pools["gp_code"])))
    has_gp = each(r.uniform("sc.gpp", pid) < 0.9)

    cld_code = np.array(geo.council_cld, dtype=object)[council]
    key = np.array([f"{c}EV{s:010d}{g % 100:02d}" for c, s, g in zip(cld_code.tolist(), slot.tolist(), gen.tolist(),
                                                                      strict=True)], dtype=object)
    ref = key.copy()
    ref[st["event_ref"] == "none"] = ""
    ref[(st["event_ref"] == "partial") & (r.uniform("sc.refblank", slot, gen) < cld.EVENT_REF_BLANK_RATE)] = ""
    ev_name = np.array(M.event.values, dtype=object)[event]
    is_req, is_ass, is_rev = (ev_name == "Request"), (ev_name == "Assessment"), (ev_name == "Review")
    outcome = np.full(n, "", dtype=object)
    for mask, table, stream in ((is_req, vocab.REQUEST_OUTCOMES, "sc.oreq"), (is_ass, vocab.ASSESSMENT_OUTCOMES,
                                "sc.oass"), (is_rev, vocab.REVIEW_OUTCOMES, "sc.orev"),
                                (is_service, vocab.SERVICE_OUTCOMES, "sc.osvc")):
        outcome[mask] = _vocab(r, stream, slot[mask], table, gen[mask])
    q_cld = np.array(geo.council_cld, dtype=object)[Q["council"]]
    q_carer = np.flatnonzero(carer)
    carer_for = np.full(len(pid), "", dtype=object)
    carer_for[q_carer] = [f"{c}P{x:08d}" for c, x in zip(
        q_cld[q_carer].tolist(), r.integers("sc.caredfor", pid[q_carer], 0, 10**8).tolist(), strict=True)]
    hours = np.full(len(pid), "", dtype=object)
    hours[q_carer] = r.integers("sc.hrs", pid[q_carer], 5, 70).astype(str).astype(object)
    fore, sur, swapped = noise.names(r, p, Q, F_SC)
    pc = noise.postcode(r, p, Q, F_SC, optional=True)
    hard_q = hard.row_labels(Q, fore, sur, swapped, dob_p, noise.moved(r, p, Q, F_SC), pc, many)
    yn = (("Yes", 0.7), ("No", 0.3))
    impairment = (("No", 0.88), ("Yes", 0.07), ("Unknown", 0.05))
    cols = {
        "la_code": cld_code,
        "nhs_number": noise.nhs_number(r, p, R, F_SC, R["nhs_in_sc"], p.nhs_spaced),
        "la_person_unique_identifier": each(np.array([f"{c}P{i:08d}" for c, i in zip(q_cld.tolist(), pid.tolist(),
                                                                                     strict=True)], dtype=object)),
        "first_name": each(fore),
        "last_name": each(sur),
        "gp_practice_name": _only(pools["gp_name"][gp], has_gp),
        "gp_practice_code": _only(pools["gp_code"][gp], has_gp),
        "gender": M.gender_list.spellings(gender, r1),
        "ethnicity": pv("sc.eth", vocab.ETHNICITY),
        "date_of_birth": dates.iso(dob),
        "client_type": M.client.spellings(client, r1),
        "primary_support_reason": M.psr.spellings(psr, r1),
        "postcode": each(pc),
        "accommodation_status": pv("sc.acc", vocab.ACCOMMODATION),
        "employment_status": np.where(age_now >= 67, "Retired", pv("sc.emp", vocab.EMPLOYMENT)).astype(object),
        "has_unpaid_carer": pv("sc.hasc", vocab.YES_NO_UNKNOWN),
        "autism_spectrum_disorder_asd": pv("sc.asd", impairment),
        "visual_impairment": pv("sc.vi", impairment),
        "hearing_impairment": pv("sc.hi", impairment),
        "dementia": np.where(age_now >= 65, pv("sc.dem", impairment), "No").astype(object),
        "client_funding_status": M.funding.spellings(status, r1),
        "event_type": M.event.spellings(event, r1),
        "event_reference": ref,
        "event_start_date": dates.iso(life.start),
        "event_end_date": iso_or_blank(life.end),
        "event_description": np.array([vocab.EVENT_DESCRIPTIONS.get(e, "") for e in M.event.values],
                                      dtype=object)[event],
        "event_outcome": outcome,
        "request_route_of_access": _only(_vocab(r, "sc.route", slot, vocab.ROUTE_OF_ACCESS, gen), is_req),
        "assessment_type": _only(np.where(is_carer, "Unpaid carer assessment",
                                          _vocab(r, "sc.atype", slot, vocab.ASSESSMENT_TYPES[:2], gen)), is_ass),
        "eligible_needs_identified": _only(_vocab(r, "sc.elig", slot, yn, gen), is_ass),
        "informal_carer_involved_in_assessment": _only(_vocab(r, "sc.infc", slot, yn[::-1], gen), is_ass),
        "method_of_assessment": _only(_vocab(r, "sc.amet", slot, vocab.ASSESSMENT_METHODS, gen), is_ass),
        "total_hrs_caring_per_week": each(hours),
        "no_of_adults_being_cared_for": _only(np.full(n, "1", dtype=object), is_carer),
        "adult_1_linked_person_id": each(carer_for),
        "service_type": _only(M.stype.spellings(stype, r1), is_service),
        "service_component": _only(M.comp.spellings(comp, r1), is_service),
        "delivery_mechanism": _only(M.mech.spellings(mech, r1), is_service & ~mech_blank),
        "provider_cqc_location_name": _only(pools["cqc_name"][provider], has_provider),
        "provider_cqc_location_id": _only(pools["cqc_id"][provider], has_provider),
        "review_reason": _only(_vocab(r, "sc.rrsn", slot, vocab.REVIEW_REASONS, gen), is_rev),
        "review_outcomes_achieved": _only(_vocab(r, "sc.rach", slot, vocab.REVIEW_ACHIEVED, gen), is_rev),
        "method_of_review": _only(_vocab(r, "sc.rmet", slot, vocab.ASSESSMENT_METHODS, gen), is_rev),
        "unit_cost": _only(money(cost_cents), is_service),
        "cost_frequency_unit_type": _only(M.freq.spellings(freq, r1), is_service),
        "planned_units_per_week": _only(units_s, is_service),
        "full_cost_client": _only(np.where(np.array(M.funding.values, dtype=object)[status] == "Fully client funded",
                                           "Y", "N").astype(object), is_service),
    }
    # The reporting period: 12 months to the end of the extract date's quarter (or month), per sender.
    periods = [cld.reporting_period(ctx.day, s.monthly) for s in styles]
    cols["reporting_period_start_date"] = dates.iso(np.array([a for a, _ in periods]))[council]
    cols["reporting_period_end_date"] = dates.iso(np.array([b for _, b in periods]))[council]
    out: dict[str, np.ndarray] = {}
    for f in cld.fields():  # every column of the release, in order; one the generator does not know stays blank
        col = cols.get(f.column)
        out[f.column] = col if col is not None else np.full(n, "", dtype=object)
        if f.kind == "date" and st["dmy"].any():
            d = st["dmy"]
            out[f.column] = out[f.column].copy()
            out[f.column][d] = cld.dmy(out[f.column][d])
    info = {"start": life.start, "dob": dob, "service": is_service, "dmy": st["dmy"], "hard": each(hard_q)}
    block = Block(feeds.SOCIAL_CARE, out, council, person, key, info)
    # A double-handed package (two carers at once) is two identical service rows, one after the other.
    double = is_service & (comp == M.home_comp) & (r.uniform("sc.double", slot, gen) < p.double_handed)
    if double.any():
        reps = 1 + double.astype(np.int64)
        block = block.take(np.repeat(np.arange(n), reps))
        last = np.cumsum(reps) - 1
        block.key[last[double]] = key[double] + "#2"  # the truth's record key; the file's rows are identical
    return block


# ------------------------------------------------------------------------------------------- send, send_budget
# SEN2 (sen2.py writes the XML) and the budget file: one EHC plan per person slot, its lifecycle as before; a plan
# with a personal budget (PB 1) has a budget row. Primary need weights in SEN_PRIMARY_NEEDS order (DS last).
_NEED_OTHERS = [0.04, 0.09, 0.05, 0.02, 0.15, 0.21, 0.02, 0.01, 0.005, 0.03, 0.31, 0.045, 0.02]
_NEED_HEALTH = [0.01, 0.05, 0.19, 0.20, 0.04, 0.06, 0.03, 0.03, 0.05, 0.20, 0.10, 0.03, 0.01]
_SEND_LIFE = ((1500, 3000), (0.8, 0.95), (60, 180), (90, 180), 0.02)
SEX_UNKNOWN_SEN2 = 0.005
SEX_UNKNOWN_BUDGET = 0.01
PRIOR_REQUEST = 0.08  # an earlier request that was not assessed
SECOND_PLACEMENT = 0.08
NO_URN_SETTING = 0.08
TRANSFER_IN = 0.02
FUTURE_CEASE = 0.5  # of open plans due to end within 60 days: the planned CeaseDate already recorded


@cache
def _sen2_styles(seed: int, n: int) -> tuple[sen2.Sen2Style, ...]:
    return sen2.sender_styles(Rand(seed), n)


def send_styles(ctx: Ctx) -> tuple[sen2.Sen2Style, ...]:
    return _sen2_styles(ctx.r.seed, len(ctx.geo.council_dfe))


def send(ctx: Ctx, P: dict[str, np.ndarray]) -> tuple[Block, Block]:
    """(SEN2 persons, budget rows). A SEN2 row is a Person: its own items as columns (the XML writer renders them)
    and its Requests subtree already rendered (`Requests`) as the sender writes it. A budget row carries the
    index of its plan's Person row in info['plan_row']."""
    r, p, geo, day = ctx.r, ctx.p, ctx.geo, ctx.day
    styles = send_styles(ctx)
    Q = _take(P, np.flatnonzero(P["in_send"]))
    slot = Q["idx"]
    (plo, phi), (elo, ehi), (klo, khi), (alo, ahi), wd = _SEND_LIFE
    life = evaluate(r, "send", slot, day, np.int64(plo), np.int64(phi), np.float64(elo), np.float64(ehi),
                    np.int64(klo), np.int64(khi), np.int64(alo), np.int64(ahi), np.float64(wd), Q["anchor"])
    dob = noise.birth_date(r, p, Q, F_SEND)
    age = dates.age_years(dob, life.start)
    ok = life.visible & (life.start >= dob + 365) & (age <= 25)
    ix = np.flatnonzero(ok)
    Q, life, dob, slot = _take(Q, ix), _life_take(life, ix), dob[ix], slot[ix]
    gen, group, n = life.gen, Q["group"], len(ix)
    council = Q["council"]
    dfe = np.array(geo.council_dfe, dtype=object)[council]
    v12 = np.array([s.year == 2024 for s in styles], dtype=bool)[council]

    # The plan: request, assessment, placements, review, needs; ceased plans stay listed a while.
    received = life.start - r.integers("send.recv", slot, 90, 150, gen)
    outcome = received + r.integers("send.rout", slot, 28, 45, gen)
    prior = (r.uniform("send.prior", slot, gen) < PRIOR_REQUEST)
    prior_received = received - r.integers("send.prec", slot, 200, 900, gen)
    prior &= prior_received > Q["dob"] + 365
    ceased = life.end >= 0
    due = life.start + life.length
    future = ~ceased & (due - day <= 60) & (r.uniform("send.fcease", slot, gen) < FUTURE_CEASE)
    cease = np.where(ceased, life.end, np.where(future, due, -1))
    cease_reason = (1 + r.choice("send.creason", slot, sen2.CEASE_REASON_W, gen)).astype(str).astype(object)
    active = cease < 0
    active |= cease > day
    urn_n = r.integers("send.urn", slot, 100_000, 150_000, gen)
    no_urn = r.uniform("send.nourn", slot, gen) < NO_URN_SETTING
    urn = np.array([str(u) for u in urn_n.tolist()], dtype=object)
    urn[no_urn] = ""
    ukprn = np.array([str(10_000_000 + (u * 37) % 99_999) for u in urn_n.tolist()], dtype=object)
    setting = np.array(sen2.SETTINGS_NO_URN, dtype=object)[r.integers("send.set", slot, 0, len(sen2.SETTINGS_NO_URN),
                                                                      gen)]
    second = r.uniform("send.second", slot, gen) < SECOND_PLACEMENT
    urn2_n = r.integers("send.urn2", slot, 100_000, 150_000, gen)
    urn2 = np.array([str(u) for u in urn2_n.tolist()], dtype=object)
    ukprn2 = np.array([str(10_000_000 + (u * 37) % 99_999) for u in urn2_n.tolist()], dtype=object)
    transfer = active & (r.uniform("send.transfer", slot, gen) < TRANSFER_IN)
    other_la = np.array(geo.council_dfe, dtype=object)[(council + 1 + r.integers("send.tla", slot, 0, 7, gen))
                                                       % len(geo.council_dfe)]
    transfer_la = np.where(transfer, other_la, "").astype(object)
    years_in = (day - life.start) // 365
    review = np.where(years_in >= 1, life.start + years_in * 365 - r.integers("send.rev", slot, 0, 20, gen), -1)
    last_review = np.where(review >= 0, np.minimum(review + r.integers("send.lrev", slot, 0, 28, gen), day), -1)
    review_outcome = np.array(["1", "2", "3"], dtype=object)[r.choice("send.rout2", slot, [0.8, 0.15, 0.05], gen)]
    need_p = np.where((group == PHB_SEND)[:, None], np.array(_NEED_HEALTH), np.array(_NEED_OTHERS))
    n_codes = len(feeds.SEN_PRIMARY_NEEDS)
    codes = np.array(feeds.SEN_PRIMARY_NEEDS, dtype=object)
    ds = list(feeds.SEN_PRIMARY_NEEDS).index("DS")
    first = pick(r.uniform("send.need", slot), need_p)
    first = np.where(v12 & (first == ds), list(feeds.SEN_PRIMARY_NEEDS).index("OTH"), first)  # no DS before 2025
    step2 = 1 + r.integers("send.need2", slot, 0, n_codes - 2)
    step3 = 1 + r.integers("send.need3", slot, 0, n_codes - 2)
    n_needs = 1 + (r.uniform("send.nneeds", slot) < 0.35) + (r.uniform("send.nneeds3", slot) < 0.10)
    second_need = (first + step2) % n_codes
    third_need = (second_need + step3) % n_codes
    third_need = np.where(third_need == first, (third_need + 1) % n_codes, third_need)
    needs = np.stack([codes[first], codes[second_need], codes[third_need]], axis=1)
    for j in (1, 2):
        drop = (n_needs <= j) | (v12 & (needs[:, j] == "DS"))
        needs[drop, j] = ""
    needs[:, 1:] = np.where((needs[:, 1] == "")[:, None], np.stack([needs[:, 2], needs[:, 1]], axis=1),
                            needs[:, 1:])

    # Personal budget: PB 1 with OA (organised arrangements), DP (a direct payment), or both.
    pb_rate = np.where(group == PHB_SEND, p.pb_share_with_phb,
                       np.where(group == SEND_SC, p.pb_share_with_social_care, p.pb_share_send_only))
    # Anchors hold a personal budget, so every council's budget file has a row (a header-only file is rejected).
    pb = (r.uniform("send.pb", slot, gen) < pb_rate) | Q["anchor"]
    way = r.choice("send.way", slot, [0.55, 0.35, 0.10], gen)  # OA only, DP only, both
    oa = pb & (way != 1)
    dp = pb & (way != 0)
    age_now = dates.age_years(dob, np.full(n, day))
    plan = sen2.Plan(
        received=received, source=np.array(sen2.REQUEST_SOURCES, dtype=object)[
            r.integers("send.src", slot, 0, len(sen2.REQUEST_SOURCES), gen)],
        outcome_date=outcome, start=life.start, plan_res=r.uniform("send.res", slot, gen) < 0.04,
        plan_wbp=(age_now >= 16) & (r.uniform("send.wbp", slot, gen) < 0.05), pb=pb, oa=oa,
        dp=np.where(dp, "1", "0").astype(object), cease=cease, cease_reason=cease_reason, urn=urn, ukprn=ukprn,
        setting=setting, has_second=second, urn2=urn2, ukprn2=ukprn2, active=active, transfer_la=transfer_la,
        review=review, review_outcome=review_outcome, last_review=last_review, needs=needs, prior=prior,
        prior_received=prior_received, prior_outcome_date=prior_received + r.integers("send.pout", slot, 20, 42, gen),
    )
    fore, sur, swapped = noise.names(r, p, Q, F_SEND)
    pc = noise.postcode(r, p, Q, F_SEND, optional=True)
    sex = np.where(Q["sex"] == "2", "F", "M").astype(object)
    sex[r.uniform("send.sexu", slot) < SEX_UNKNOWN_SEN2] = "U"
    has_upn = Q["upn"] != ""
    age_at = dates.age_years(Q["dob"], np.full(n, day))
    unknown = np.where(age_at < 5, "UN1", np.array(["UN2", "UN3", "UN4", "UN5"], dtype=object)[
        r.integers("send.un", slot, 0, 4)]).astype(object)
    cols = {
        "LEA": dfe,
        "Surname": sur,
        "Forename": fore,
        "PersonBirthDate": dates.iso(dob),
        "Sex": sex,
        "Ethnicity": _vocab(r, "send.eth", slot, sen2.ETHNICITY),
        "PostCode": pc,
        "UPN": Q["upn"],
        "UniqueLearnerNumber": Q["uln"],
        "UPNunknown": np.where(has_upn, "", unknown).astype(object),
        "Requests": sen2.requests(plan, styles, council),
    }
    key = np.array([f"{c}EHC{s:08d}{g % 100:02d}" for c, s, g in zip(dfe.tolist(), slot.tolist(), gen.tolist(),
                                                                      strict=True)], dtype=object)
    hard_sen2 = hard.row_labels(Q, fore, sur, swapped, dob, noise.moved(r, p, Q, F_SEND), pc)
    info = {"start": life.start, "dob": dob, "pb": pb, "hard": hard_sen2}
    persons = Block(feeds.SEND, cols, council, slot, key, info)
    return persons, _send_budget(ctx, Q, life, dob, pb, oa, dp, cease, key)


def _send_budget(ctx: Ctx, Q: dict[str, np.ndarray], life: Life, plan_dob: np.ndarray, pb: np.ndarray,
                 oa: np.ndarray, dp: np.ndarray, cease: np.ndarray, plan_key: np.ndarray) -> Block:
    """One row per plan with a personal budget: the education and children's social care elements, the direct
    payment part (0: organised arrangements; the whole: a direct payment; between: mixed)."""
    r, p, geo, day = ctx.r, ctx.p, ctx.geo, ctx.day
    ix = np.flatnonzero(pb)
    B = _take(Q, ix)
    lf = _life_take(life, ix)
    slot, gen, group = B["idx"], lf.gen, B["group"]
    oa, dp, cease = oa[ix], dp[ix], cease[ix]
    kind = np.where(group == PHB_SEND, r.choice("bud.kind", slot, [0.35, 0.50, 0.15], gen),
                    r.choice("bud.kind", slot, [0.62, 0.28, 0.10], gen))  # education, both, social care only
    has_edu, has_sc = kind != 2, kind != 0
    amend = _amend_factor(r, "bud.amd", slot, lf, 0.02, 0.06)
    edu = np.maximum(np.round(lognormal(r, "bud.edu", slot, gen, 4500.0, 0.6) * amend * 100), 10000).astype(np.int64)
    scm = np.where(group == PHB_SEND, 7000.0, 3500.0)
    sce = np.maximum(np.round(lognormal(r, "bud.sc", slot, gen, scm, 0.5) * amend * 100), 10000).astype(np.int64)
    edu, sce = np.where(has_edu, edu, 0), np.where(has_sc, sce, 0)
    total = edu + sce
    split = np.round(total * (0.3 + 0.4 * r.uniform("bud.split", slot, gen))).astype(np.int64)
    dpc = np.where(dp & ~oa, total, np.where(dp & oa, split, 0))
    edu_s, sce_s = money(edu), money(sce)
    edu_s[~has_edu] = ""
    sce_s[~has_sc] = ""
    indicative = np.round(total * (0.9 + 0.2 * r.uniform("bud.ind", slot, gen)) / 1000).astype(np.int64) * 10
    ind = np.array([str(x) for x in indicative.tolist()], dtype=object)
    ind[r.uniform("bud.indp", slot, gen) >= 0.6] = ""
    off = np.where(r.uniform("bud.off", slot, gen) < 0.6, 0,
                   np.minimum(r.integers("bud.offd", slot, 0, 200, gen), lf.length // 2))
    bstart = lf.start + np.minimum(off, np.maximum(day - lf.start, 0))
    ends = r.uniform("bud.end", slot, gen)
    bend = np.where((cease >= 0) & (ends < 0.7), np.maximum(cease, bstart),
                    np.where((cease < 0) & (ends < 0.2), bstart + 364, -1))
    # The budget file's own view of the person (its own noise); a birth date the swap would push past 25 stays.
    dob = noise.birth_date(r, p, B, F_BUDGET)
    age = dates.age_years(dob, lf.start)
    dob = np.where((age > 25) | (dob > lf.start), plan_dob[ix], dob)
    fore, sur, swapped = noise.names(r, p, B, F_BUDGET)
    pc = noise.postcode(r, p, B, F_BUDGET, optional=True)
    sex = np.where(B["sex"] == "2", "F", "M").astype(object)
    sex[r.uniform("bud.sexu", slot) < SEX_UNKNOWN_BUDGET] = "U"
    upn = np.where(r.uniform("bud.upn", slot) < 0.8, B["upn"], "").astype(object)
    uln = np.where(r.uniform("bud.uln", slot) < 0.5, B["uln"], "").astype(object)
    show_nhs = B["nhs_in_send"] | (has_sc & (r.uniform("bud.nhs", slot) < 0.5))
    dfe = np.array(geo.council_dfe, dtype=object)[B["council"]]
    key = np.array([f"{c}PB{s:08d}{g % 100:02d}" for c, s, g in zip(dfe.tolist(), slot.tolist(), gen.tolist(),
                                                                     strict=True)], dtype=object)
    secs = r.integers("bud.time", slot, 7 * 3600, 22 * 3600, _sub(gen, lf.n_amend))
    cols = {
        "LEA": dfe,
        "BudgetID": key,
        "LocalPersonID": np.array([f"{c}S{s:08d}" for c, s in zip(dfe.tolist(), slot.tolist(), strict=True)],
                                  dtype=object),
        "UPN": upn,
        "UniqueLearnerNumber": uln,
        "NHSNumber": noise.nhs_number(r, p, B, F_BUDGET, show_nhs, p.nhs_spaced),
        "Surname": sur,
        "Forename": fore,
        "PersonBirthDate": dates.iso(dob),
        "Sex": sex,
        "PostCode": pc,
        "PlanStartDate": dates.iso(lf.start),
        "EducationElementGBP": edu_s,
        "SocialCareElementGBP": sce_s,
        "DirectPaymentGBP": money(dpc),
        "IndicativeBudgetGBP": ind,
        "BudgetStartDate": dates.iso(bstart),
        "BudgetEndDate": iso_or_blank(bend),
        "LastUpdated": stamp(np.maximum(lf.last_event, bstart), secs),
    }
    labels = hard.row_labels(B, fore, sur, swapped, dob, noise.moved(r, p, B, F_BUDGET), pc)
    info = {"start": lf.start, "dob": dob, "plan_row": ix, "plan_key": plan_key[ix], "edu": edu, "sc": sce,
            "dp": dpc, "hard": labels, "anchor": B["anchor"]}
    return Block(feeds.SEND_BUDGET, cols, B["council"], slot, key, info)
