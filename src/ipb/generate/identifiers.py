"""Identifier rules shared by the generator (to make valid ones) and the loader (to check them).

Pure Python on purpose: the loader imports the validators and must not pay for numpy at import time.
"""

from __future__ import annotations

import re

UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # DfE check letters: 0..22, no I, O, S
_NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)
# Normalised UK postcode: outward (A9, A99, AA9, AA99, A9A, AA9A) + space + inward (9AA, no C I K M O V).
POSTCODE_RE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][ABD-HJLNP-UW-Z]{2}$")


def nhs_check_digit(first9: str) -> int | None:
    """Modulus-11 check digit for 9 digits; None when the remainder makes the number invalid (check 10)."""
    total = sum(int(c) * w for c, w in zip(first9, _NHS_WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def is_valid_nhs_number(value: str | None) -> bool:
    """10 digits (spaces tolerated) whose last digit is the modulus-11 check of the first nine."""
    if value is None:
        return False
    s = value.replace(" ", "")
    if len(s) != 10 or not s.isascii() or not s.isdigit():
        return False
    return nhs_check_digit(s[:9]) == int(s[9])


def upn_check_letter(last12: str) -> str:
    """DfE modulus-23 check letter: characters 2..13 weighted 2..13 (a letter in 13 counts as its index)."""
    total = 0
    for weight, ch in enumerate(last12, start=2):
        total += (int(ch) if ch.isdigit() else UPN_LETTERS.index(ch)) * weight
    return UPN_LETTERS[total % 23]


def is_valid_upn(value: str | None) -> bool:
    """13 characters: check letter, 11 digits, then a digit (permanent UPN) or a letter (temporary UPN)."""
    if value is None or len(value) != 13 or not value.isascii():
        return False
    head, body, last = value[0], value[1:12], value[12]
    if head not in UPN_LETTERS or not body.isdigit() or not (last.isdigit() or last in UPN_LETTERS):
        return False
    return upn_check_letter(value[1:]) == head


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
