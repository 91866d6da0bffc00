"""The regular expressions of upstream rules (``remove``, ``keep``, ``block``), run by RE2.

They run over text an upstream controls (up to a megabyte a field), where Python's
backtracking ``re`` can take minutes or years on a pattern such as ``\\s+$`` or
``^(a|aa)+$``; RE2 takes time linear in the text. RE2 has no lookaround and no
backreferences (such a pattern is refused when the config is read), and its ``\\s``, ``\\w``,
``\\d`` are ASCII: they are rewritten here to the Unicode classes Python's ``re`` means by
them, so that ``\\s`` still matches the ideographic space (U+3000) and ``\\w`` a CJK
character. ``\\b`` stays ASCII, and ``$`` matches only at the very end.
"""

from __future__ import annotations

from functools import lru_cache

import re2

# What Python's re means by each shorthand on str, in RE2's syntax: outside a class, and
# inside one (where \S and \W have no such spelling).
_SPACE = r"\s\p{Z}\x{0b}\x{1c}-\x{1f}\x{85}"
_WORD = r"\p{L}\p{N}_"
_OUTSIDE = {
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
    "d": r"\p{Nd}",
    "D": r"\P{Nd}",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
}
_INSIDE = {"s": _SPACE, "d": r"\p{Nd}", "D": r"\P{Nd}", "w": _WORD}


class PatternError(ValueError):
    """A pattern RE2 cannot run, and why."""


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re2._Regexp:
    """``pattern`` compiled for RE2 with Unicode shorthands; PatternError if it cannot be."""
    options = re2.Options()
    options.log_errors = False  # the error is raised, not printed to stderr too
    try:
        return re2.compile(_unicode_shorthands(pattern), options=options)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        text = reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
        raise PatternError(
            f"{text} (patterns run on RE2: no lookaround such as (?=…) or (?<=…), "
            "no backreferences such as \\1)"
        ) from None


def _unicode_shorthands(pattern: str) -> str:
    """``pattern`` with ``\\s \\S \\d \\D \\w \\W`` spelled as Unicode classes."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            if in_class and letter in "SW":
                raise PatternError(f"\\{letter} inside [...] is not supported: write [^...]")
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(letter, char + letter))
            i += 2
            continue
        out.append(char)
        if char == "[" and not in_class:
            in_class = True
            # A "]" right after "[" or "[^" is a literal, not the class's end.
            for opening in ("^", "]"):
                if pattern.startswith(opening, i + 1):
                    out.append(opening)
                    i += 1
        elif char == "]" and in_class:
            in_class = False
        i += 1
    return "".join(out)
