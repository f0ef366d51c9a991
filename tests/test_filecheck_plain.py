"""The plain-CSV test of the file checks (filecheck._Plainness: may DuckDB's reader and PostgreSQL's COPY read this
file alike?) finds byte pairs with numpy. It must decide exactly as the plain substring searches it replaced, here
kept as the reference, on any bytes and any chunking."""

from __future__ import annotations

import random

import pytest

from ipb.ingest.filecheck import _Plainness


class _Reference(_Plainness):
    """The substring-search version of `feed`, as it was (the rest is shared)."""

    def feed(self, chunk: bytes) -> None:
        if not self.plain:
            return
        data = self._tail + chunk
        self._tail = chunk[-4:]
        if b"\x00" in data or b"\x1f" in data or b"\x1e" in data:
            self.plain = False
        elif b"\r" in data:
            body = data[:-1] if data.endswith(b"\r") else data
            if body.count(b"\r") != body.count(b"\r\n") or b"\n\r\n" in data or b"\n\n" in data:
                self.plain = False
        elif b"\n\n" in data:
            self.plain = False
        if self.plain and (b' "' in data or b'" ' in data) and self._SPACED_QUOTE.search(data):
            self.plain = False


def _decide(cls, data: bytes, cuts: list[int]) -> bool:
    checker = cls()
    start = 0
    for cut in [*cuts, len(data)]:
        checker.feed(data[start:cut])
        start = cut
    return checker.finish()


CASES = [
    b'a,b\n1,2\n', b'a,b\r\n1,2\r\n', b'a,b\n\n1,2\n', b'a,b\r\n\r\n1,2\r\n', b'a,b\r1,2\n', b'a,b\n1,2\r',
    b'a,b\n "x",2\n', b'a,b\n"x" ,2\n', b'a,b\n"x y",2\n', b'a,b\n1, "x"\r\n', b'a,b\n1,"x" \r\n', b'a\x00b\n',
    b'"a "" b",c\n', b'a,"b\nc"\n', b'a,b\r\n1,2\r\r\n', b'\n', b'\r\n', b'"', b' "', b'" ',
    b'a,b\x1fc\n', b'a,"b\x1ec"\n',
]


@pytest.mark.parametrize("data", CASES)
def test_known_constructs_decide_as_before(data: bytes) -> None:
    for cut in range(len(data) + 1):
        assert _decide(_Plainness, data, [cut]) == _decide(_Reference, data, [cut]), (data, cut)


def test_random_bytes_and_chunkings_decide_as_before() -> None:
    rng = random.Random(18)
    alphabet = [b"a", b"b", b",", b" ", b'"', b"\r", b"\n", b"\r\n", b"1", b"\x00", b"\x1e", b"\x1f"]
    weights = [20, 10, 8, 6, 3, 1, 6, 4, 10, 0.05, 0.05, 0.05]
    plain = 0
    for _ in range(3000):
        data = b"".join(rng.choices(alphabet, weights, k=rng.randint(0, 60)))
        cuts = sorted(rng.sample(range(len(data) + 1), k=min(len(data) + 1, rng.randint(0, 5))))
        expected = _decide(_Reference, data, cuts)
        assert _decide(_Plainness, data, cuts) == expected, (data, cuts)
        plain += expected
    assert 300 < plain < 2700  # both outcomes were exercised
