"""The text-file checks of `.pre-commit-config.yaml`, without pre-commit-hooks (nothing fetched at commit time):

    python -m tests.hygiene yaml FILE...         every YAML document parses (yaml.safe_load_all)
    python -m tests.hygiene end-of-file FILE...  exactly one newline at the end (fixed in place)
    python -m tests.hygiene whitespace FILE...   no spaces or tabs at line ends, CRLF kept (fixed in place)

Exit status 1 when a file was wrong (and fixed, for the last two): stage the fix and commit again."""

from __future__ import annotations

import re
import sys
from pathlib import Path

_TRAILING = re.compile(rb"[ \t]+(?=\r?\n|$)")


def _yaml(path: Path) -> str | None:
    import yaml

    try:
        with path.open(encoding="utf-8") as fh:
            for _ in yaml.safe_load_all(fh):
                pass
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return f"{path}: not valid YAML ({type(exc).__name__} {getattr(exc, 'problem_mark', '') or ''})".strip()
    return None


def _end_of_file(path: Path) -> str | None:
    data = path.read_bytes()
    fixed = data.rstrip(b"\r\n") + (b"\r\n" if data.endswith(b"\r\n") else b"\n") if data.strip() else b""
    if fixed == data:
        return None
    path.write_bytes(fixed)
    return f"{path}: fixed the end of the file"


def _whitespace(path: Path) -> str | None:
    data = path.read_bytes()
    fixed = _TRAILING.sub(b"", data)
    if fixed == data:
        return None
    path.write_bytes(fixed)
    return f"{path}: removed trailing whitespace"


CHECKS = {"yaml": _yaml, "end-of-file": _end_of_file, "whitespace": _whitespace}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in CHECKS:
        print(f"usage: python -m tests.hygiene {{{'|'.join(CHECKS)}}} FILE...", file=sys.stderr)
        return 2
    problems = [p for p in (CHECKS[argv[0]](Path(f)) for f in argv[1:]) if p]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
