"""Bytes that are a web page, not data: what a server sends instead of the file asked for."""

from __future__ import annotations

import re
from typing import Optional

# Byte order marks a page may start with (UTF-8, UTF-16 LE/BE).
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# Markup that may come before the <html> tag: comments, <?xml ...?>, whitespace.
_PREAMBLE = re.compile(rb"\s+|<!--.*?-->|<\?xml.*?\?>", re.DOTALL)
_PAGE_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!doctype", b"<?xml", b"<!--")


def markup(head: bytes) -> Optional[str]:
    """'an HTML page' / 'an XML document' when ``head`` (a file's first bytes) is one, else None.

    UTF-16 pages are decoded first; a BOM, whitespace, comments and an XML declaration before
    the first tag are skipped. An unfinished comment or declaration at the very start is markup
    too: no CSV, JSON or binary format starts with ``<!--`` or ``<?xml``.
    """
    text = _ascii(head)
    position = 0
    while True:
        found = _PREAMBLE.match(text, position)
        if found is None or found.end() == position:
            break
        position = found.end()
    rest = text[position : position + 64].lower()
    if rest.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if (position > 0 and rest.startswith(b"<")) or rest.startswith(_PAGE_STARTS):
        return "an XML/HTML document"
    return None


def _ascii(head: bytes) -> bytes:
    """The head with a BOM removed, UTF-16 narrowed to its ASCII bytes."""
    for bom in _BOMS:
        if head.startswith(bom):
            head = head[len(bom) :]
            if bom != _BOMS[0]:
                head = head[1::2] if bom == b"\xfe\xff" else head[0::2]
            break
    return head
