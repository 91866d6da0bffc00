"""Feed slugs: deterministic, safe in a path and a URL, one per name up to case and punctuation."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_SLUG_LENGTH = 64
_SPACES = re.compile(r"[\s_]+")
_PUNCTUATION = re.compile(r"[^\w\s]+")


def feed_slug(name: str) -> str:
    """``TechWeb``, ``Techweb`` and ``Tech-Web`` share ``techweb``; CJK is kept as it is.

    Letters and digits of any script survive (casefolded, NFKC-normalised), punctuation and
    symbols are dropped, and each run of spaces becomes one hyphen.  A name with nothing
    left, or a very long one, gets a short hash so the slug stays unique and bounded.
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    slug = _SPACES.sub("-", _PUNCTUATION.sub("", folded)).strip("-")
    if not slug or len(slug) > MAX_SLUG_LENGTH:
        digest = hashlib.sha256(folded.encode()).hexdigest()[:10]
        slug = f"{slug[: MAX_SLUG_LENGTH - 11].rstrip('-')}-{digest}".lstrip("-")
    return slug
