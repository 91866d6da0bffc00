"""Small text helpers shared by the readers and writers."""

from __future__ import annotations

import re

# Characters XML 1.0 forbids: C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF.
_ILLEGAL_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACES = re.compile(r"\s+")
# The C1 controls, U+0080 to U+009F: no text holds them. Where they appear, bytes of
# windows-1252 (curly quotes, dashes, "€") were decoded as ISO-8859-1, the label that feeds
# and servers give it; they are read as windows-1252, as browsers read ISO-8859-1.
_C1_CONTROLS = re.compile("[\x80-\x9f]")


def xml_safe(text: str) -> str:
    """``text`` without the characters that would make lxml reject a whole feed."""
    return _ILLEGAL_XML.sub("", text)


def one_line(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces, XML-safe, no C1 controls,
    trimmed: a title, a name, a label."""
    return _SPACES.sub(" ", _C1_CONTROLS.sub(_as_windows_1252, xml_safe(text))).strip()


def _as_windows_1252(control: re.Match[str]) -> str:
    """The windows-1252 character of a C1 control's byte; nothing for the five bytes
    windows-1252 leaves undefined."""
    return bytes([ord(control.group())]).decode("cp1252", errors="ignore")


def excerpt(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text`` on one line, with an ellipsis if cut."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    return flat[: limit - 1].rstrip() + "…"
