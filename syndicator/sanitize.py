"""HTML from posts and upstreams is untrusted: an allowlist sanitizer (nh3) decides what stays."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import nh3

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_URL_ATTRIBUTES = frozenset({"href", "src", "cite", "longdesc"})
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
