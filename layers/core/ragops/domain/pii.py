"""Personal data in text: find and mask e-mail addresses, phone numbers, US social security
numbers, credit card numbers, IBANs, IP addresses and AWS access keys.

Patterns find candidates; checksums and structure rules keep only plausible ones, which is
what keeps precision up: credit card numbers must pass the Luhn check, IBANs their ISO 7064
check digits (python-stdnum), IP addresses must parse, SSNs must avoid the ranges the SSA
never issues. Where two candidates overlap, the more specific type wins (a card number is
not also reported as a phone number). Pure functions, no I/O: used on questions, answers and
log records.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class PiiType(StrEnum):
    EMAIL_ADDRESS = "EMAIL_ADDRESS"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN_CODE = "IBAN_CODE"
    US_SSN = "US_SSN"
    AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
    AWS_SECRET_KEY = "AWS_SECRET_KEY"
    IP_ADDRESS = "IP_ADDRESS"
    PHONE_NUMBER = "PHONE_NUMBER"


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """``text[start:end]`` is personal data of ``kind``."""

    kind: PiiType
    start: int
    end: int


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_CARD = re.compile(r"(?<![\w+-])\d(?:[ -]?\d){11,18}(?![\w-])")
# Country, check digits, then the account in blocks of four (printed with or without spaces).
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?"
    r"(?![A-Za-z0-9])"
)
_SSN = re.compile(r"(?<![\d-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\d-])")
_AWS_ACCESS_KEY = re.compile(
    r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|AIDA|AROA)[A-Z0-9]{16}(?![A-Z0-9])"
)
_AWS_SECRET_KEY = re.compile(
    r"(?i)(?:aws|secret)[\w .-]{0,24}?(?:key)?[\"']?\s*[:=]\s*[\"']?"
    r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
)
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# Groups of digits with separators, optional country code, area code in parentheses and
# extension; or a bare run of 10 digits, or + and 7 to 15 (E.164's limit). Dates are not.
_PHONE = re.compile(
    r"(?<![\w+])(?!\d{4}-\d{2}-\d{2})(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
    r"\d{2,5}(?:[ .-]\d{2,8}){1,4}(?:\s?(?:x|ext\.?)\s?\d{1,6})?(?!\w|-\d)"
    r"|(?<![\w+])(?:\+\d{7,15}|\d{10})(?!\w)"
)
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _luhn_ok(digits: str) -> bool:
    from stdnum import luhn

    return 12 <= len(digits) <= 19 and luhn.is_valid(digits)


def _iban_ok(candidate: str) -> bool:
    from stdnum import iban

    return bool(iban.is_valid(candidate.upper()))


def _ssn_ok(match: re.Match[str]) -> bool:
    area, group, serial = match.group(1), match.group(3), match.group(4)
    never_issued = area in ("000", "666") or area.startswith("9")
    return not (never_issued or group == "00" or serial == "0000")


def _ip_ok(candidate: str) -> bool:
    """An address that can point at someone's machine: not the loopback (127.0.0.1, ::1)
    nor the unspecified one (0.0.0.0), which name every machine alike; documentation
    telling a reader to open http://127.0.0.1:8000 keeps it."""
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def _phone_ok(candidate: str) -> bool:
    number = re.split(r"\s?(?:x|ext\.?)\s?(?=\d+$)", candidate)[0]
    digits = _digits(number)
    if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(number.strip()) or len(set(digits)) == 1:
        return False
    groups = number.split(" ")
    # Two groups apart by a space ("370 3911") are as often a house number and a postcode;
    # take them when they start with a trunk prefix (0...), a country code or an area code.
    return not (len(groups) == 2 and number[0] not in "0+(" and "-" not in number)


Finder = Callable[[str], Iterable[tuple[int, int]]]


def _matches(pattern: re.Pattern[str], accept: Callable[[re.Match[str]], bool]) -> Finder:
    def find(text: str) -> Iterable[tuple[int, int]]:
        for match in pattern.finditer(text):
            if accept(match):
                yield match.start(), match.end()

    return find


def _iban_spans(text: str) -> Iterable[tuple[int, int]]:
    """A spaced IBAN may run into a following word of four letters ("... 6119 bank"): drop
    trailing blocks until the check digits hold."""
    for match in _IBAN.finditer(text):
        candidate = match.group()
        while candidate:
            if _iban_ok(candidate):
                yield match.start(), match.start() + len(candidate)
                break
            if " " not in candidate:
                break
            candidate = candidate.rsplit(" ", 1)[0]


def _secret_spans(text: str) -> Iterable[tuple[int, int]]:
    for match in _AWS_SECRET_KEY.finditer(text):
        yield match.start("secret"), match.end("secret")


# Most specific first: an overlapping later candidate is dropped.
_FINDERS: list[tuple[PiiType, Finder]] = [
    (PiiType.EMAIL_ADDRESS, _matches(_EMAIL, lambda m: True)),
    (PiiType.AWS_ACCESS_KEY, _matches(_AWS_ACCESS_KEY, lambda m: True)),
    (PiiType.AWS_SECRET_KEY, _secret_spans),
    (PiiType.IBAN_CODE, _iban_spans),
    (PiiType.CREDIT_CARD, _matches(_CARD, lambda m: _luhn_ok(_digits(m.group())))),
    (PiiType.US_SSN, _matches(_SSN, _ssn_ok)),
    (PiiType.IP_ADDRESS, _matches(_IPV4, lambda m: _ip_ok(m.group()))),
    (PiiType.IP_ADDRESS, _matches(_IPV6, lambda m: _ip_ok(m.group()))),
    (PiiType.PHONE_NUMBER, _matches(_PHONE, lambda m: _phone_ok(m.group()))),
]


def find_pii(text: str, kinds: Iterable[PiiType] | None = None) -> list[PiiSpan]:
    """Non-overlapping personal-data spans in ``text``, in order of position."""
    wanted = set(kinds) if kinds is not None else set(PiiType)
    taken: list[PiiSpan] = []
    for kind, finder in _FINDERS:
        if kind not in wanted:
            continue
        for start, end in finder(text):
            if all(end <= span.start or start >= span.end for span in taken):
                taken.append(PiiSpan(kind, start, end))
    return sorted(taken, key=lambda span: span.start)


def mask_pii(text: str, kinds: Iterable[PiiType] | None = None) -> tuple[str, list[PiiSpan]]:
    """``text`` with every span found replaced by ``<KIND>``, and the spans."""
    spans = find_pii(text, kinds)
    pieces: list[str] = []
    position = 0
    for span in spans:
        pieces.append(text[position : span.start])
        pieces.append(f"<{span.kind.value}>")
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), spans
