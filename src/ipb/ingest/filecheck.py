"""File-level checks, done before any row is loaded: name, extract date, encoding, line ends, header, emptiness,
truncation.

One streaming pass (`Scan`, fed by the landing snapshot as it copies the file, beside its SHA-256) validates the
encoding and looks for what only PostgreSQL reads correctly; nothing holds the file in memory.
Reasons name what was wrong and where (line, column position), never a value from the file: a file without its
header row would otherwise have its first person quoted back (IG.md promise 1).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import BinaryIO

import numpy as np

from ipb.contract import normalise
from ipb.feeds import Feed

CHUNK = 1 << 20
BOM = codecs.BOM_UTF8
# An extract date this far past today's is a mistyped or hostile name: as the sender's current snapshot it would
# hide every later real file. A day covers senders whose clock or time zone runs ahead.
FUTURE_TOLERANCE = timedelta(days=1)
# UTF-8 multi-byte characters (a lead byte and its continuation bytes). In a file that is not valid UTF-8 they
# betray a mix of encodings: decoding it all as Windows-1252 would store `Zoë` as `ZoÃ«`.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


class FileRejected(Exception):
    """The whole file is refused. `code` is a stable reason code; the message never holds row values."""

    def __init__(self, code: str, message: str, rows_in_file: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.rows_in_file = rows_in_file  # rows read before the fault, when found mid-file


@dataclass(frozen=True)
class FileName:
    feed: str
    sender: str | None
    extract_date: date


@dataclass(frozen=True)
class FileFacts:
    checksum: str
    encoding: str  # 'utf-8' or 'windows-1252'
    has_bom: bool
    size: int
    header: list[str]
    header_bytes: int  # bytes up to and including the header line ending (after any BOM)
    # Per position in the file: the raw column it loads into, or None for a known column dropped at the door.
    file_columns: tuple[str | None, ...] = ()
    date_format: str = "iso"  # 'iso' (YYYY-MM-DD) or 'dmy' (DD/MM/YYYY), detected from the file
    # No construct that DuckDB's CSV reader reads differently from PostgreSQL's COPY (see `_Plainness`): the
    # loader's vectorised screen may read the file.
    plain_csv: bool = False

    @property
    def dropped(self) -> list[str]:
        """The normalised names of the file's columns that were dropped at the door."""
        return [normalise(h) for h, c in zip(self.header, self.file_columns, strict=True) if c is None]


def parse_name(feed: Feed, file_name: str, today: date | None = None) -> FileName:
    """The feed's name pattern, matched whole and in ASCII only (no other scripts' digits, no trailing newline);
    the extract date must be a real date and not in the future."""
    m = feed.file_pattern.fullmatch(file_name) if file_name.isascii() and file_name.isprintable() else None
    if not m:
        raise FileRejected(
            "bad_file_name",
            f"file name does not match {feed.file_name('<sender code>', 'YYYYMMDD')}; it is rejected, not guessed at",
        )
    try:
        d = date(int(m["date"][:4]), int(m["date"][4:6]), int(m["date"][6:]))
    except ValueError:
        raise FileRejected("bad_file_name", "the extract date in the file name is not a real date") from None
    if d > (today or date.today()) + FUTURE_TOLERANCE:
        raise FileRejected(
            "extract_date_in_future",
            "the extract date in the file name is in the future: as the sender's latest snapshot it would hide "
            "every later file; resend it with the date it was extracted",
        )
    return FileName(feed.name, m.groupdict().get("sender"), d)


def _has_pair(data: bytes, pair: bytes) -> bool:
    """Whether the two bytes `pair` occur next to each other in `data`."""
    if len(data) < 2:
        return False
    word = np.frombuffer(pair, dtype=np.uint16)[0]
    even = np.frombuffer(data, dtype=np.uint16, count=len(data) // 2)
    odd = np.frombuffer(data, dtype=np.uint16, count=(len(data) - 1) // 2, offset=1)
    return bool((even == word).any() or (odd == word).any())


class _Plainness:
    """Whether a file holds only CSV that DuckDB's reader and PostgreSQL's COPY read alike, found with fast byte
    searches as the file streams past. Not plain: a NUL byte, a blank line (DuckDB skips it, COPY fails), a carriage
    return not ending a line, spaces between a quote and its delimiter (DuckDB drops them), the unit or record
    separator (x1f, x1e: the screen's COPY text separates values and marks NULL with them). (A `\\.` line, COPY's
    end-of-data marker, is a wrong field count for DuckDB, which then refuses the file; one-column files are not
    screened.) A false alarm only costs speed: the file then loads by the PostgreSQL path."""

    _SPACED_QUOTE = re.compile(rb'(?:^|,) +"|" +(?:,|\r?$)', re.MULTILINE)

    def __init__(self) -> None:
        self.plain = True
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if not self.plain:
            return
        # A construct cut by the chunk boundary is seen in the bytes around it (joining the whole chunk to the
        # previous one's tail copied every chunk once more).
        around = self._tail + chunk[:4]
        self._check(around)
        self._check(chunk)
        if self.plain and (b'"' in around or b'"' in chunk) and any(
                _has_pair(data, pair) for data in (around, chunk) for pair in (b' "', b'" ')) \
                and self._SPACED_QUOTE.search(self._tail + chunk):
            self.plain = False
        self._tail = chunk[-4:]

    def _check(self, data: bytes) -> None:
        if not self.plain:
            return
        if b"\x00" in data or b"\x1f" in data or b"\x1e" in data:
            self.plain = False
            return
        # Byte pairs are compared as 16-bit words at even and at odd offsets (numpy): Python's substring search for
        # a two-byte needle of common bytes (`\n\n`, ` "`) took 1.5 s of a 500 MB file's checks.
        if _has_pair(data, b"\n\n"):  # a blank line
            self.plain = False
        elif b"\r" in data:
            a = np.frombuffer(data, dtype=np.uint8)
            last = len(a) - 1
            cr = np.flatnonzero(a == 13)
            inner = cr[(cr > 0) & (cr < last)]
            # A carriage return not followed by a line feed (one ending the data is followed in the next chunk),
            # or a blank CRLF line.
            if (a[cr[cr < last] + 1] != 10).any() or ((a[inner - 1] == 10) & (a[inner + 1] == 10)).any():
                self.plain = False

    def finish(self) -> bool:
        return self.plain and not self._tail.endswith(b"\r")


class Scan:
    """What the file checks learn from the file's bytes in one streaming pass (encoding, plainness, first and last
    64 KiB, size), fed chunk by chunk by the landing snapshot as it copies the file."""

    def __init__(self) -> None:
        self.plain = _Plainness()
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.utf8_ok = True
        self.first = b""
        self.last = b""
        self.size = 0
        self.has_multibyte = False
        self.bad_at: int | None = None  # offset of the first byte that is not UTF-8

    def feed(self, chunk: bytes) -> None:
        if self.size == 0:
            self.first = chunk[:65536]
        ascii_only = chunk.isascii()
        # An ASCII chunk is valid UTF-8 on its own: decoded only when a character cut by the last boundary waits.
        if self.utf8_ok and not (ascii_only and not self._utf8.getstate()[0]):
            try:
                self._utf8.decode(chunk)
            except UnicodeDecodeError as exc:
                self.utf8_ok = False
                self.bad_at = self.size + max(exc.start, 0)
        # A multi-byte sequence cut by the chunk boundary is missed; a mixed file has more than one. While the file
        # is valid UTF-8 so far, any non-ASCII byte is one (a far cheaper test).
        self.has_multibyte = self.has_multibyte or (not ascii_only if self.utf8_ok
                                                    else _UTF8_MULTIBYTE.search(chunk) is not None)
        self.size += len(chunk)
        self.plain.feed(chunk)
        self.last = (self.last + chunk[-65536:])[-65536:]

    def facts(self, stream: BinaryIO, feed: Feed, checksum: str) -> FileFacts:
        """The file's facts, or FileRejected. `stream` reads the same bytes again, only on the way to a rejection."""
        if self.utf8_ok:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8_ok = False
                self.bad_at = self.size
        return _facts(self, stream, feed, checksum)


def _facts(scan: Scan, stream: BinaryIO, feed: Feed, checksum: str) -> FileFacts:
    first, last, size, utf8_ok, has_multibyte, bad_at = (scan.first, scan.last, scan.size, scan.utf8_ok,
                                                         scan.has_multibyte, scan.bad_at)
    if size == 0:
        raise FileRejected("empty_file", "the file is empty (0 bytes)")
    has_bom = first.startswith(BOM)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # also UTF-32's
        raise FileRejected("bad_encoding", "the file is UTF-16 or UTF-32 (it starts with that byte order mark): "
                           "re-export it as UTF-8")
    if utf8_ok:
        encoding = "utf-8"
    else:
        if has_bom:
            raise FileRejected("bad_encoding", "the file starts with a UTF-8 BOM but is not valid UTF-8")
        if has_multibyte:
            raise FileRejected(
                "mixed_encoding",
                f"the file mixes UTF-8 characters with bytes that are not UTF-8 (first on line "
                f"{_line_of(stream, bad_at)}): re-export it in one encoding, UTF-8 preferred",
            )
        # Windows-1252 (Excel exports): accepted and converted, so a £ stays a £. Five byte values are
        # undefined in it; a file holding them is neither encoding.
        stream.seek(0)
        try:
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                chunk.decode("windows-1252")
        except UnicodeDecodeError:
            raise FileRejected(
                "bad_encoding", "the file is neither UTF-8 nor Windows-1252: re-export it as UTF-8"
            ) from None
        encoding = "windows-1252"

    body = first[len(BOM):] if has_bom else first
    text = body.decode(encoding, errors="replace")
    line_end = text.find("\n")
    if "\r" in text and ("\n" not in text or text.find("\r") < line_end - 1):
        raise FileRejected(
            "bad_line_endings",
            "lines end with a carriage return only (old Mac format): re-export with CRLF or LF line ends",
        )
    if line_end < 0 and len(first) < size:
        raise FileRejected("bad_header", "the header line is longer than 64 KiB")
    header_line = text if line_end < 0 else text[:line_end]
    header_bytes = (len(header_line.encode(encoding, errors="replace")) + (1 if line_end >= 0 else 0))
    if "\x00" in header_line:
        raise FileRejected("bad_header", "the header line holds a NUL byte: the file is not plain CSV text")
    try:
        header = next(csv.reader([header_line.rstrip("\r")], strict=True), [])
    except csv.Error:
        raise FileRejected("bad_header", "the header line is not valid CSV (broken quoting)") from None
    file_columns = _check_header(feed, header)
    no_rows = line_end < 0 or not text[line_end + 1:].strip() and size <= len(first)
    if no_rows and not feed.allow_no_rows:
        raise FileRejected("no_data_rows", "the file has a header but no data rows: a full snapshot cannot be empty")
    _check_not_truncated(last, encoding, len(header))
    date_format = _detect_date_format(feed, file_columns, text[line_end + 1:] if line_end >= 0 else "",
                                      complete=size <= len(first))
    return FileFacts(checksum, encoding, has_bom, size, header,
                     header_bytes + (len(BOM) if has_bom else 0), file_columns, date_format,
                     scan.plain.finish() and encoding == "utf-8")


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DMY_DATE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}")


def _detect_date_format(feed: Feed, file_columns: tuple[str | None, ...], sample: str, complete: bool) -> str:
    """One file, one date format (FEEDS.md common rules): ISO YYYY-MM-DD or DD/MM/YYYY, decided from the date
    columns of the file's first 64 KiB. A file whose dates fit neither is refused (`date_format`); a date that does
    not fit the file's format is a quarantined row (`invalid_date`)."""
    from ipb.ingest.rules import DATE_COLUMNS

    positions = [i for i, c in enumerate(file_columns) if c in DATE_COLUMNS.get(feed.name, ())]
    if not positions:
        return "iso"
    lines = sample.splitlines()
    if not complete and lines:
        lines = lines[:-1]  # the sample may end mid-record
    iso = dmy = other = 0
    try:
        for record in csv.reader(lines):
            for i in positions:
                value = record[i].strip() if i < len(record) else ""
                if not value:
                    continue
                if _ISO_DATE.fullmatch(value):
                    iso += 1
                elif _DMY_DATE.fullmatch(value):
                    dmy += 1
                else:
                    other += 1
    except csv.Error:
        return "iso"  # broken quoting is found and handled by the load itself
    if other and not (iso or dmy):
        raise FileRejected("date_format", "the date columns are neither YYYY-MM-DD nor DD/MM/YYYY: re-export the "
                           "dates in one of the two formats")
    return "dmy" if dmy > iso else "iso"


def _line_of(stream: BinaryIO, offset: int | None) -> int:
    """1-based line number of a byte offset (a second streaming pass, only on the way to a rejection)."""
    if offset is None:
        return 0
    stream.seek(0)
    line, read = 1, 0
    while read < offset:
        chunk = stream.read(min(CHUNK, offset - read))
        if not chunk:
            break
        line += chunk.count(b"\n")
        read += len(chunk)
    return line


# A cell of a header that is mostly the contract's may be named in a reason when it looks like a column name:
# letters first, then letters, digits, spaces and light punctuation, and no run of digits that could be part of
# an identifier. Anything else is referred to by its position only.
_NAMEABLE = re.compile(r"[A-Za-z][A-Za-z _()/:.-]{0,39}[A-Za-z0-9)]?")


def _describe_columns(header: list[str], positions: list[int]) -> str:
    named = [repr(header[i].strip()) if _NAMEABLE.fullmatch(header[i].strip()) else f"column {i + 1}"
             for i in positions]
    return "[" + ", ".join(named) + "]"


def _check_header(feed: Feed, header: list[str]) -> tuple[str | None, ...]:
    """Match the header by normalised name (FEEDS.md common rules): any order, optional columns may be absent,
    known columns the warehouse does not need are dropped. Returns, per position, the raw column or None (dropped)."""
    names = [normalise(h) for h in header]
    kept, dropped, required = set(feed.raw_columns), set(feed.dropped_raw_columns), feed.required_raw_columns
    known = [n for n in names if n in kept or n in dropped]
    missing = [c for c, n in zip(feed.required or feed.columns, required, strict=True) if n not in names]
    if len(known) * 2 < len(names) and missing:
        # Not this feed's header at all: most likely the header row is missing and this is a person's row.
        # Nothing of it is quoted.
        raise FileRejected(
            "header_mismatch",
            f"the first line is not this feed's header ({len(known)} of its {len(header)} fields are contract "
            f"column names): is the header row missing, or is this another feed's file?",
        )
    unknown = [i for i, n in enumerate(names) if n not in kept and n not in dropped]
    # The contract's column names are metadata, safe to name; the file's unknown cells only when they look like
    # column names (see _NAMEABLE).
    if unknown and missing:
        raise FileRejected(
            "header_mismatch",
            f"header differs from the contract: unexpected {_describe_columns(header, unknown)}, missing {missing}",
        )
    if unknown:
        raise FileRejected(
            "extra_columns",
            f"unexpected column(s) {_describe_columns(header, unknown)}: schema drift is not loaded silently",
        )
    if missing:
        raise FileRejected("missing_columns", f"missing required column(s) {missing}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise FileRejected("header_mismatch", f"column(s) {repeated} appear more than once in the header")
    return tuple(n if n in kept else None for n in names)


_NEWLINE = re.compile(r"\r?\n$")


def _check_not_truncated(tail: bytes, encoding: str, n_columns: int) -> None:
    """A file cut mid-transfer ends without a newline in the middle of its last record. Loading it would
    make the missing records look withdrawn, so the whole file is refused."""
    text = tail.decode(encoding, errors="replace")
    if _NEWLINE.search(text):
        return
    last_line = text.rsplit("\n", 1)[-1]
    fields = next(csv.reader(io.StringIO(last_line)), [])
    quotes_open = last_line.count('"') % 2 == 1
    if quotes_open or len(fields) != n_columns:
        raise FileRejected(
            "truncated_file", "the last line is incomplete (no final newline, fields missing): the file was cut short"
        )
