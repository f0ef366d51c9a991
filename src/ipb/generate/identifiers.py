"""NHS number (mod 11) and UPN (DfE modulus 23) check characters, and validators that agree with the SQL ones
in src/ipb/sql/util.sql (util.is_valid_nhs_number, util.is_valid_upn). Pure Python: the loader imports these."""

from __future__ import annotations

import re

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters: no I, O, S
_NHS = re.compile(r"[0-9]{10}")  # used with fullmatch: "$" would let a final newline through
_UPN = re.compile(r"[A-Z][0-9]{12}")
# Normalised UK postcode: outward (A9, A99, AA9, AA99, A9A, AA9A) + space + inward (9AA, no C I K M O V).
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}$")


def nhs_check_digit(first9: str) -> int | None:
    """Check digit for the first nine digits, or None when the remainder makes 10 (no valid number exists)."""
    total = sum(int(d) * w for d, w in zip(first9, range(10, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return None if check == 10 else check


def is_valid_nhs_number(value: str | None) -> bool:
    """10 digits (spaces tolerated, as the loader strips them) with a valid mod-11 check digit."""
    if value is None:
        return False
    v = value.replace(" ", "")
    if not _NHS.fullmatch(v):
        return False
    check = nhs_check_digit(v[:9])
    return check is not None and check == int(v[9])


def upn_check_letter(last12: str) -> str:
    """DfE modulus 23: characters 2-13 weighted 2..13, sum mod 23 indexes UPN_LETTERS (a letter, as in a
    temporary UPN, counts as its index)."""
    total = sum((int(ch) if ch.isdigit() else UPN_LETTERS.index(ch)) * w
                for ch, w in zip(last12, range(2, 14), strict=True))
    return UPN_LETTERS[total % 23]


def is_valid_upn(value: str | None) -> bool:
    """A check letter then 12 digits, the letter matching the DfE modulus-23 algorithm. Exactly what
    util.is_valid_upn accepts (no trimming; temporary UPNs with a final letter are not accepted there either)."""
    if value is None or not _UPN.fullmatch(value):
        return False
    return upn_check_letter(value[1:]) == value[0]


def make_nhs_number(first9: str) -> str | None:
    check = nhs_check_digit(first9)
    return None if check is None else first9 + str(check)


def make_upn(digits12: str) -> str:
    return upn_check_letter(digits12) + digits12


def is_valid_uln(value: str | None) -> bool:
    """The contract only asks for 10 digits."""
    return value is not None and len(value) == 10 and value.isascii() and value.isdigit()


def normalise_postcode(value: str | None) -> str | None:
    """Upper case, inner spaces removed, one space before the 3-character inward code."""
    if value is None:
        return None
    s = "".join(value.split()).upper()
    if len(s) < 5:
        return s or None
    return f"{s[:-3]} {s[-3:]}"


def is_valid_postcode(value: str | None) -> bool:
    """UK postcode format after normalisation (case and spacing are not errors)."""
    norm = normalise_postcode(value)
    return norm is not None and POSTCODE_RE.match(norm) is not None
