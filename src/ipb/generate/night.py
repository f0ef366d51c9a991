"""generate_night: one night's landing folder (a file per sender per feed, the national opt-out list) and,
optionally, its truth. Streams people in fixed-size chunks so memory stays flat at national scale: CSV rows and
SEN2 `Person` elements are written a chunk at a time (sen2.py renders them), never a whole file in memory."""

from __future__ import annotations

import csv
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ipb import feeds, reference
from ipb.feeds import Feed
from ipb.generate import cld, dates, hard, population, rows, sen2
from ipb.generate import defects as defects_mod
from ipb.generate.params import CATEGORIES, FIRST_DATE, LAST_DATE, MIN_PEOPLE, Params
from ipb.generate.rand import Rand
from ipb.generate.truth import Truth, person_ids

CHUNK = 25_000  # people per chunk; fixed so output never depends on it
# 2: social care files are CLD Release 2 as councils write them (cld.py). 3: send is the SEN2 XML return (sen2.py)
# with send_budget beside it; linkage hard cases (hard.py) in every night, listed in hard_cases.csv.
GENERATOR_VERSION = 3
FEED_ORDER = (feeds.NHS_PHB, feeds.SOCIAL_CARE, feeds.SEND, feeds.SEND_BUDGET)


class GenerateError(ValueError):
    """Bad arguments; the message says which."""


@dataclass
class GenerateSummary:
    date: str
    people: int
    seed: int
    defects: float
    out_dir: Path
    truth_dir: Path | None
    files: dict[str, int] = field(default_factory=dict)  # file name -> data rows
    rows: dict[str, int] = field(default_factory=dict)  # feed -> data rows in real sender files
    row_defects: dict[str, int] = field(default_factory=dict)  # quarantined row defects per class
    row_variants: dict[str, int] = field(default_factory=dict)  # accepted row flaws (loaded) per class
    hard_cases: dict[str, int] = field(default_factory=dict)  # linkage hard-case rows per class
    budget_totals: dict[str, Any] = field(default_factory=dict)  # send_budget money in rows expected to load
    file_defects: dict[str, str] = field(default_factory=dict)  # class -> file name
    opted_out: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["out_dir"] = str(self.out_dir)
        d["truth_dir"] = str(self.truth_dir) if self.truth_dir else None
        return d


def _valid_nhs_bases(seed: int) -> np.ndarray:
    """Every 999-range NHS number (as an int) with a valid check digit, in a seeded order."""
    base = np.arange(999_000_000, 1_000_000_000, dtype=np.int64)
    digits = np.stack([(base // 10**k) % 10 for k in range(8, -1, -1)], axis=1)
    total = digits @ np.arange(10, 1, -1)
    check = (11 - total % 11) % 11
    ok = check != 10
    numbers = base[ok] * 10 + check[ok]
    return np.random.default_rng([seed, 99]).permutation(numbers)


class _SenderFile:
    """One sender's file: `columns` are the block's column keys written, `header` how the sender spells them."""

    def __init__(self, path: Path, feed: Feed, variant: str | None, style: cld.SenderStyle | None = None) -> None:
        encoding = {"windows_1252": "cp1252", "utf8_bom": "utf-8-sig"}.get(variant or "", "utf-8")
        self.path = path
        self.columns: tuple[str, ...] = style.columns if style else feed.columns
        self.header: list[str] = style.header() if style else list(feed.columns)
        crlf = variant == "crlf" or (style is not None and style.crlf)
        self.fh: TextIO = path.open("w", encoding=encoding, newline="")
        self.line_end = "\r\n" if crlf else "\n"
        self.writer = csv.writer(self.fh, lineterminator=self.line_end)
        self.writer.writerow(self.header)
        self.rows = 0

    def write_block(self, block: rows.Block, g: np.ndarray, sample: bool) -> list[Any]:
        """Write the rows g of the block; returns the first 12 as lists of values when a sample is wanted."""
        cols = [block.cols[c][g].tolist() for c in self.columns]
        raw = [list(row) for row in zip(*(col[:12] for col in cols), strict=True)] if sample else []
        self.write_columns(cols)
        return raw

    def close(self) -> None:
        self.fh.close()

    def write_columns(self, cols: list[list[str]]) -> None:
        """Write rows given column by column, exactly as csv.writer (minimal quoting) would, but joined in C: only
        a column holding a comma, quote or line break is quoted field by field."""
        for k, col in enumerate(cols):
            joined = "\x1f".join(col)
            if any(ch in joined for ch in _CSV_SPECIAL):
                cols[k] = [_csv_quote(v) for v in col]
        if cols and cols[0]:
            self.fh.write(self.line_end.join(map(",".join, zip(*cols, strict=True))) + self.line_end)


class _Sen2File:
    """One council's SEN2 return: the header, then Person elements as chunks arrive, the footer on close."""

    def __init__(self, path: Path, variant: str | None, style: sen2.Sen2Style, lea: str, day: int) -> None:
        self.path = path
        self.style = style
        self.line_end = "\r\n" if variant == "crlf" else "\n"
        self.fh: TextIO = path.open("w", encoding="utf-8", newline="")
        self.fh.write(sen2.header(style, lea, day, self.line_end))
        self.rows = 0

    def write_block(self, block: rows.Block, g: np.ndarray, sample: bool) -> list[Any]:
        cols = {c: block.cols[c][g] for c in (*sen2.PERSON_ITEMS, "Requests")}
        out = sen2.persons(cols, self.line_end)
        self.fh.write("".join(out))
        return out[:12] if sample else []

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.write(sen2.footer(self.line_end))
            self.fh.close()


_CSV_SPECIAL = (",", '"', "\r", "\n")


def _csv_quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in _CSV_SPECIAL) else v


def _parse_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise GenerateError(f"date must be YYYY-MM-DD, got {value!r}") from None


def generate_night(date: dt.date | str, people: int, out_dir: Path | str, seed: int = 1, defects: float = 0.0,
                   truth_dir: Path | str | None = None, params: Params | None = None,
                   progress: bool | None = None) -> GenerateSummary:
    """Write the night's feed files into out_dir (and the truth into truth_dir). Same arguments, same bytes."""
    d = _parse_date(date)
    if not FIRST_DATE <= d <= LAST_DATE:
        raise GenerateError(f"date must be between {FIRST_DATE} and {LAST_DATE}")
    if people < MIN_PEOPLE:
        raise GenerateError(f"people must be at least {MIN_PEOPLE} (the first 53 anchor every sender's file)")
    if not 0.0 <= defects <= 0.08:
        raise GenerateError("defects is a per-class rate: use 0 <= RATE <= 0.08 (up to 12 classes share a feed)")
    if seed < 0:
        raise GenerateError("seed must be 0 or more")
    out = Path(out_dir).resolve()
    truth_path = Path(truth_dir).resolve() if truth_dir is not None else None
    if truth_path is not None and (truth_path == out or truth_path.is_relative_to(out)):
        raise GenerateError("the truth must not be written into the landing folder: give a different --truth DIR")
    p = params or Params()
    ref = reference.load()
    geo = population.Geography.build(ref)
    r = Rand(seed)
    day = dates.day(d)
    ymd = d.strftime("%Y%m%d")
    out.mkdir(parents=True, exist_ok=True)
    senders = {"nhs_phb": geo.icb_codes, "social_care": geo.council_cld, "send": geo.council_dfe,
               "send_budget": geo.council_dfe}
    plan = np.random.default_rng([seed, day, 7])  # file-level defect targets, per night

    variants: dict[tuple[str, int], str] = {}
    rejected: dict[str, tuple[str, int]] = {}
    summary = GenerateSummary(d.isoformat(), people, seed, defects, out, truth_path)
    truth = Truth(truth_path)
    if defects > 0:
        taken: set[tuple[str, int]] = set()
        for cls, feed_name in defects_mod.VARIANT_FILES:
            s = _pick_sender(plan, len(senders[feed_name]), feed_name, taken)
            variants[(feed_name, s)] = cls
        taken = set()
        for feed_name, cls in defects_mod.REJECTED_FILES:
            rejected[cls] = (feed_name, _pick_sender(plan, len(senders[feed_name]), feed_name, taken))

    ctx = rows.Ctx(r, p, geo, day)
    styles = {"social_care": rows.sc_styles(ctx)}
    sen2_styles = rows.send_styles(ctx)
    files: dict[tuple[str, int], _SenderFile | _Sen2File] = {}
    for f in FEED_ORDER:
        for k, code in enumerate(senders[f.name]):
            path = out / f.file_name(code, ymd)
            if f.format == "sen2_xml":
                files[(f.name, k)] = _Sen2File(path, variants.get((f.name, k)), sen2_styles[k], code, day)
                continue
            style = styles[f.name][k] if f.name in styles else None
            files[(f.name, k)] = _SenderFile(path, f, variants.get((f.name, k)), style)
    opt_name = feeds.OPT_OUT.file_name(None, ymd)
    opt_fh = (out / opt_name).open("w", encoding="utf-8", newline="")
    opt_fh.write("nhs_number\n")
    samples: dict[tuple[str, int], list[tuple[list[str], str, str]]] = {v: [] for v in rejected.values()}

    nhs_pool = _valid_nhs_bases(seed)
    nhs_used = 0
    show = progress if progress is not None else (sys.stderr.isatty() and people >= 50_000) or people >= 500_000
    bar = _Progress(people, show)
    try:
        for chunk_no, lo in enumerate(range(0, people, CHUNK)):
            idx = np.arange(lo, min(lo + CHUNK, people), dtype=np.int64)
            P = population.people(r, p, geo, idx)
            need = P["has_nhs"]
            k = int(need.sum())
            if nhs_used + k > len(nhs_pool):
                raise GenerateError("too many people for the 999 test range of NHS numbers: lower --people")
            nhs = np.full(len(idx), "", dtype=object)
            nhs[need] = nhs_pool[nhs_used:nhs_used + k].astype(str).astype(object)
            nhs_used += k
            P["nhs"] = nhs
            opted = nhs[P["opted_out"]]
            if len(opted):
                opt_fh.write("\n".join(opted.tolist()) + "\n")
            summary.opted_out += len(opted)
            truth.write_people(P, geo, CATEGORIES)
            persons, budgets = rows.send(ctx, P)
            blocks = {"nhs_phb": rows.nhs_phb(ctx, P), "social_care": rows.social_care(ctx, P), "send": persons,
                      "send_budget": budgets}
            for feed_no, name in enumerate(("nhs_phb", "social_care", "send_budget")):
                _nhs_hard_cases(r, p, blocks[name], P, feed_no)
            pre: dict[str, np.ndarray | None] = {f.name: None for f in FEED_ORDER}
            if defects > 0:
                prng = np.random.default_rng([seed, day, chunk_no, 99])
                blocks["send_budget"], pre["send"], pre["send_budget"] = defects_mod.inject_pairs(
                    persons, budgets, defects, prng, chunk_no == 0)
            for f in FEED_ORDER:
                block = blocks[f.name]
                labels = np.full(len(block), "", dtype=object) if pre[f.name] is None else pre[f.name]
                pound = _pound_row(block, variants) if chunk_no == 0 and f.name == "social_care" else None
                if defects > 0:
                    clean = block.info["hard"] != ""
                    if pound is not None:
                        clean[pound] = True
                    if f.name == "send":  # a quarantined Person must not leave its budget row without a plan
                        clean[blocks["send_budget"].info["plan_row"]] = True
                    drng = np.random.default_rng([seed, day, chunk_no, FEED_ORDER.index(f)])
                    block, labels = defects_mod.inject(block, defects, drng, chunk_no == 0, senders[f.name], day,
                                                       keep_clean=clean, labels=labels)
                if pound is not None:
                    block.cols["event_outcome"][pound] = defects_mod.POUND_TEXT
                if f.name == "send_budget":
                    _count_budget(block, labels, summary)
                _write_block(block, labels, files, truth, samples, summary)
            bar.advance(len(idx))
    except BaseException:
        truth.close_files()
        raise
    finally:
        bar.stop()
        for sf in files.values():
            sf.close()
        opt_fh.close()

    for (fname, _), sf in files.items():
        summary.files[sf.path.name] = sf.rows
        summary.rows[fname] = summary.rows.get(fname, 0) + sf.rows
    summary.files[opt_name] = summary.opted_out
    for (fname, k), cls in sorted(variants.items()):
        name = files[(fname, k)].path.name
        truth.add_defect(name, None, cls, "loaded", "")
        summary.file_defects[cls] = name
    if defects > 0:
        prev = (d - dt.timedelta(days=1)).strftime("%Y%m%d")
        for cls, (fname, k) in rejected.items():
            other = senders[fname][(k + 1) % len(senders[fname])]
            name = _write_rejected(out, cls, feeds.FEEDS[fname], senders[fname][k], prev, d, samples[(fname, k)],
                                   truth, summary, files[(fname, k)], other)
            truth.add_defect(name, None, cls, "rejected", feeds.FILE_DEFECTS_REJECTED[cls])
            summary.file_defects[cls] = name
    summary.budget_totals = _budget_totals(summary.budget_totals, senders["send_budget"], ymd)
    truth.finish(_manifest(summary, p, nhs_used, {files[("social_care", k)].path.name: s
                                                  for k, s in enumerate(styles["social_care"])},
                           {files[("send", k)].path.name: s for k, s in enumerate(sen2_styles)}))
    return summary


def _pick_sender(rng: np.random.Generator, n: int, feed_name: str, taken: set[tuple[str, int]]) -> int:
    """A sender for a file-level defect, distinct per feed so day-before names never clash."""
    free = [k for k in range(n) if (feed_name, k) not in taken]
    k = int(free[int(rng.integers(0, len(free)))])
    taken.add((feed_name, k))
    return k


def _pound_row(block: rows.Block, variants: dict[tuple[str, int], str]) -> int | None:
    """The Windows-1252 file carries a real pound sign in free text (Event Outcome, a kept text column every
    sender writes; the row is kept free of defects), so a mangled encoding would show."""
    for (fname, k), cls in variants.items():
        if fname == "social_care" and cls == "windows_1252":
            ok = np.flatnonzero((block.sender == k) & block.info["service"])
            return int(ok[0]) if len(ok) else None
    return None


def _write_block(block: rows.Block, labels: np.ndarray, files: dict[tuple[str, int], _SenderFile | _Sen2File],
                 truth: Truth, samples: dict[tuple[str, int], list[tuple[Any, str, str]]],
                 summary: GenerateSummary) -> None:
    feed = block.feed
    if not len(block):
        return
    order = np.argsort(block.sender, kind="stable")
    bounds = np.flatnonzero(np.diff(block.sender[order])) + 1
    hard_labels = block.info["hard"]
    for g in np.split(order, bounds):
        s = int(block.sender[g[0]])
        sf = files[(feed.name, s)]
        sample = samples.get((feed.name, s))
        raw = sf.write_block(block, g, sample is not None)
        first = sf.rows + 1
        sf.rows += len(g)
        name = sf.path.name
        pids = person_ids(block.person[g])
        keys = block.key[g].tolist()
        if truth.enabled:
            truth.records.writerows((name, first + j, feed.name, pids[j], keys[j]) for j in range(len(g)))
        lab = labels[g]
        for j in np.flatnonzero(lab != "").tolist():
            cls = lab[j]
            outcome, reason = defects_mod.expected_outcome(feed.name, cls)
            truth.add_defect(name, first + j, cls, outcome, reason)
            counts = summary.row_defects if outcome == "quarantined" else summary.row_variants
            counts[cls] = counts.get(cls, 0) + 1
        h = hard_labels[g]
        for j in np.flatnonzero(h != "").tolist():
            for cls in h[j].split(";"):
                summary.hard_cases[cls] = summary.hard_cases.get(cls, 0) + 1
                if truth.enabled:
                    truth.hard.writerow((name, first + j, cls))
        if sample is not None and len(sample) < 12:
            for j in range(min(12 - len(sample), len(g))):
                if lab[j] == "":
                    sample.append((raw[j], pids[j], keys[j]))


def _nhs_hard_cases(r: Rand, p: Params, block: rows.Block, P: dict[str, np.ndarray], feed_no: int) -> None:
    """A wrong (another person's) or mistyped NHS number on a few people's rows, labelled in info['hard']."""
    col = defects_mod.ID_COLS[block.feed.name][0]
    assert col is not None
    nhs = block.cols[col]
    wrong, typo = hard.nhs_cases(r, p.hard_case, feed_no, block.person, nhs, block.info["dob"], P,
                                 mistyped_ok=block.feed.name != "nhs_phb", exclude=np.zeros(len(block), dtype=bool))
    hard.add(block.info["hard"], wrong, "wrong_nhs_number")
    hard.add(block.info["hard"], typo, "mistyped_nhs_number")


def _count_budget(block: rows.Block, labels: np.ndarray, summary: GenerateSummary) -> None:
    """Money in the budget rows expected to load (not quarantined), per sender, in pence: what a test can add up
    from the file itself."""
    loaded = np.array([defects_mod.expected_outcome("send_budget", c)[0] == "loaded" if c else True
                       for c in labels.tolist()], dtype=bool)
    t = summary.budget_totals
    for s in np.unique(block.sender[loaded]).tolist():
        m = loaded & (block.sender == s)
        row = t.setdefault(int(s), {"rows": 0, "education_pence": 0, "social_care_pence": 0,
                                    "direct_payment_pence": 0})
        row["rows"] += int(m.sum())
        row["education_pence"] += int(block.info["edu"][m].sum())
        row["social_care_pence"] += int(block.info["sc"][m].sum())
        row["direct_payment_pence"] += int(block.info["dp"][m].sum())


def _write_rejected(out: Path, cls: str, feed: Feed, sender: str, prev: str, d: dt.date,
                    sample: list[tuple[Any, str, str]], truth: Truth, summary: GenerateSummary,
                    like: _SenderFile | _Sen2File, other_sender: str) -> str:
    """A rejected file, named as a real sender's file but dated the day before (or misnamed), written as that
    sender writes its files (`like`: its columns and header, or its SEN2 export's header)."""
    name = f"{feed.name}_{sender}_{d.isoformat()}.csv" if cls == "wrong_file_name" else feed.file_name(sender, prev)
    path = out / name
    if isinstance(like, _Sen2File):
        n = _write_rejected_sen2(path, cls, like.style, sender, other_sender, dates.day(d) - 1,
                                 [row for row, _, _ in sample])
        if truth.enabled:
            truth.records.writerows((name, j + 1, feed.name, pid, key) for j, (_, pid, key) in enumerate(sample[:n]))
        summary.files[name] = n
        return name
    header = list(like.header)
    data = [row for row, _, _ in sample]
    if cls == "extra_column":
        header = header + ["Notes"]
        data = [row + ["checked by team"] for row in data]
    elif cls == "missing_column":
        drop = list(like.columns).index(defects_mod.MISSING_COLUMN[feed.name])
        header = header[:drop] + header[drop + 1:]
        data = [row[:drop] + row[drop + 1:] for row in data]
    elif cls in ("empty_file", "header_only"):
        data = []
    if cls == "empty_file":
        path.write_bytes(b"")
    else:
        import io

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(data)
        text = buf.getvalue()
        if cls == "truncated_last_line":
            body = text[:-1]
            start = body.rfind("\n") + 1
            last = body[start:]
            commas = [i for i, ch in enumerate(last) if ch == ","]
            cut = commas[len(header) // 2] + 3  # mid-way through a field, no final newline
            text = body[:start] + last[:cut]
        path.write_bytes(text.encode("utf-8"))
    if truth.enabled:
        truth.records.writerows((name, j + 1, feed.name, pid, key) for j, (_, pid, key) in enumerate(sample)
                                if cls not in ("empty_file", "header_only"))
    summary.files[name] = 0 if cls in ("empty_file", "header_only") else len(data)
    return name


def _write_rejected_sen2(path: Path, cls: str, style: sen2.Sen2Style, sender: str, other_sender: str, day: int,
                         persons: list[str]) -> int:
    """A SEN2 return the file checks refuse; returns how many Person elements it holds."""
    head = sen2.header(style, other_sender if cls == "lea_mismatch" else sender, day)
    if cls == "header_only":
        persons = []
    elif cls == "unknown_element":
        tag = defects_mod.UNKNOWN_ELEMENT
        persons = [x.replace("    </Person>", f"      <{tag}>checked by team</{tag}>\n    </Person>") for x in persons]
    elif cls == "xml_doctype":  # an external entity: a parser that resolved it would read a local file
        head = head.replace("?>\n", '?>\n<!DOCTYPE Message [\n  <!ENTITY ext SYSTEM "file:///etc/passwd">\n]>\n', 1)
        persons = [persons[0].replace("<Forename>", "<Forename>&ext;", 1), *persons[1:]] if persons else []
        head += "" if persons else "    <Person><Forename>&ext;</Forename></Person>\n"
    elif cls == "malformed_xml" and persons:  # a closing tag that does not match its element
        persons[-1] = persons[-1].replace("</Forename>", "</Forname>", 1)
    text = head + "".join(persons) + sen2.footer()
    if cls == "truncated_xml":  # cut off mid-way through the last Person
        body = head + "".join(persons)
        text = body[:len(body) - (len(persons[-1]) // 2 if persons else 40)]
    path.write_bytes(text.encode("utf-8"))
    return len(persons)


def _budget_totals(by_sender: dict[int, dict[str, int]], senders: tuple[str, ...], ymd: str) -> dict[str, Any]:
    """Pounds per budget file and overall, as the file's rows expected to load add up."""
    def gbp(pence: int) -> str:
        return f"{pence // 100}.{pence % 100:02d}"

    files = {}
    total = {"rows": 0, "education_pence": 0, "social_care_pence": 0, "direct_payment_pence": 0}
    for k, t in sorted(by_sender.items()):
        files[feeds.SEND_BUDGET.file_name(senders[k], ymd)] = {
            "rows": t["rows"], "education_gbp": gbp(t["education_pence"]),
            "social_care_gbp": gbp(t["social_care_pence"]), "direct_payment_gbp": gbp(t["direct_payment_pence"])}
        for c in total:
            total[c] += t[c]
    return {"rows": total["rows"], "education_gbp": gbp(total["education_pence"]),
            "social_care_gbp": gbp(total["social_care_pence"]),
            "direct_payment_gbp": gbp(total["direct_payment_pence"]), "files": files}


def _manifest(summary: GenerateSummary, p: Params, nhs_used: int, sc_styles: dict[str, cld.SenderStyle],
              sen2_styles: dict[str, sen2.Sen2Style]) -> dict[str, Any]:
    from ipb.generate.params import EPOCH

    return {
        "generator_version": GENERATOR_VERSION,
        "arguments": {"date": summary.date, "people": summary.people, "seed": summary.seed,
                      "defects": summary.defects},
        "epoch": EPOCH.isoformat(),
        "chunk_people": CHUNK,
        "rates": p.as_dict(),
        "row_defect_classes": {c: {"feeds": list(f), "expected_reason_code": feeds.ROW_DEFECTS[c]}
                               for c, f in defects_mod.CLASS_FEEDS.items()},
        "row_variant_classes": {c: {"feeds": list(f), "expected_outcome": "loaded"}
                                for c, f in defects_mod.ROW_VARIANTS.items()},
        "social_care_senders": {name: {"header": s.header_style, "columns": len(s.columns),
                                       "omitted": [c for c in cld.columns() if c not in s.columns],
                                       "dates": "DD/MM/YYYY" if s.dmy else "YYYY-MM-DD",
                                       "spellings": "release_1" if s.release1 else "release_2",
                                       "event_reference": s.event_ref, "line_end": "CRLF" if s.crlf else "LF",
                                       "reporting_period_ends": "month" if s.monthly else "quarter"}
                                for name, s in sorted(sc_styles.items())},
        "send_senders": {name: {"return": f"{s.year} {s.version}", "plan_wbp_element": s.plan_wbp,
                                "sen_setting_element": s.sen_setting, "flags": "true/false" if s.bool_words else "1/0",
                                "needs_in_rank_order": not s.needs_unordered, "software": s.software}
                         for name, s in sorted(sen2_styles.items())},
        "hard_case_classes": list(hard.CLASSES),
        "counts": {
            "files": dict(sorted(summary.files.items())),
            "hard_cases": dict(sorted(summary.hard_cases.items())),
            "send_budget_totals": summary.budget_totals,
            "rows_by_feed": summary.rows,
            "row_defects": dict(sorted(summary.row_defects.items())),
            "row_variants": dict(sorted(summary.row_variants.items())),
            "file_defects": dict(sorted(summary.file_defects.items())),
            "opted_out": summary.opted_out,
            "people_with_nhs_number": nhs_used,
        },
    }


class _Progress:
    """A rich progress bar on stderr, only for long runs."""

    def __init__(self, total: int, show: bool) -> None:
        self._bar: Any = None
        if show:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("generating people"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self._task = self._bar.add_task("people", total=total)
            self._bar.start()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
