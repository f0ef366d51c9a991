"""The DfE SEN2 person-level return (COLLECT XML), read safely and in one streaming pass (FEEDS.md "Feed send").

The file is data, never instructions (IG.md promise 8): it is parsed by defusedxml's expat parser with DTDs,
entity declarations and external references forbidden, so nothing is ever expanded or fetched, and a file that
tries is refused at once. Elements are handed to a small target as they are parsed and no tree is built, so memory
stays flat whatever the file's size. Each `Person` becomes one record as soon as it ends: a raw row, or a
quarantined person with its reason codes. File faults raise `FileRejected`; no reason ever quotes a value from the
file (only element names from the contract, or a name that looks like an element name, and line numbers).

The element set is data: dbt_project/seeds/contract/sen2_elements.csv (`ipb.contract.sen2_elements`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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
    lists = {e.code_list for e in elements if e.code_list and e.on_unknown == "quarantine"}
    return ElementSet(release, children, {k: tuple(v) for k, v in shapes.items()},
                      {k: tuple(v) for k, v in required.items()}, {k: tuple(v) for k, v in ranks.items()},
                      {c: frozenset(contract.accepted_spellings(c)) for c in lists})


def release_for(year: str | None) -> str:
    """The element set a file is read with: its collection year's, else the newest."""
    return year if year in contract.SEN2_RELEASES else contract.SEN2_RELEASES[0]


@dataclass
class PersonRecord:
    """One `Person` element: `row` (raw.send's columns) when good, else its reasons and the kept items."""

    ordinal: int  # 1-based position in the file
    row: dict[str, str | None] | None
    reasons: list[str] = field(default_factory=list)
    record: dict | None = None


class _Frame:
    __slots__ = ("element", "container", "dropped")

    def __init__(self, element: Element | None, container: dict | None, dropped: bool = False) -> None:
        self.element = element  # None: the root
        self.container = container  # the kept module's object this element's items go into, if any
        self.dropped = dropped  # inside a module dropped at the door


class Sen2Reader:
    """Reads one SEN2 file from `stream` for the sender named in its file name. Iterate `persons()`; afterwards
    `persons_in_file`, `dropped` (names of known elements not kept) and `release` describe the file."""

    def __init__(self, stream: BinaryIO, sender: str | None, today: date | None = None) -> None:
        self.stream = stream
        self.sender = sender
        self.today = today or date.today()
        self.persons_in_file = 0
        self.dropped: list[str] = []
        self._dropped_seen: set[str] = set()
        self.release = contract.SEN2_RELEASES[0]
        self._set = element_set(self.release)
        self._stack: list[_Frame] = []
        self._text: list[str] | None = None  # text of the leaf being read, when it is kept
        self._text_len = 0
        self._lea: str | None = None
        self._year: str | None = None
        self._lea_checked = False
        self._person: dict | None = None
        self._problems: set[str] = set()
        self._birth: date | None = None
        self._done: list[PersonRecord] = []
        self._parser: DefusedXMLParser | None = None

    # -- the stream -------------------------------------------------------------------------------------------
    def persons(self) -> Iterator[PersonRecord]:
        parser = DefusedXMLParser(target=self, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        self._parser = parser
        # Element events straight from expat to this reader (ElementTree's per-event name fixing and attribute
        # dictionaries are not needed: names are matched as they are, attributes ignored). defusedxml's refusals
        # of DTDs, entity declarations and external references are other handlers and stay in place.
        expat_parser = parser.parser
        expat_parser.StartElementHandler = self.start
        expat_parser.EndElementHandler = self.end
        expat_parser.CharacterDataHandler = self.data
        at_end = False
        read = 0
        try:
            while True:
                chunk = self.stream.read(CHUNK)
                if not chunk:
                    break
                read += len(chunk)
                parser.feed(chunk)
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

    # -- the parser's target ----------------------------------------------------------------------------------
    def start(self, tag: str, attrib: dict) -> None:
        name = tag.rpartition("}")[2]
        if not self._stack:
            if name != ROOT:
                raise self._reject("not_sen2", "the root element is not Message: this is not a SEN2 return")
            self._stack.append(_Frame(None, None))
            return
        parent = self._stack[-1]
        parent_path = parent.element.path if parent.element else ROOT
        element = self._set.children.get(parent_path, {}).get(name)
        if element is None:
            what = f"unknown element {name!r}" if _nameable(name) else f"an unknown element on line {self._line()}"
            raise self._reject("unknown_elements", f"{what} in {parent_path} (SEN2 {self.release} element set): "
                               "schema drift is not loaded silently")
        container = parent.container
        dropped = parent.dropped or not element.kept
        if dropped and not parent.dropped:
            self._drop(element.name)  # named once, at the top of what is dropped
        if element.kind == "module":
            if element.path == PERSONS:
                self._check_sender()
            elif element.path == PERSON:
                container = self._start_person()
            elif container is not None and not dropped:
                container = self._new_object(element.path)
                parent.container[element.name].append(container)
            else:
                container = None
        elif element.path in (LEA, YEAR) or (container is not None and not dropped):
            self._text, self._text_len = [], 0
        self._stack.append(_Frame(element, container, dropped))

    def data(self, text: str) -> None:
        if self._text is not None and self._text_len <= MAX_FIELD_CHARS:
            self._text.append(text)
            self._text_len += len(text)

    def end(self, tag: str) -> None:
        frame = self._stack.pop()
        element = frame.element
        if element is None:
            return
        if element.kind == "module":
            if element.path == PERSON:
                self._end_person(frame.container)
            elif element.path == "Message/Header/CollectionDetails" or element.path == "Message/Header":
                self._choose_release()
            elif frame.container is not None and not frame.dropped:
                self._end_object(element.path, frame.container)
            return
        if self._text is None:
            return
        too_long = self._text_len > MAX_FIELD_CHARS
        value = "".join(self._text).strip() or None
        self._text = None
        if element.path == LEA:
            self._lea = value
        elif element.path == YEAR:
            self._year = value
        else:
            self._check_item(element, value, too_long)
            frame.container[element.name] = None if too_long else value

    def close(self) -> None:
        return None

    # -- persons ------------------------------------------------------------------------------------------------
    def _choose_release(self) -> None:
        release = release_for(self._year)
        if release != self.release:
            self.release = release
            self._set = element_set(release)

    def _new_object(self, module: str) -> dict:
        return {name: [] if is_module else None for name, is_module in self._set.shapes.get(module, ())}

    def _start_person(self) -> dict:
        self._check_sender()
        self._person = self._new_object(PERSON)
        self._problems = set()
        self._birth = None
        return self._person

    def _check_item(self, element: Element, value: str | None, too_long: bool) -> None:
        if too_long:
            self._problems.add("field_too_long")
            return
        if value is None:
            return
        if _CONTROL.search(value):
            self._problems.add("nul_byte")
            return
        if element.kind == "date":
            if not is_iso_date(value):
                self._problems.add("invalid_date")
            elif element.path == f"{PERSON}/PersonBirthDate":
                self._birth = date.fromisoformat(value)
        elif element.kind == "rank":
            if not (_POSITIVE_INT.fullmatch(value) and int(value) > 0):
                self._problems.add("invalid_code")
        elif element.code_list and element.on_unknown == "quarantine":
            if value.lower() not in self._set.flag_spellings[element.code_list]:
                self._problems.add("invalid_code")

    def _end_object(self, module: str, obj: dict) -> None:
        for name in self._set.required.get(module, ()):
            if obj[name] is None:
                # A person's birth date is checked as a date (FEEDS.md), everything else as a missing value.
                self._problems.add("invalid_date" if module == PERSON and name == "PersonBirthDate"
                                   else "missing_value")
        for name in self._set.ranks.get(module, ()):
            if obj[name] is None:
                self._problems.add("invalid_code")  # no rank: the primary need cannot be told

    def _end_person(self, person: dict) -> None:
        self._end_object(PERSON, person)
        if self._birth is not None and self._birth > self.today:
            self._problems.add("birth_date_in_future")
        self.persons_in_file += 1
        requests = person.pop("Requests")
        row: dict[str, str | None] = {"lea": self._lea}
        row.update((normalise(k), v) for k, v in person.items())
        if self._problems:
            reasons = [r for r in REASON_ORDER if r in self._problems]
            if {"field_too_long", "nul_byte"} & self._problems:
                # Not kept: a hostile value cannot fill the quarantine (as for CSV rows).
                record = {"field_count": len(feeds.SEND.columns)}
            else:
                record = {**row, "requests": requests}
            self._done.append(PersonRecord(self.persons_in_file, None, reasons, record))
        else:
            row["requests"] = json.dumps(requests, ensure_ascii=False, separators=(",", ":"))
            self._done.append(PersonRecord(self.persons_in_file, row))
        self._person = None
