"""HTML from posts and upstreams is untrusted: an allowlist sanitizer (nh3) decides what stays."""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import nh3

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc"})
# Left as they are when a URL is made ASCII: reserved characters, and "%" (already escaped).
_URL_SAFE = "/:@!$&'()*+,;=?#[]%~-._"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_ALLOWED_TAGS = nh3.ALLOWED_TAGS - {"area", "map"}
_ALLOWED_ATTRIBUTES = {
    tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items() if tag in _ALLOWED_TAGS
}


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """``html`` with scripts, styles, event handlers, comments, frames and unsafe URLs removed.

    With ``base_url``, relative and protocol-relative URLs are made absolute against it.
    """

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        return absolute_url(value, base_url) if base_url else value

    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=set(ALLOWED_SCHEMES),
        attribute_filter=rewrite,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def absolute_url(value: str, base_url: str) -> str | None:
    """``value`` resolved against ``base_url``; None when the result is not a safe URL."""
    try:
        resolved = urljoin(base_url, value.strip())
        scheme = urlsplit(resolved).scheme
    except ValueError:
        return None
    return resolved if scheme in ALLOWED_SCHEMES else None


def http_url(value: str | None) -> str | None:
    """``value`` if it is an absolute http(s) URL, made ASCII; else None.

    Attribution URLs come from front matter (anyone's typing) and from ``.html`` bodies, and
    go into RSS ``<source url>``, Atom links and JSON Feed's ``external_url``, which want
    absolute URLs: "见原文" or ``javascript:`` must not get there, and RSS wants a host in
    IDNA and the rest percent-encoded rather than an IRI.
    """
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        netloc = parts.netloc if parts.netloc.isascii() else parts.netloc.encode("idna").decode()
    except (ValueError, UnicodeError):
        return None
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            _ascii(parts.path),
            _ascii(parts.query),
            _ascii(parts.fragment),
        )
    )


def _ascii(part: str) -> str:
    """Percent-encoded where needed; existing escapes kept, a stray "%" escaped."""
    return quote(_STRAY_PERCENT.sub("%25", part), safe=_URL_SAFE)
