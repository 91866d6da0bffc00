"""Jekyll's permalinks and post ids, so links and ids match the site's own pages.

The id is exactly what jekyll-feed writes (``post.id | absolute_url``): the permalink's folder
plus the post's slug, so a site moving from jekyll-feed shows its subscribers no duplicates.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from datetime import datetime
from urllib.parse import quote, urlsplit

# Jekyll's Utils.slugify keeps letters, marks and decimal digits (``\p{L}\p{M}\p{Nd}``); the
# "pretty" mode keeps these punctuation marks too, the underscore among them.  Python's ``\w``
# is not that set (it drops combining marks, keeps "½" and "²"), so characters are classified
# by their Unicode category instead.
_PRETTY_PUNCTUATION = frozenset("._~!$&'()+,;=@")
# Characters Jekyll's URL.escape_path leaves alone (RFC 3986 pchar and "/").
_PLAIN_PATH = re.compile(r"[a-zA-Z0-9./-]*")
_PATH_SAFE = "/-._~!$&'()*+,;=:@"
_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_IRI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:.")
# Characters RFC 3987 never allows unescaped in an IRI.
_IRI_FORBIDDEN = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})')
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_FILENAME_DATE = re.compile(r"^(\d{2,4}-\d{1,2}-\d{1,2})-(.*)$")


def filename_parts(stem: str) -> tuple[str | None, str]:
    """(the date prefix or None, the slug) of a post's file name without its extension."""
    match = _FILENAME_DATE.match(stem)
    if match:
        return match.group(1), match.group(2)
    return None, stem


def slugify_pretty(text: str) -> str:
    """Jekyll's ``slugify(mode: "pretty", cased: true)``, used for ``:title``."""
    return _slugify(text, _PRETTY_PUNCTUATION)


def slugify_default(text: str) -> str:
    """Jekyll's ``slugify(mode: "default")``, used for ``:slug``: downcased."""
    return _slugify(text, frozenset()).lower()


def _slugify(text: str, punctuation: frozenset[str]) -> str:
    """Each run of characters Jekyll does not keep becomes one hyphen; none at either end."""
    if text.isascii() and text.isalnum():
        return text  # the common case (202112082206885192, NW2022…): nothing to change
    kept = "".join(char if _kept(char, punctuation) else "-" for char in text)
    return re.sub(r"-{2,}", "-", kept).strip("-")


def _kept(char: str, punctuation: frozenset[str]) -> bool:
    category = unicodedata.category(char)
    return char in punctuation or category[0] in "LM" or category == "Nd"


def absolute_iri(value: str | None) -> str | None:
    """``value`` if it can be an Atom id (an absolute IRI: a scheme, no spaces or delimiters,
    a host for http/https), else None.

    Front matter ``guid``/``id`` values are often not: upstream guids such as ``12345``, or
    the numeric ``id`` WordPress imports write (which jekyll-feed ignores too).
    """
    if not value or not _IRI_SCHEME.match(value) or _IRI_FORBIDDEN.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() in ("http", "https") and not parts.hostname:
        return None
    return value


def escape_path(path: str) -> str:
    if _PLAIN_PATH.fullmatch(path):
        return path  # Jekyll's own shortcut: nothing to escape
    return quote(path, safe=_PATH_SAFE)


def escape_permalink(path: str) -> str:
    """A front matter ``permalink`` as jekyll-feed's ``absolute_url`` writes it: characters a
    URL path cannot hold (``{``, ``<``, spaces, …) percent-encoded, escapes already there
    kept, a stray ``%`` escaped."""
    if _PLAIN_PATH.fullmatch(path):
        return path
    return quote(_STRAY_PERCENT.sub("%25", path), safe=_PATH_SAFE + "%")


def post_url(
    template: str, categories: list[str], date: datetime, slug: str, output_ext: str
) -> str:
    """The post's path on the site, as Jekyll's URL class builds it."""
    template = _STYLES.get(template, template)
    # Computed only for the placeholders the template uses.
    values = {
        "year": lambda: f"{date.year:04d}",
        "month": lambda: f"{date.month:02d}",
        "i_month": lambda: str(date.month),
        "day": lambda: f"{date.day:02d}",
        "i_day": lambda: str(date.day),
        "short_year": lambda: f"{date.year % 100:02d}",
        "hour": lambda: f"{date.hour:02d}",
        "minute": lambda: f"{date.minute:02d}",
        "second": lambda: f"{date.second:02d}",
        "y_day": lambda: date.strftime("%j"),
        "title": lambda: slugify_pretty(slug) or slug,
        "slug": lambda: slugify_default(slug) or slug,
        "categories": lambda: "/".join(dict.fromkeys(c.lower() for c in categories)),
        "output_ext": lambda: output_ext,
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return escape_path(values[name]()) if name in values else match.group(0)

    url = _PLACEHOLDER.sub(substitute, template)
    url = re.sub(r"/{2,}", "/", url)
    return url if url.startswith("/") else "/" + url


def post_id(url: str, slug: str) -> str:
    """Jekyll's ``Document#id``: ``File.join(File.dirname(url), slug)``."""
    folder = posixpath.dirname(url.rstrip("/")) or "/"
    return posixpath.join(folder, escape_path(slug))
