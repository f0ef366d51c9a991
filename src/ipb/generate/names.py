"""Names for linkage's hard cases: accented names (folded to ASCII by some senders), the known forename aliases
(dbt_project/seeds/codes/forename_aliases.csv, the list linkage uses), and whether two forenames are one name."""

from __future__ import annotations

import csv
import unicodedata
from functools import cache

from ipb.generate import vocab

# Every character is in Windows-1252 (a sender may write that encoding).
ACCENTED_FEMALE = ("Zoë", "Élodie", "Chloé", "Renée", "Anaïs", "Siân", "Noémie", "Inès")
ACCENTED_MALE = ("José", "Stéphane", "Jérôme", "Zoltán", "Ángel", "Søren", "Loïc", "Joël")
ACCENTED_SURNAMES = ("Brontë", "Lefèvre", "Müller", "Gonçalves", "Núñez", "Andrés", "Björk", "Sørensen", "Ó Briain")


def fold(name: str) -> str:
    """Accents dropped as an ASCII-only system writes them (`Zoë Brontë` -> `Zoe Bronte`, `Søren` -> `Soren`)."""
    s = name.replace("Ø", "O").replace("ø", "o").replace("ß", "ss")
    return "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))


@cache
def aliases() -> frozenset[tuple[str, str]]:
    """(ALIAS, CANONICAL) pairs, upper case, from the seed linkage reads."""
    from ipb import config

    path = config.load().dbt_project_dir / "seeds" / "codes" / "forename_aliases.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return frozenset((r["alias"].strip().upper(), r["canonical"].strip().upper()) for r in csv.DictReader(fh))


@cache
def _canonical() -> dict[str, str]:
    out = {a: c for a, c in aliases()}
    for formal, nick in vocab.MALE + vocab.FEMALE:
        if nick:
            out.setdefault(nick.upper(), formal.upper())
    return out


def canonical(name: str) -> str:
    n = fold(name).upper()
    return _canonical().get(n, n)


def same_forename(a: str, b: str) -> bool:
    """One name written two ways (equal after folding, or one an alias or nickname of the other)."""
    return canonical(a) == canonical(b)


def is_known_alias(shown: str, true: str) -> bool:
    return (fold(shown).upper(), fold(true).upper()) in aliases()
