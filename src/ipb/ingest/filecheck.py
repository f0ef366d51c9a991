"""File-level checks, done before any row is loaded: name, sender, encoding, header, emptiness, truncation.

One streaming pass computes the SHA-256 checksum and validates the encoding; nothing holds the file in memory.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from ipb.feeds import Feed

CHUNK = 1 << 20
BOM = codecs.BOM_UTF8


class FileRejected(Exception):
    """The whole file is refused. `code` is a stable reason code; the message never holds row values."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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


def parse_name(feed: Feed, file_name: str) -> FileName:
    m = feed.file_pattern.match(file_name)
    if not m:
        raise FileRejected(
            "bad_file_name",
            f"file name does not match {feed.name}_<sender code>_<YYYYMMDD>.csv; it is rejected, not guessed at",
        )
    try:
        d = date(int(m["date"][:4]), int(m["date"][4:6]), int(m["date"][6:]))
    except ValueError:
        raise FileRejected("bad_file_name", "the extract date in the file name is not a real date") from None
    return FileName(feed.name, m.groupdict().get("sender"), d)


def inspect(stream: BinaryIO, feed: Feed) -> FileFacts:
    """Checksum, encoding and header of a file, in one streaming pass."""
    sha = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    first = b""
    last = b""
    size = 0
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        if size == 0:
            first = chunk[:65536]
        size += len(chunk)
        sha.update(chunk)
        if utf8_ok:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError:
                utf8_ok = False
        last = (last + chunk)[-65536:]
    if size == 0:
        raise FileRejected("empty_file", "the file is empty (0 bytes)")
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    has_bom = first.startswith(BOM)
    if utf8_ok:
        encoding = "utf-8"
    else:
        if has_bom:
            raise FileRejected("bad_encoding", "the file starts with a UTF-8 BOM but is not valid UTF-8")
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
    if line_end < 0 and len(first) < size:
        raise FileRejected("bad_header", "the header line is longer than 64 KiB")
    header_line = text if line_end < 0 else text[:line_end]
    header_bytes = (len(header_line.encode(encoding, errors="replace")) + (1 if line_end >= 0 else 0))
    header = next(csv.reader([header_line.rstrip("\r")]), [])
    _check_header(feed, header)
    no_rows = line_end < 0 or not text[line_end + 1:].strip() and size <= len(first)
    if no_rows and not feed.allow_no_rows:
        raise FileRejected("no_data_rows", "the file has a header but no data rows: a full snapshot cannot be empty")
    _check_not_truncated(last, encoding, len(header))
    return FileFacts(sha.hexdigest(), encoding, has_bom, size, header,
                     header_bytes + (len(BOM) if has_bom else 0))


def _check_header(feed: Feed, header: list[str]) -> None:
    expected = list(feed.columns)
    if header == expected:
        return
    extra = [c for c in header if c not in expected]
    missing = [c for c in expected if c not in header]
    # Column names are contract metadata, never personal data: safe to name them.
    if extra and missing:
        raise FileRejected(
            "header_mismatch", f"header differs from the contract: unexpected {extra}, missing {missing}"
        )
    if extra:
        raise FileRejected("extra_columns", f"unexpected column(s) {extra}: schema drift is not loaded silently")
    if missing:
        raise FileRejected("missing_columns", f"missing required column(s) {missing}")
    raise FileRejected("header_mismatch", "the contract's columns are present but duplicated or out of order")


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
