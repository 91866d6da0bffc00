"""Small text helpers shared by the readers and writers."""

from __future__ import annotations

import re

# Characters XML 1.0 forbids: C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF.
_ILLEGAL_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACES = re.compile(r"\s+")


def xml_safe(text: str) -> str:
    """``text`` without the characters that would make lxml reject a whole feed."""
    return _ILLEGAL_XML.sub("", text)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces, XML-safe, trimmed."""
    return _SPACES.sub(" ", xml_safe(text)).strip()


def excerpt(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text`` on one line, with an ellipsis if cut."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"
