"""Disclosure control holds against differencing (IG.md promise 3, docs/disclosure-control.md).

Generated nights of 500, 5,000 and 50,000 people go through the real loader and the real dbt build of the report
models. The test then reads the published report rows only (the columns an analyst sees, nothing restricted) and
attacks them the way a hostile reader would: every published cell below national level is an unknown integer
bounded by what is shown (`0` exactly 0, `n` rounded so n-2..n+2, `*` anything from 0), tied together by every sum
the reader knows (an area's breakdown adds up to its total, an area's funder mixes add up to its people and its
multi-funder mixes to its integrated budgets, the areas add up to the exact England row, new in quarter <= in place,
shares that reveal a rounded count). For every `*` an exact integer solver (HiGHS through scipy) finds the smallest
and largest value consistent with all of that; a `*` whose only feasible value is one number has been recovered, and
the test fails naming the cell (area code and breakdown, never person data).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_array

from ipb import db
from ipb.generate import generate_night
from ipb.ingest import load_file
from ipb.orchestration.build import run_build

FEED = re.compile(r"^(nhs_phb|social_care|send_budget|send|national_opt_out)_")
NIGHT = "2026-11-22"
KEY = "disclosure-test-key-5c2f9e41b7a3d860"
REPORTS = "rpt_phb_quarterly rpt_integrated_budgets_by_area"
MIXES = ["health", "social_care", "education", "health+social_care", "education+health", "education+social_care",
         "education+health+social_care"]
MULTI_FUNDER = [m for m in MIXES if "+" in m]


# ---------------------------------------------------------------------------------------------------------------
# The attacker: an integer program over the published cells.
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Attack:
    """Unknown cell values with published bounds, and the linear relations a reader knows between them."""

    lo: list[float] = field(default_factory=list)
    hi: list[float] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    index: dict[tuple, int] = field(default_factory=dict)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)  # (coefficients, lo, hi)

    def cell(self, key: tuple, published: str | None, name: str) -> int:
        """A published count as an unknown: `*` is 0 or more; `0` is 0; n is n-2..n+2 (rounded to the nearest 5)."""
        if key in self.index:
            return self.index[key]
        if published is None or published == "*":
            lo, hi = 0.0, 1e7
        else:
            value = int(published)
            lo, hi = (0.0, 0.0) if value == 0 else (max(value - 2, 0), value + 2)
        self.index[key] = len(self.lo)
        self.lo.append(lo)
        self.hi.append(hi)
        self.names.append(name)
        if published == "*":
            self.suppressed.append(self.index[key])
        return self.index[key]

    def relate(self, coefficients: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coefficients, lo, hi))

    def equal(self, terms: list[tuple[int, float]], value: float) -> None:
        coefficients: dict[int, float] = defaultdict(float)
        for var, coefficient in terms:
            coefficients[var] += coefficient
        self.relate(dict(coefficients), value, value)

    def recovered(self) -> list[str]:
        """Every `*` cell whose feasible integer values are a single number (solved per connected block)."""
        n = len(self.lo)
        if not self.suppressed:
            return []
        parent = list(range(n))

        def find(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for coefficients, _, _ in self.rows:
            vars_ = list(coefficients)
            for v in vars_[1:]:
                parent[find(v)] = find(vars_[0])
        blocks: dict[int, list[int]] = defaultdict(list)
        for v in range(n):
            blocks[find(v)].append(v)
        rows_by_block: dict[int, list[int]] = defaultdict(list)
        for r, (coefficients, _, _) in enumerate(self.rows):
            if coefficients:
                rows_by_block[find(next(iter(coefficients)))].append(r)
        out = []
        targets: dict[int, list[int]] = defaultdict(list)
        for v in self.suppressed:
            targets[find(v)].append(v)
        for root, cells in targets.items():
            out += self._solve_block(blocks[root], rows_by_block[root], cells)
        return out

    def _solve_block(self, variables: list[int], row_ids: list[int], cells: list[int]) -> list[str]:
        local = {v: k for k, v in enumerate(variables)}
        m = len(row_ids)
        if m == 0:
            return []  # a `*` tied to nothing: 0 or more, never one value
        a = lil_array((m, len(variables)))
        lo_r, hi_r = np.empty(m), np.empty(m)
        for i, r in enumerate(row_ids):
            coefficients, lo, hi = self.rows[r]
            for v, c in coefficients.items():
                a[i, local[v]] = c
            lo_r[i], hi_r[i] = lo, hi
        constraints = LinearConstraint(a.tocsr(), lo_r, hi_r)
        bounds = Bounds(np.array([self.lo[v] for v in variables]), np.array([self.hi[v] for v in variables]))
        integrality = np.ones(len(variables))

        def solve(objective: np.ndarray):
            res = milp(objective, constraints=constraints, bounds=bounds, integrality=integrality)
            assert res.status in (0, 4), res.message  # 4: unbounded in that direction (the published data is
            return np.round(res.x) if res.status == 0 else None  # feasible: the night's own values satisfy it)

        first = solve(np.zeros(len(variables)))
        assert first is not None, f"published cells inconsistent: {self.names[cells[0]]}"
        # A `*` seen at two different values in feasible solutions is not pinned. Random objectives clear most
        # cells at the cost of one solve each; the rest get their own minimum and maximum.
        open_cells = {v for v in cells}
        rng = np.random.default_rng(0)
        for _ in range(12):
            if not open_cells:
                break
            objective = np.zeros(len(variables))
            for v in open_cells:
                objective[local[v]] = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
            x = solve(objective)
            if x is not None:
                open_cells -= {v for v in open_cells if x[local[v]] != first[local[v]]}
        out = []
        for v in sorted(open_cells):
            c = np.zeros(len(variables))
            c[local[v]] = 1.0
            low, high = solve(c), solve(-c)
            if low is not None and high is not None and low[local[v]] == high[local[v]]:
                out.append(f"{self.names[v]} = {int(low[local[v]])}")
        return out


def attack_quarterly(rows: list[dict]) -> Attack:
    """rpt_phb_quarterly as published: per quarter, each ICB's management options and PHB categories add up to its
    `all`; each cell summed over ICBs is the exact England figure; new in the quarter <= in place."""
    att = Attack()
    national: dict[tuple, dict[str, int]] = {}
    icbs: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        if r["area_level"] == "national":
            national[(r["quarter_end"], r["breakdown"], r["breakdown_value"])] = {
                "phbs_in_place": int(r["phbs_in_place"]), "new_in_quarter": int(r["new_in_quarter"])}
        else:
            icbs[r["quarter_end"]].append(r)
    for quarter, cells in icbs.items():
        by_icb: dict[str, dict[tuple, dict]] = defaultdict(dict)
        for r in cells:
            by_icb[r["area_code"]][(r["breakdown"], r["breakdown_value"])] = r
            for measure in ("phbs_in_place", "new_in_quarter"):
                att.cell((quarter, r["area_code"], r["breakdown"], r["breakdown_value"], measure), r[measure],
                         f"rpt_phb_quarterly {quarter} {r['area_code']} {r['breakdown']}={r['breakdown_value']} "
                         f"{measure}")
            # a rate shown beside a `*` would give the rounded count back
            assert not (r["phbs_in_place"] == "*" and r["phbs_per_100k"] not in ("*", None)), r
        for measure in ("phbs_in_place", "new_in_quarter"):
            for icb, grid in by_icb.items():
                total = att.index[(quarter, icb, "all", "all", measure)]
                for breakdown in ("management_option", "phb_category"):
                    parts = [att.index[(quarter, icb, b, v, measure)] for (b, v) in grid if b == breakdown]
                    if parts:
                        att.equal([(total, 1.0)] + [(p, -1.0) for p in parts], 0.0)
            for (q, breakdown, value), exact in national.items():
                if q == quarter:
                    att.equal([(att.index[(quarter, icb, breakdown, value, measure)], 1.0) for icb in by_icb],
                              exact[measure])
        for icb, grid in by_icb.items():
            for (b, v) in grid:
                new = att.index[(quarter, icb, b, v, "new_in_quarter")]
                in_place = att.index[(quarter, icb, b, v, "phbs_in_place")]
                att.relate({new: 1.0, in_place: -1.0}, -np.inf, 0.0)
    return att


def _share_bounds(share: str, known_rounded: int, unknown_is_total: bool) -> tuple[int, int] | None:
    """A share published beside a `*` people or total: the rounded unknown it implies (share = round(100 * R(people)
    / R(total), 1), R(x) = round(x / 5)), as the bounds of the unknown count."""
    s = float(share)
    candidates = []
    for k in range(0, 100000):
        if unknown_is_total:
            if k == 0:
                continue
            value = round(100.0 * known_rounded / k + 1e-9, 1)
        else:
            if known_rounded == 0:
                return None
            value = round(100.0 * k / known_rounded + 1e-9, 1)
        if abs(value - s) < 1e-6:
            candidates.append(k)
        elif candidates:
            break
        if not unknown_is_total and value > s + 1:
            break
    if not candidates:
        return None
    return max(5 * min(candidates) - 2, 0), 5 * max(candidates) + 2


def attack_area(rows: list[dict]) -> Attack:
    """rpt_integrated_budgets_by_area as published: per area the funder mixes add up to its people with a budget,
    the multi-funder mixes to its integrated budgets, direct payments <= people; ICBs add up to the exact England
    row; a share shown beside a `*` gives a rounded count."""
    att = Attack()
    national = {r["measure"]: int(r["people"]) for r in rows if r["area_level"] == "national"}
    areas: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        if r["area_level"] != "national":
            areas[(r["area_level"], r["area_code"])][r["measure"]] = r
            att.cell((r["area_level"], r["area_code"], r["measure"]), r["people"],
                     f"rpt_integrated_budgets_by_area {r['area_level']} {r['area_code']} {r['measure']}")
    for (level, code), measures in areas.items():
        x = {m: att.index[(level, code, m)] for m in measures}
        att.equal([(x["people_with_budget"], 1.0)] + [(x[m], -1.0) for m in MIXES], 0.0)
        att.equal([(x["integrated"], 1.0)] + [(x[m], -1.0) for m in MULTI_FUNDER], 0.0)
        att.relate({x["direct_payment"]: 1.0, x["people_with_budget"]: -1.0}, -np.inf, 0.0)
        total = measures["people_with_budget"]["people"]
        for m, r in measures.items():
            share, people = r["share_of_people_pct"], r["people"]
            if share in (None, "*") or (people != "*" and total != "*"):
                continue
            if people != "*":  # a share beside a suppressed total
                b = _share_bounds(share, round(int(people) / 5), unknown_is_total=True)
                if b:
                    att.relate({x["people_with_budget"]: 1.0}, *b)
            elif total != "*":
                b = _share_bounds(share, round(int(total) / 5), unknown_is_total=False)
                if b:
                    att.relate({x[m]: 1.0}, *b)
    for m, exact in national.items():
        att.equal([(att.index[("icb", code, m)], 1.0) for (level, code) in areas if level == "icb"], exact)
    return att


def published_reports(url: str, schema: str = "build_reports") -> tuple[list[dict], list[dict]]:
    """The two reports as an analyst reads them (the published schema is a swap of these tables)."""
    with psycopg.connect(url) as conn:
        out = []
        for table, columns in (
            ("rpt_phb_quarterly", "quarter_end::text, area_level, area_code, breakdown, breakdown_value, "
                                  "phbs_in_place, new_in_quarter, phbs_per_100k"),
            ("rpt_integrated_budgets_by_area", "area_level, area_code, measure, people, share_of_people_pct"),
        ):
            cur = conn.execute(f"select {columns} from {schema}.{table}")
            names = [d.name for d in cur.description]
            out.append([dict(zip(names, r, strict=True)) for r in cur.fetchall()])
    return out[0], out[1]


def recoverable_cells(url: str) -> tuple[list[str], int]:
    quarterly, area = published_reports(url)
    attacks = [attack_quarterly(quarterly), attack_area(area)]
    return [c for a in attacks for c in a.recovered()], sum(len(a.suppressed) for a in attacks)


# ---------------------------------------------------------------------------------------------------------------
# The attacker catches the breach it is meant to catch.
# ---------------------------------------------------------------------------------------------------------------

def _quarterly_rows(grid: dict[str, dict[str, str]], national: dict[str, int]) -> list[dict]:
    rows = []
    for icb, cells in grid.items():
        for value, published in cells.items():
            breakdown = "all" if value == "all" else "management_option"
            rows.append({"quarter_end": "2026-09-30", "area_level": "icb", "area_code": icb, "breakdown": breakdown,
                         "breakdown_value": value, "phbs_in_place": published, "new_in_quarter": "0",
                         "phbs_per_100k": "*" if published == "*" else "0.0"})
    for value, n in national.items():
        breakdown = "all" if value == "all" else "management_option"
        rows.append({"quarter_end": "2026-09-30", "area_level": "national", "area_code": "ENGLAND",
                     "breakdown": breakdown, "breakdown_value": value, "phbs_in_place": str(n),
                     "new_in_quarter": "0", "phbs_per_100k": "1.0"})
    return rows


@pytest.mark.fast
def test_attack_recovers_a_star_next_to_published_zeros() -> None:
    # The review's finding: one ICB is `*`, the other ICBs are 0, England is 1: the `*` is 1.
    breach = _quarterly_rows(
        {"A": {"all": "50", "direct_payment": "*", "notional": "*"},
         "B": {"all": "40", "direct_payment": "0", "notional": "40"},
         "C": {"all": "20", "direct_payment": "0", "notional": "20"}},
        {"all": 110, "direct_payment": 1, "notional": 109})
    found = attack_quarterly(breach).recovered()
    assert any("A management_option=direct_payment" in c and c.endswith("= 1") for c in found), found

    # Two `*` in the column, both rows with slack from rounded cells: nothing is recovered.
    protected = _quarterly_rows(
        {"A": {"all": "50", "direct_payment": "*", "notional": "45"},
         "B": {"all": "40", "direct_payment": "*", "notional": "35"},
         "C": {"all": "20", "direct_payment": "0", "notional": "20"}},
        {"all": 110, "direct_payment": 9, "notional": 101})
    assert attack_quarterly(protected).recovered() == []


@pytest.mark.fast
def test_attack_reads_a_share_beside_a_suppressed_total() -> None:
    rows = [{"area_level": "national", "area_code": "ENGLAND", "measure": m, "people": "0",
             "share_of_people_pct": None} for m in ["people_with_budget", "integrated", *MIXES, "direct_payment"]]
    published = {"people_with_budget": "*", "integrated": "0", "health": "*", "social_care": "0", "education": "0",
                 "health+social_care": "0", "education+health": "0", "education+social_care": "0",
                 "education+health+social_care": "0", "direct_payment": "0"}
    shares = {m: ("*" if v == "*" else "0.0") for m, v in published.items()}  # "0.0" says R(total) >= 1
    rows += [{"area_level": "council", "area_code": "E1", "measure": m, "people": v, "share_of_people_pct": shares[m]}
             for m, v in published.items()]
    att = attack_area(rows)
    assert att.recovered() == []  # total 3..inf, health = total: two unknowns, neither pinned
    lo = [att.lo[att.index[("council", "E1", "people_with_budget")]]]
    assert lo == [0.0]


# ---------------------------------------------------------------------------------------------------------------
# Generated nights through the real loader and dbt build.
# ---------------------------------------------------------------------------------------------------------------

def _load(folder: Path) -> None:
    for path in sorted(folder.iterdir()):
        match = FEED.match(path.name)
        if match:
            assert load_file(match.group(1), path).accepted, path.name


def build_reports_for_night(people: int, seed: int, folder: Path) -> float:
    """Generate, load and build the two reports (and everything they depend on); returns seconds taken."""
    started = time.monotonic()
    db.bootstrap()
    generate_night(NIGHT, people, folder, seed=seed)
    _load(folder)
    # The report models and everything upstream, with their data tests (unit tests run in test_dbt.py).
    # The whole night's build in its three steps (the reports read the person layer, built after linkage).
    result = run_build(["--exclude-resource-type", "unit_test"])
    assert result.success, result.exception
    return time.monotonic() - started


@pytest.mark.parametrize(("people", "seed"), [(500, 501), (5_000, 5_002), (50_000, 50_003)])
def test_no_suppressed_cell_is_recoverable(people: int, seed: int, fresh_db: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPB_PSEUDONYM_KEY", KEY)
    built = build_reports_for_night(people, seed, tmp_path / "landing")
    started = time.monotonic()
    recovered, suppressed = recoverable_cells(fresh_db)
    attacked = time.monotonic() - started
    print(f"{people} people: build {built:.1f}s, attack {attacked:.1f}s over {suppressed} suppressed cells, "
          f"{len(recovered)} recovered")
    assert suppressed > 0  # the night has small numbers to protect
    assert not recovered, f"{len(recovered)} suppressed cells recovered by differencing: {recovered[:20]}"
