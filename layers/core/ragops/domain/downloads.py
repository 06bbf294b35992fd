"""Serving a document's original bytes: the ``Content-Disposition`` of a file name, and
one byte range of a ``Range`` header (RFC 9110), as pure functions."""

from __future__ import annotations

import re
from urllib.parse import quote

INLINE_TYPES = frozenset({"application/pdf"})
"""Types shown in the browser's own page. Everything else is an attachment, so that an
uploaded HTML file can never run as a page of the API's origin."""

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(ValueError):
    """A ``Range`` none of whose bytes exist (HTTP 416)."""


def content_disposition_name(filename: str) -> str:
    """``filename="..."`` (ASCII, quotes and controls replaced) and ``filename*`` (UTF-8,
    percent-encoded, RFC 8187) for any file name."""
    name = filename.rsplit("/", 1)[-1] or "document"
    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range ``header`` asks of a ``size``-byte object, as (first, last) inclusive;
    ``None`` to send it whole (no header, several ranges, or a form this does not know,
    which RFC 9110 lets a server ignore). ``RangeNotSatisfiable`` when it starts past the
    end or asks for no bytes."""
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(f"bytes -{last} of {size}")
        return max(size - count, 0), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(f"bytes {first}-{last} of {size}")
    return start, end
