"""Items of a JSON or HTML upstream: their mapped fields made into entries, and the
``keep``/``block`` rules every kind of upstream applies.

A field's value arrives as text (the JSON value or the element's text); its ``remove``
pattern is applied here, then it becomes what the feed parser would have given: a one-line
title, an absolute link, an aware date, HTML content.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo

from syndicator.core.config import FieldRule, UpstreamConfig
from syndicator.core.patterns import compile_pattern
from syndicator.core.text import one_line, xml_safe
from syndicator.upstreams.parse import UpstreamEntry, absolute_link, aware_date, make_entry

# A field's value is bounded: an upstream's 5 MB "title" must not reach a post.
MAX_FIELD_CHARACTERS = 1_000_000
MAX_SHORT_FIELD_CHARACTERS = 2000
_SHORT_FIELDS = frozenset({"id", "title", "link", "date", "author", "image"})
_TAG = re.compile(r"<[^<>]*>")
# Unix times: seconds from 1973 to 2286, milliseconds over the same years.
_UNIX_SECONDS = re.compile(r"\d{9,10}(?:\.\d+)?")
_UNIX_MILLISECONDS = re.compile(r"\d{12,13}")
_COMPACT = re.compile(r"\d{14}")


def cleaned(name: str, value: str, rule: FieldRule) -> str:
    """``value`` bounded, with every match of the rule's ``remove`` pattern deleted."""
    limit = MAX_SHORT_FIELD_CHARACTERS if name in _SHORT_FIELDS else MAX_FIELD_CHARACTERS
    value = xml_safe(value[:limit])
    if rule.remove:
        value = compile_pattern(rule.remove).sub("", value)
    return value.strip()


def entry_from_fields(
    values: Mapping[str, str],
    base: str,
    upstream: UpstreamConfig,
    zone: tzinfo,
    *,
    summary_is_html: bool,
) -> UpstreamEntry:
    """The entry an item's field values make. ``content`` is HTML; ``summary`` is HTML for
    an HTML page and plain text for JSON, which carries text (a digest) more often than markup.
    """
    link = absolute_link(values.get("link"), base)
    content = values.get("content") or ""
    if not content and values.get("summary"):
        summary = values["summary"]
        content = summary if summary_is_html else _paragraphs(summary)
    image = absolute_link(values.get("image"), base)
    if image and image not in content:
        content = f'<p><img src="{html.escape(image)}" alt=""></p>' + content
    date = read_date(values.get("date"), upstream.date_format, zone)
    return make_entry(
        guid=values.get("id"),
        link=link,
        title=one_line(values.get("title") or ""),
        content_html=content,
        published=date,
        updated=None,
        author=values.get("author"),
        fields=tuple(sorted(values.items())),
    )


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, one a line."""
    return "".join(
        f"<p>{html.escape(line.strip())}</p>" for line in text.splitlines() if line.strip()
    )


def read_date(text: str | None, date_format: str, zone: tzinfo) -> datetime | None:
    """The date in ``text``: by ``date_format`` if given and it matches, else ISO 8601 or
    RFC 822, a compact ``YYYYMMDDhhmmss`` or a Unix time (10 digits: seconds, 13:
    milliseconds); written without an offset, it is read in ``zone``. A date ``date_format``
    does not match is told in the upstream's warnings (date_format_warning)."""
    if not text:
        return None
    text = text.strip()
    parsed = _formatted(text, date_format) if date_format else None
    if parsed is None:
        parsed = aware_date(text, zone) or _compact_time(text) or _unix_time(text)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def date_format_warning(values: Iterable[Mapping[str, str]], date_format: str) -> list[str]:
    """A warning when ``date_format`` does not match some items' dates: one line, with the
    first such date."""
    if not date_format:
        return []
    dates = [found["date"].strip() for found in values if found.get("date")]
    unmatched = [text for text in dates if _formatted(text, date_format) is None]
    if not unmatched:
        return []
    return [
        f'date_format = "{date_format}" does not match the date of {len(unmatched)} of '
        f"{len(dates)} items, such as {unmatched[0][:80]!r}; they are read as ISO 8601, "
        "RFC 822 or a Unix time if they are one, else take the poll's time"
    ]


def _formatted(text: str, date_format: str) -> datetime | None:
    try:
        return datetime.strptime(text, date_format)
    except ValueError:
        return None


def _compact_time(text: str) -> datetime | None:
    """``YYYYMMDDhhmmss``, as many Chinese APIs write it."""
    if not _COMPACT.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return None


def _unix_time(text: str) -> datetime | None:
    """Seconds (9 or 10 digits, a fraction allowed) or milliseconds (12 or 13 digits) since
    1970: other numbers are no Unix time anyone sends."""
    if _UNIX_SECONDS.fullmatch(text):
        number = float(text)
    elif _UNIX_MILLISECONDS.fullmatch(text):
        number = int(text) / 1000
    else:
        return None
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def kept(entries: Iterable[UpstreamEntry], upstream: UpstreamConfig) -> list[UpstreamEntry]:
    """The entries the upstream's rules let through: ``keep`` (if given) must match the
    title or the summary's text, ``block`` must match neither."""
    keep = compile_pattern(upstream.keep) if upstream.keep else None
    block = compile_pattern(upstream.block) if upstream.block else None
    if keep is None and block is None:
        return list(entries)
    chosen = []
    for entry in entries:
        texts = (entry.title, html.unescape(_TAG.sub(" ", entry.content_html)))
        if keep and not any(keep.search(text) for text in texts):
            continue
        if block and any(block.search(text) for text in texts):
            continue
        chosen.append(entry)
    return chosen
