"""The DfE SEN2 person-level return (COLLECT XML), read safely and in one streaming pass (FEEDS.md "Feed send").

The file is data, never instructions (IG.md promise 8): it is parsed by defusedxml's expat parser with DTDs,
entity declarations and external references forbidden, so nothing is ever expanded or fetched, and a file that
tries is refused at once. Elements are handed to small handlers as they are parsed and no tree is built, so memory
stays flat whatever the file's size. Each `Person` becomes one record as soon as it ends: a raw row, or a
quarantined person with its reason codes. File faults raise `FileRejected`; no reason ever quotes a value from the
file (only element names from the contract, or a name that looks like an element name, and line numbers).

Speed: expat calls Python once per element start and end, so inside `Persons` (nearly all of a file) the handlers
are lean closures over a tree of its elements compiled once per release (`_persons_tree`): one dictionary look-up
per element, text gathered by a bare `list.append`, each kept coded value read and checked once per distinct text
(`_Memo`), and a good person's Requests JSON built module by module as they end (no tree to encode afterwards).
Outside `Persons` (the header) the plain handlers below read the file.

The element set is data: dbt_project/seeds/contract/sen2_elements.csv (`ipb.contract.sen2_elements`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import BinaryIO
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser

from ipb import contract, feeds
from ipb.contract import Element, normalise
from ipb.ingest.filecheck import CHUNK, FileRejected
from ipb.ingest.rules import MAX_FIELD_CHARS

ROOT = "Message"
PERSON = "Message/Persons/Person"
PERSONS = "Message/Persons"
LEA = "Message/Header/Source/LEA"
YEAR = "Message/Header/CollectionDetails/Year"
BIRTH_DATE = f"{PERSON}/PersonBirthDate"
# The order in which a quarantined person's reasons are listed (the first is its reason).
REASON_ORDER = ("field_too_long", "nul_byte", "missing_value", "invalid_date", "birth_date_in_future",
                "invalid_code")
# Characters no stored value may hold. XML 1.0 already refuses NUL and the C0 controls (the file is then not
# well-formed); DEL and the C1 controls are legal XML characters, so they are caught here.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same validity as SQL util.to_date(text, 'iso'): a calendar date YYYY-MM-DD from 1900 to 9999.
_ISO_DATE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_POSITIVE_INT = re.compile(r"[0-9]{1,6}")
# An unknown element is named in the reason only when its name looks like an element name: letters and digits,
# at most 40 characters, no run of three digits (which could be part of an identifier). Else by its line.
_NAMEABLE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
_TRUNCATED = {expat.errors.codes[m] for m in (expat.errors.XML_ERROR_NO_ELEMENTS, expat.errors.XML_ERROR_UNCLOSED_TOKEN,
                                               expat.errors.XML_ERROR_PARTIAL_CHAR,
                                               expat.errors.XML_ERROR_UNCLOSED_CDATA_SECTION)}
# A good person's Requests are stored as json.dumps(requests, ensure_ascii=False, separators=(",", ":")) would
# write them, but built as the file is read: each kept module's text is a format of its items' JSON texts (the
# encoder json.dumps uses for strings), in specification order; a list holds its modules' texts joined by commas.
_JSON_STRING = json.encoder.encode_basestring
_NULL = "null"  # an absent or blank item, the same object everywhere (required items are found missing by it)
# Values of coded items (dates, codes, flags, ranks) repeat across a file: each distinct short text is judged once,
# up to a bound so that a hostile file cannot grow the memo.
_MEMO_VALUES = 10_000
_MEMO_CHARS = 16
_MEMO_KINDS = frozenset({"date", "rank", "code", "flag", "integer"})
# How an element inside Message/Persons is read (_Node.how): leaves, then modules. A leaf is kept as a coded value
# (memo), as free text or as the person's birth date, or not kept; the top of what is dropped is named first.
_MEMO, _FREE, _BIRTH, _SKIP, _DROP = 0, 1, 2, 3, 4
_MODULE, _SKIP_MODULE, _DROP_MODULE, _PERSON, _PERSONS = 5, 6, 7, 8, 9
_TOO_LONG = " " * (MAX_FIELD_CHARS + 1)  # stands for a value's text once it is known to be over the limit


def is_iso_date(value: str) -> bool:
    if not _ISO_DATE.fullmatch(value) or value[:2] < "19":
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _nameable(name: str) -> bool:
    return _NAMEABLE.fullmatch(name) is not None and re.search(r"[0-9]{3}", name) is None


@dataclass(frozen=True)
class ElementSet:
    """One release's elements indexed for the parser."""

    release: str
    children: dict[str, dict[str, Element]]  # module path -> accepted spelling -> element
    # Per kept module inside a Person: its kept items in specification order, (name, is a module).
    shapes: dict[str, tuple[tuple[str, bool], ...]]
    required: dict[str, tuple[str, ...]]  # module path -> required kept leaf items
    ranks: dict[str, tuple[str, ...]]  # module path -> kept leaf items that must be positive integers
    flag_spellings: dict[str, frozenset[str]]  # code list -> accepted spellings, trimmed and lower case


@cache
def element_set(release: str) -> ElementSet:
    elements = contract.sen2_elements(release)
    children: dict[str, dict[str, Element]] = {}
    shapes: dict[str, list[tuple[str, bool]]] = {}
    required: dict[str, list[str]] = {}
    ranks: dict[str, list[str]] = {}
    for e in elements:
        for spelling in e.spellings:
            children.setdefault(e.module, {})[spelling] = e
        if e.kept and (e.module == PERSON or e.module.startswith(PERSON + "/")):
            shapes.setdefault(e.module, []).append((e.name, e.kind == "module"))
            if e.required and e.kind != "module":
                required.setdefault(e.module, []).append(e.name)
            if e.kind == "rank":
                ranks.setdefault(e.module, []).append(e.name)
    person_columns = {normalise(n) for n, is_module in shapes[PERSON] if not is_module} | {"requests"}
    if not person_columns <= set(feeds.SEND.raw_columns):
        raise ValueError(f"sen2_elements.csv keeps Person items raw.send has no column for: "
                         f"{sorted(person_columns - set(feeds.SEND.raw_columns))}")
    # The reader relies on these: persons are kept, and only modules have children.
    modules = {e.path for e in elements if e.kind == "module"}
    if not (children.get(ROOT, {}).get("Persons") and children[ROOT]["Persons"].kept
            and children.get(PERSONS, {}).get("Person") and children[PERSONS]["Person"].kept
            and {e.path for e in children[PERSONS].values()} == {PERSON}):
        raise ValueError("sen2_elements.csv must keep Message/Persons and its one item, Message/Persons/Person")
    if set(children) - modules - {""}:
        raise ValueError(f"sen2_elements.csv lists children of items that are not modules: "
                         f"{sorted(set(children) - modules - {''})}")
    lists = {e.code_list for e in elements if e.code_list and e.on_unknown == "quarantine"}
    return ElementSet(release, children, {k: tuple(v) for k, v in shapes.items()},
                      {k: tuple(v) for k, v in required.items()}, {k: tuple(v) for k, v in ranks.items()},
                      {c: frozenset(contract.accepted_spellings(c)) for c in lists})


def release_for(year: str | None) -> str:
    """The element set a file is read with: its collection year's, else the newest."""
    return year if year in contract.SEN2_RELEASES else contract.SEN2_RELEASES[0]


# -- the Person's elements, compiled ---------------------------------------------------------------------------------

class _Memo(dict):
    """A kept leaf's reading, remembered per text: text -> (what is stored, reason code or None). What is stored is
    the text trimmed, None when blank (or its JSON text, _NULL when blank, inside Requests); a control character
    comes first (nul_byte), then the leaf's own check."""

    __slots__ = ("check", "as_json")

    def __init__(self, check: Callable[[str], str | None] | None, as_json: bool) -> None:
        super().__init__()
        self.check = check
        self.as_json = as_json

    def __missing__(self, text: str) -> tuple[str | None, str | None]:
        if len(text) > MAX_FIELD_CHARS:
            return _NULL if self.as_json else None, "field_too_long"
        value = text.strip()
        if not value:
            read: tuple[str | None, str | None] = (_NULL if self.as_json else None, None)
        else:
            problem = "nul_byte" if _CONTROL.search(value) else self.check(value) if self.check else None
            read = (_JSON_STRING(value) if self.as_json else value, problem)
        if len(text) <= _MEMO_CHARS and len(self) < _MEMO_VALUES:
            self[text] = read
        return read


def _date_check(value: str) -> str | None:
    return None if is_iso_date(value) else "invalid_date"


def _rank_check(value: str) -> str | None:
    return None if _POSITIVE_INT.fullmatch(value) and int(value) > 0 else "invalid_code"


@cache
def _memo(kind: str, as_json: bool, spellings: frozenset[str] = frozenset()) -> _Memo:
    if kind == "date":
        return _Memo(_date_check, as_json)
    if kind == "rank":
        return _Memo(_rank_check, as_json)
    if kind == "code":
        return _Memo(lambda value: None if value.lower() in spellings else "invalid_code", as_json)
    return _Memo(None, as_json)


class _Node:
    """One element of Message/Persons, as the Person handlers need it."""

    __slots__ = ("name", "path", "how", "kids", "memo", "index", "as_json", "items", "format", "on_end", "columns",
                 "requests")

    def __init__(self, es: ElementSet, element: Element, parent_dropped: bool, index: int) -> None:
        dropped = parent_dropped or not element.kept
        module = element.kind == "module"
        in_requests = element.module.startswith(PERSON + "/")  # stored as JSON
        self.name = element.name  # stored under its canonical name
        self.path = element.path
        self.index = index  # its place among its module's kept items
        self.kids: dict[str, _Node] = {}  # accepted spelling -> child
        # A kept leaf's check, as the Person rules order it: a date, a rank, a code list that quarantines.
        self.memo: _Memo | None = None
        if element.kind == "date":
            self.memo = _memo("date", in_requests)
        elif element.kind == "rank":
            self.memo = _memo("rank", in_requests)
        elif element.code_list and element.on_unknown == "quarantine":
            self.memo = _memo("code", in_requests, es.flag_spellings[element.code_list])
        elif element.kind in _MEMO_KINDS:
            self.memo = _memo("plain", in_requests)
        if self.path == PERSONS:
            self.how = _PERSONS
        elif self.path == PERSON:
            self.how = _PERSON
        elif dropped:
            top = not parent_dropped
            self.how = (_DROP_MODULE if top else _SKIP_MODULE) if module else (_DROP if top else _SKIP)
        elif module:
            self.how = _MODULE
        elif self.path == BIRTH_DATE and element.kind == "date":
            self.how = _BIRTH
        elif self.memo is not None:
            self.how = _MEMO
        else:
            self.how = _FREE
        self.as_json = in_requests  # a leaf inside Requests is stored as its JSON text
        # A kept module's items, in specification order: what a new one holds, and (inside Requests) its JSON text.
        shape = es.shapes.get(self.path, ())
        blank = None if self.path == PERSON else _NULL
        self.items = [("" if is_module else blank) for _, is_module in shape]
        self.format = "{" + ",".join(_JSON_STRING(name).replace("%", "%%") + (":[%s]" if is_module else ":%s")
                                     for name, is_module in shape) + "}"
        positions = {name: i for i, (name, _) in enumerate(shape)}
        # Checked when the module ends: required items (a person's birth date as a date) and ranks.
        self.on_end = (*((positions[name], "invalid_date" if self.path == PERSON and name == "PersonBirthDate"
                          else "missing_value") for name in es.required.get(self.path, ())),
                       *((positions[name], "invalid_code") for name in es.ranks.get(self.path, ())))
        # A Person: its columns in raw.send, in the order of its items once Requests is taken out, and where
        # Requests is among them.
        self.columns = tuple(normalise(name) for name, _ in shape if name != "Requests")
        self.requests = positions.get("Requests", -1)


@cache
def _persons_tree(release: str) -> _Node:
    """Message/Persons and everything in it, compiled once per release."""
    es = element_set(release)
    compiled: dict[str, _Node] = {}
    person_modules = tuple(name for name, is_module in es.shapes.get(PERSON, ()) if is_module)
    if person_modules != ("Requests",):
        raise ValueError("sen2_elements.csv: a Person keeps one module, Requests")

    def build(element: Element, parent_dropped: bool, index: int) -> _Node:
        node = _Node(es, element, parent_dropped, index)
        kept = [name for name, _ in es.shapes.get(element.path, ())]
        for spelling, child in es.children.get(element.path, {}).items():
            if child.path not in compiled:
                at = kept.index(child.name) if child.name in kept else -1
                compiled[child.path] = build(child, node.how in (_SKIP_MODULE, _DROP_MODULE), at)
            node.kids[spelling] = compiled[child.path]
        return node

    return build(es.children[ROOT]["Persons"], False, -1)


# -- the reader ------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class PersonRecord:
    """One `Person` element: `row` (raw.send's columns) when good, else its reasons and the kept items."""

    ordinal: int  # 1-based position in the file
    row: dict[str, str | None] | None
    reasons: list[str] = field(default_factory=list)
    record: dict | None = None


class Sen2Reader:
    """Reads one SEN2 file from `stream` for the sender named in its file name. Iterate `persons()`; afterwards
    `persons_in_file`, `dropped` (names of known elements not kept) and `release` describe the file."""

    def __init__(self, stream: BinaryIO, sender: str | None, today: date | None = None) -> None:
        self.stream = stream
        self.sender = sender
        self.today = today or date.today()
        self._today = self.today.isoformat()  # valid ISO dates compare as their text
        self.persons_in_file = 0
        self.dropped: list[str] = []
        self._dropped_seen: set[str] = set()
        self.release = contract.SEN2_RELEASES[0]
        self._set = element_set(self.release)
        self._stack: list[tuple[Element | None, bool]] = []  # outside persons: (element or None for the root, dropped)
        self._text: list[str] | None = None  # text of the header item being read (LEA, Year)
        self._text_len = 0
        self._lea: str | None = None
        self._year: str | None = None
        self._lea_checked = False
        self._done: list[PersonRecord] = []
        self._parser: DefusedXMLParser | None = None
        self._expat = None
        # The handlers, held here so that swapping them never frees one that is running.
        self._header_handlers = (self.start, self.end, self.data)
        begin, start, end, data, self._settle = self._persons_mode()
        self._begin_persons, self._persons_handlers = begin, (start, end, data)

    # -- the stream -------------------------------------------------------------------------------------------
    def persons(self) -> Iterator[PersonRecord]:
        parser = DefusedXMLParser(target=self, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self._parser = parser
        # Element events straight from expat to this reader (ElementTree's per-event name fixing and attribute
        # dictionaries are not needed: names are matched as they are, attributes ignored). defusedxml's refusals
        # of DTDs, entity declarations and external references are other handlers and stay in place.
        self._expat = expat_parser = parser.parser
        expat_parser.StartElementHandler, expat_parser.EndElementHandler, expat_parser.CharacterDataHandler = (
            self._header_handlers)
        at_end = False
        read = 0
        try:
            while True:
                chunk = self.stream.read(CHUNK)
                if not chunk:
                    break
                read += len(chunk)
                parser.feed(chunk)
                self._settle()
                yield from self._drain()
            if read == 0:
                raise FileRejected("empty_file", "the file is empty (0 bytes)")
            at_end = True
            parser.close()
            yield from self._drain()
        except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
            raise FileRejected(
                "xml_forbidden", "the file declares a DTD, an entity or an external reference: SEN2 returns never "
                "need one, so nothing of it was expanded or fetched and the file is refused",
                rows_in_file=self.persons_in_file) from None
        except ParseError as exc:
            line = exc.position[0] if exc.position else 0
            if at_end and exc.code in _TRUNCATED:
                raise FileRejected(
                    "truncated_file", f"the file ends inside an element (line {line}): it was cut short, and an "
                    "incomplete return would make the missing persons look withdrawn",
                    rows_in_file=self.persons_in_file) from None
            raise FileRejected(
                "malformed_xml", f"the file is not well-formed XML (line {line}): re-export it from the SEND system",
                rows_in_file=self.persons_in_file) from None
        self._check_sender()
        if self.persons_in_file == 0:
            raise FileRejected("no_data_rows", "the return has no Person element: a full snapshot cannot be empty")

    def _drain(self) -> Iterator[PersonRecord]:
        done, self._done = self._done, []
        yield from done

    def _line(self) -> int:
        return self._parser.parser.CurrentLineNumber if self._parser is not None else 0

    def _reject(self, code: str, reason: str) -> FileRejected:
        return FileRejected(code, reason, rows_in_file=self.persons_in_file)

    def _unknown(self, tag: str, parent_path: str) -> FileRejected:
        name = tag.rpartition("}")[2]
        what = f"unknown element {name!r}" if _nameable(name) else f"an unknown element on line {self._line()}"
        return self._reject("unknown_elements", f"{what} in {parent_path} (SEN2 {self.release} element set): "
                            "schema drift is not loaded silently")

    def _check_sender(self) -> None:
        if self._lea_checked:
            return
        self._lea_checked = True
        if not self._lea:
            raise self._reject("sender_mismatch", "Header/Source/LEA is missing before the persons: the return "
                               "must name the council that sends it")
        if self._lea != self.sender:
            raise self._reject("sender_mismatch", "Header/Source/LEA differs from the sender in the file name")

    def _drop(self, name: str) -> None:
        if name not in self._dropped_seen:
            self._dropped_seen.add(name)
            self.dropped.append(name)

    # -- outside persons: the parser's target ---------------------------------------------------------------------
    def start(self, tag: str, attrib: list) -> None:
        name = tag.rpartition("}")[2]
        if not self._stack:
            if name != ROOT:
                raise self._reject("not_sen2", "the root element is not Message: this is not a SEN2 return")
            self._stack.append((None, False))
            return
        parent, parent_dropped = self._stack[-1]
        parent_path = parent.path if parent else ROOT
        element = self._set.children.get(parent_path, {}).get(name)
        if element is None:
            raise self._unknown(name, parent_path)
        dropped = parent_dropped or not element.kept
        if dropped and not parent_dropped:
            self._drop(element.name)  # named once, at the top of what is dropped
        if element.path == PERSONS:
            # The persons are read by the Person handlers, up to the end tag of Persons (element_set keeps both).
            self._check_sender()
            self._stack.append((element, dropped))
            self._begin_persons(_persons_tree(self.release))
            self._swap(self._persons_handlers)
            return
        if element.path in (LEA, YEAR):
            self._text, self._text_len = [], 0
        self._stack.append((element, dropped))

    def data(self, text: str) -> None:
        if self._text is not None and self._text_len <= MAX_FIELD_CHARS:
            self._text.append(text)
            self._text_len += len(text)

    def end(self, tag: str) -> None:
        element, _ = self._stack.pop()
        if element is None:
            return
        if element.kind == "module":
            if element.path == "Message/Header/CollectionDetails" or element.path == "Message/Header":
                self._choose_release()
            return
        if self._text is None:
            return
        value = "".join(self._text).strip() or None
        self._text = None
        if element.path == LEA:
            self._lea = value
        elif element.path == YEAR:
            self._year = value

    def close(self) -> None:
        return None

    def _swap(self, handlers: tuple) -> None:
        p = self._expat
        p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = handlers

    def _choose_release(self) -> None:
        release = release_for(self._year)
        if release != self.release:
            self.release = release
            self._set = element_set(release)

    # -- inside Persons -------------------------------------------------------------------------------------------
    def _persons_mode(self) -> tuple[Callable, Callable, Callable, Callable, Callable]:
        """The handlers that read Message/Persons, from just after its start tag to its end tag: (begin(Persons
        node), start, end, data, settle). State lives in the closure; a leaf's text is what `data` gathered since
        its start tag (only modules have children). `settle` runs between chunks: it keeps at most one chunk's text."""
        reader = self
        buf: list[str] = []
        clear, join = buf.clear, "".join
        stack: list[tuple[_Node, list]] = []  # the open modules around the current one: (node, items)
        push, pop = stack.append, stack.pop
        seen = self._dropped_seen
        module: _Node = None  # type: ignore[assignment]  # the innermost open module
        kids: dict[str, _Node] = {}  # its children by accepted spelling
        leaf: _Node | None = None  # the open leaf, if any
        items: list = []  # the kept items of the innermost kept module, in specification order
        problems: set[str] = set()  # the current person's
        add = problems.add
        birth: str | None = None

        def begin(persons: _Node) -> None:
            nonlocal module, kids, leaf
            module, kids, leaf = persons, persons.kids, None
            stack.clear()

        def start(tag: str, attrib: list) -> None:
            nonlocal module, kids, leaf, items, problems, add, birth
            if leaf is not None:
                raise reader._unknown(tag, leaf.path)
            try:
                node = kids[tag]
            except KeyError:
                node = kids.get(tag.rpartition("}")[2])  # a namespaced name
                if node is None:
                    raise reader._unknown(tag, module.path) from None
            how = node.how
            if how < _MODULE:
                leaf = node
                if how < _SKIP:
                    clear()
                elif how == _DROP and node.name not in seen:
                    reader._drop(node.name)
                return
            push((module, items))
            module, kids = node, node.kids
            if how == _MODULE:
                items = node.items.copy()
            elif how == _DROP_MODULE:
                if node.name not in seen:
                    reader._drop(node.name)
            elif how == _PERSON:
                items = node.items.copy()
                problems = set()
                add = problems.add
                birth = None

        def end(tag: str) -> None:
            nonlocal module, kids, leaf, items, birth
            node = leaf
            if node is not None:
                leaf = None
                how = node.how
                if how == _MEMO:
                    value, problem = node.memo[join(buf)]
                    if problem is not None:
                        add(problem)
                    items[node.index] = value
                elif how >= _SKIP:
                    return
                elif how == _FREE:
                    text = join(buf)
                    if len(text) > MAX_FIELD_CHARS:
                        add("field_too_long")
                        items[node.index] = _NULL if node.as_json else None
                        return
                    value = text.strip()
                    # A printable value holds no control character: the pattern only runs on the others.
                    if value and not value.isprintable() and _CONTROL.search(value):
                        add("nul_byte")
                    if node.as_json:
                        items[node.index] = _JSON_STRING(value) if value else _NULL
                    else:
                        items[node.index] = value or None
                else:
                    value, problem = node.memo[join(buf)]
                    if problem is not None:
                        add(problem)
                    elif value is not None:
                        birth = value
                    items[node.index] = value
                return
            node = module
            how = node.how
            if how == _MODULE:
                missing = _NULL
                for i, problem in node.on_end:
                    if items[i] is missing:
                        add(problem)
                text = node.format % tuple(items)
                module, items = pop()
                kids = module.kids
                i = node.index
                held = items[i]
                items[i] = held + "," + text if held else text
                return
            if how == _PERSON:
                for i, problem in node.on_end:
                    if items[i] is None:
                        add(problem)
                reader._person_done(node, items, problems, birth)
            elif how == _PERSONS:
                reader._swap(reader._header_handlers)
                reader.end(tag)
                return
            module, items = pop()
            kids = module.kids

        def settle() -> None:
            if leaf is None or leaf.how >= _SKIP:
                clear()
            elif len(buf) > 1 or (buf and len(buf[0]) > MAX_FIELD_CHARS):
                if sum(map(len, buf)) > MAX_FIELD_CHARS:
                    buf[:] = [_TOO_LONG]  # the value is refused whatever else it holds

        return begin, start, end, buf.append, settle

    def _person_done(self, node: _Node, items: list, problems: set[str], birth: str | None) -> None:
        if birth is not None and birth > self._today:
            problems.add("birth_date_in_future")
        self.persons_in_file += 1
        requests = "[" + items.pop(node.requests) + "]"
        row: dict[str, str | None] = {"lea": self._lea}
        row.update(zip(node.columns, items, strict=True))
        if problems:
            reasons = [r for r in REASON_ORDER if r in problems]
            if "field_too_long" in problems or "nul_byte" in problems:
                # Not kept: a hostile value cannot fill the quarantine (as for CSV rows).
                record = {"field_count": len(feeds.SEND.columns)}
            else:
                record = {**row, "requests": json.loads(requests)}
            self._done.append(PersonRecord(self.persons_in_file, None, reasons, record))
        else:
            row["requests"] = requests
            self._done.append(PersonRecord(self.persons_in_file, row))
