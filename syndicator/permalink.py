"""Jekyll's permalinks and post ids, so links and ids match the site's own pages.

The id is exactly what jekyll-feed writes (``post.id | absolute_url``): the permalink's folder
plus the post's slug, so a site moving from jekyll-feed shows its subscribers no duplicates.
"""

from __future__ import annotations

import posixpath
import re
from datetime import datetime
from urllib.parse import quote

# Jekyll's Utils.slugify "pretty" mode: keep letters, marks, digits and these punctuation marks.
_PRETTY_UNSAFE = re.compile(r"(?:[^\w._~!$&'()+,;=@]|_)+")
_DEFAULT_UNSAFE = re.compile(r"(?:\W|_)+")
# Characters Jekyll's URL.escape_path leaves alone (RFC 3986 pchar and "/").
_PATH_SAFE = "/-._~!$&'()*+,;=:@"
_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_FILENAME_DATE = re.compile(r"^(\d{2,4}-\d{1,2}-\d{1,2})-(.*)$")


def filename_parts(stem: str) -> tuple[str | None, str]:
    """(the date prefix or None, the slug) of a post's file name without its extension."""
    match = _FILENAME_DATE.match(stem)
    if match:
        return match.group(1), match.group(2)
    return None, stem


def slugify_pretty(text: str) -> str:
    """Jekyll's ``slugify(mode: "pretty", cased: true)``, used for ``:title``."""
    return _PRETTY_UNSAFE.sub("-", text).strip("-")


def escape_path(path: str) -> str:
    return quote(path, safe=_PATH_SAFE)


def post_url(
    template: str, categories: list[str], date: datetime, slug: str, output_ext: str
) -> str:
    """The post's path on the site, as Jekyll's URL class builds it."""
    template = _STYLES.get(template, template)
    values = {
        "year": f"{date.year:04d}",
        "month": f"{date.month:02d}",
        "i_month": str(date.month),
        "day": f"{date.day:02d}",
        "i_day": str(date.day),
        "short_year": f"{date.year % 100:02d}",
        "hour": f"{date.hour:02d}",
        "minute": f"{date.minute:02d}",
        "second": f"{date.second:02d}",
        "y_day": date.strftime("%j"),
        "title": slugify_pretty(slug) or slug,
        "slug": _DEFAULT_UNSAFE.sub("-", slug).strip("-").lower() or slug,
        "categories": "/".join(dict.fromkeys(c.lower() for c in categories)),
        "output_ext": output_ext,
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return escape_path(values[name]) if name in values else match.group(0)

    url = _PLACEHOLDER.sub(substitute, template)
    url = re.sub(r"/{2,}", "/", url)
    return url if url.startswith("/") else "/" + url


def post_id(url: str, slug: str) -> str:
    """Jekyll's ``Document#id``: ``File.join(File.dirname(url), slug)``."""
    folder = posixpath.dirname(url.rstrip("/")) or "/"
    return posixpath.join(folder, escape_path(slug))
