"""Access to the landing zone. Local folders today; the interface is small so that an object store
(S3, Azure Blob) can replace it: list names, take a private snapshot of one, nothing else.

A landed file is data, never a pointer (IG.md promise 8): a symlink, a folder, a device or a name that resolves
outside the zone is refused without reading it. A file is loaded from a private copy taken in one pass, once it has
stopped changing, so the bytes that are checksummed are exactly the bytes that are loaded.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from ipb import feeds
from ipb.ingest.filecheck import CHUNK, FileRejected

# A file written to within this many seconds may still be arriving: the loader waits for it to settle.
SETTLE_SECONDS = 2.0
# How long the loader waits for a file that keeps changing before it records it as still in motion.
MAX_WAIT_SECONDS = 30.0

# A name that may appear in logs, XCom and audit.batches: one of the contract's file names. Any other name is
# withheld (a misnamed file may be named after a person) and referred to by a hash of it.
_WITHHELD = re.compile(r"#withheld-[0-9a-f]{16}")


def is_contract_name(name: str) -> bool:
    return name.isascii() and name.isprintable() and any(
        f.file_pattern.fullmatch(name) for f in feeds.LOADABLE.values())


def display_name(name: str) -> str:
    """The name as logs, XCom and the audit may show it: itself when it is a contract name, else withheld."""
    if is_contract_name(name):
        return name
    return "#withheld-" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]


@dataclass(frozen=True)
class Snapshot:
    """A private, complete copy of a landed file and the SHA-256 of exactly its bytes."""

    path: Path
    checksum: str
    size: int


@dataclass(frozen=True)
class LocalLandingZone:
    root: Path

    def list_names(self) -> list[str]:
        """Every entry of the folder, whatever it is: the loader accounts for each one (loaded, duplicate or
        rejected with its reason); nothing is skipped silently."""
        if not self.root.is_dir():
            return []
        return sorted(os.listdir(self.root))

    def reference(self, name: str) -> str:
        """What may travel through XCom and logs for an entry: its path when its name is a contract name."""
        return str(self.root / display_name(name))

    def resolve(self, reference: str) -> Path:
        """The entry a `reference` stands for (a withheld name is found again by its hash)."""
        ref = Path(reference)
        if _WITHHELD.fullmatch(ref.name):
            for name in self.list_names():
                if display_name(name) == ref.name:
                    return self.root / name
        return ref


def _open_landed(path: Path) -> int:
    """Open a landed file for reading without following a symlink and without blocking on a FIFO; refuse anything
    that is not a regular file inside its folder."""
    try:
        if stat.S_ISLNK(os.lstat(path).st_mode):
            raise FileRejected("symlink", "the entry is a symbolic link; landed files must be real files, so it was "
                          "not followed or read")
    except FileNotFoundError:
        raise FileRejected("file_missing", "the file was gone when its turn came (moved or deleted)") from None
    root = os.path.realpath(path.parent)
    if path.name in ("", ".", "..") or os.path.realpath(path) != os.path.join(root, path.name):
        raise FileRejected("outside_landing_zone", "the entry resolves outside the landing folder; it was not read")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileRejected("file_missing", "the file was gone when its turn came (moved or deleted)") from None
    except OSError:
        # ELOOP: it became a symlink since the check above (O_NOFOLLOW); or we may not read it.
        raise FileRejected("unreadable_file", "the file cannot be opened for reading without following a link "
                      "(permissions, or a symbolic link)") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise FileRejected("not_a_file", f"the entry is {kind}; it was not read")
    return fd


class _Beside:
    """Calls `consume` with each chunk given to `put`, on another thread, so that the copy goes on meanwhile:
    hashlib and numpy let go of the GIL for large chunks. (The snapshot of a 500 MB file and its checks took 0.9 s
    one after the other.) An error in `consume` is raised on leaving the block."""

    def __init__(self, consume: Callable[[bytes], None]) -> None:
        self._consume = consume
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="ipb-snapshot", daemon=True)
        self._failed: list[BaseException] = []

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if not self._failed:
                try:
                    self._consume(chunk)
                except BaseException as exc:  # raised in the copying thread, on leaving the block
                    self._failed.append(exc)

    def put(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def __enter__(self) -> _Beside:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._chunks.put(None)
        self._thread.join()
        if self._failed and exc[0] is None:
            raise self._failed[0]


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@contextmanager
def snapshot(path: Path, tmp_dir: Path | None = None, settle: float = SETTLE_SECONDS,
             max_wait: float = MAX_WAIT_SECONDS, observe: Callable[[bytes], None] | None = None) -> Iterator[Snapshot]:
    """A private copy of `path`, taken once the file has been quiet for `settle` seconds, and checksummed as it
    is copied. A file that changes while it is copied, or never settles within `max_wait`, is refused
    (`file_in_motion`): it is still being written and will load on a later run. `observe`, when given, sees each
    chunk as it is copied (the file checks' scan: one read of the file serves both)."""
    fd = _open_landed(Path(path))
    try:
        deadline = time.monotonic() + max_wait
        while True:
            before = os.fstat(fd)
            quiet_for = time.time() - max(before.st_mtime, before.st_ctime)
            if quiet_for >= settle:
                break
            if time.monotonic() + (settle - quiet_for) > deadline:
                raise FileRejected("file_in_motion", "the file is still being written (it changed moments ago); "
                              "it will be loaded once it stops changing")
            time.sleep(max(settle - quiet_for, 0.05))
        if tmp_dir is not None:
            tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        out_fd, out_name = tempfile.mkstemp(prefix="ipb-landed-", suffix=".csv", dir=tmp_dir)  # mode 0600
        try:
            size = 0
            sha = hashlib.sha256()
            with os.fdopen(os.dup(fd), "rb") as src, os.fdopen(out_fd, "wb") as dst, _Beside(sha.update) as hashing, \
                    (_Beside(observe) if observe else nullcontext()) as observing:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    hashing.put(chunk)
                    if observing:
                        observing.put(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            after = os.fstat(fd)
            try:
                now = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if _identity(before) != _identity(after) or size != after.st_size or now is None \
                    or (now.st_ino, now.st_dev) != (after.st_ino, after.st_dev):
                raise FileRejected("file_in_motion", "the file changed while it was being read: it is still being "
                              "written or replaced; it will be loaded once it stops changing")
            yield Snapshot(Path(out_name), sha.hexdigest(), size)
        finally:
            Path(out_name).unlink(missing_ok=True)
    finally:
        os.close(fd)
