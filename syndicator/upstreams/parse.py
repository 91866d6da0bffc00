"""Reading upstream feeds: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 through feedparser, JSON Feed by hand.
Whatever else feedparser reads items from (a CDF channel) is taken too, as other readers do.

The body is untrusted and may be absurd (100,000 entries, a 5 MB title, invalid UTF-8): every
step here is linear in its size. Content is returned raw; sanitizing it is the caller's job.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import html
import io
import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from syndicator.core.text import one_line, xml_safe


@dataclass(frozen=True)
class UpstreamEntry:
    """One entry. ``key`` is its identity: the id, else the link, else "sha256:" and a hash of
    title and content. ``title`` is plain text on one line; ``content_html`` is the content, else
    the summary, as HTML but not sanitized. Dates are aware and keep the entry's own offset when
    its date string has one; otherwise they are UTC."""

    key: str
    guid: str | None
    link: str | None
    title: str
    content_html: str
    published: datetime | None
    updated: datetime | None
    author: str | None = None
    # A JSON or HTML upstream's mapped fields, as read: what a detail URL template is filled with.
    fields: tuple[tuple[str, str], ...] = ()
    # Why a detail request or the full text failed: the entry waits for a later poll.
    incomplete: str | None = None


@dataclass(frozen=True)
class UpstreamFeed:
    """A parsed feed: ``version`` is feedparser's ("rss20", "atom10", …, or "" for a format it
    reads without naming it) or "json10"/"json11"; ``ttl`` is the seconds between polls the
    feed asks for; ``warnings`` are what the operator may want to fix or tell the upstream."""

    title: str
    link: str | None
    version: str
    entries: tuple[UpstreamEntry, ...]
    ttl: float | None
    warnings: tuple[str, ...]
    hubs: tuple[str, ...] = ()  # WebSub hubs the document names (rel="hub")
    self_url: str | None = None  # the URL the document says it is at (rel="self")


class NotAFeedError(Exception):
    """The body is not a feed; ``str()`` names the URL and why."""


_JSON_FEED_VERSIONS = {
    "https://jsonfeed.org/version/1": "json10",
    "https://jsonfeed.org/version/1.1": "json11",
}
_BARE_JSON_FEED_VERSIONS = {"1": "json10", "1.0": "json10", "1.1": "json11"}
_STARTS_AS_JSON = re.compile(rb"(?:\xef\xbb\xbf)?\s*\{")
_HTML_MARKER = re.compile(rb"<!doctype\s+html|<html[\s>]", re.I)
# A start tag's name, or markup that comes before the root element (<?…?>, <!--…-->, <!…>).
_MARKUP = re.compile(rb"<(?:[?!][^>]*>|([A-Za-z_][\w.:-]{0,99}))")
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)")
# Sites that declare GB2312 or GBK routinely write characters only GB18030 has (a superset);
# Python's gbk codec fails on those and feedparser then falls back to windows-1252 (mojibake).
_GB_FAMILY = frozenset({"gb2312", "gbk", "cp936", "ms936", "x-gbk", "gb_2312-80", "euc-cn"})
# A word that may be a zone abbreviation: letters standing alone ("CST", not "GMT+8").
_ZONE_WORD = re.compile(r"(?<![\w+-])[A-Za-z]{2,5}(?![\w+-])")
# A bounded tag pattern: "<[^>]*>" rescans to the end for every "<" and is quadratic on "<<<<…".
_TAG = re.compile(r"<[^<>]*>")
_SY_PERIODS = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 7 * 86400,
    "monthly": 2629800,  # a twelfth of a Julian year
    "yearly": 31557600,
}


def parse_feed(
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    zone: tzinfo = UTC,
    zones: Mapping[str, str] | None = None,
) -> UpstreamFeed:
    """The feed in ``body``, fetched from ``url`` with response ``headers``.

    Relative links and ids resolve against ``url`` (never against a Content-Location header),
    so an entry's identity does not change with the server's headers.
    Dates written without an offset are read in ``zone`` (the site's time zone); a zone
    abbreviation that ``zones`` names ({"CST": "+08:00"}) is read as that offset.
    Raises NotAFeedError for an HTML page, an empty body or anything unparseable.
    """
    if not body or body.isspace():
        raise NotAFeedError(f"{url} answered with an empty body, not a feed")
    if _STARTS_AS_JSON.match(body):
        return _parse_json_feed(body, url, zone)
    offsets = {name.upper(): offset.replace(":", "") for name, offset in (zones or {}).items()}
    return _parse_xml_feed(body, url, headers, zone, offsets)


# --- RSS and Atom ----------------------------------------------------------------------------


def _parse_xml_feed(
    body: bytes, url: str, headers: Mapping[str, str], zone: tzinfo, offsets: Mapping[str, str]
) -> UpstreamFeed:
    try:
        # A file object, never bytes: given bytes that happen to name a local file, feedparser
        # opens and parses that file instead.
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=_feedparser_headers(body, url, headers),
            sanitize_html=False,
        )
    except Exception as error:
        # feedparser has crash bugs on malformed input (KeyError, ValueError, UnicodeError, …
        # from its innards); whatever it trips on, the body is not a feed it can read.
        raise NotAFeedError(
            f"{url} is not a readable feed (the parser failed: {type(error).__name__}: {error})"
        ) from error
    feed = parsed.get("feed", {})
    entries = parsed.get("entries", [])
    bozo = parsed.get("bozo_exception")
    warnings = [f"{type(bozo).__name__}: {bozo}"] if parsed.get("bozo") and bozo else []
    version = parsed.get("version") or ""
    if not version:
        # A format feedparser reads without naming it (a CDF channel, a bare <channel>):
        # a feed all the same when it yields items, as other readers take it.
        _refuse_without_items(body, url, headers, entries, bozo)
        warnings.append(
            f"not RSS or Atom ({_root_described(body)}); read its {len(entries)} items all the same"
        )
    return UpstreamFeed(
        title=_plain_title(feed),
        link=absolute_link(feed.get("link"), url),
        version=version,
        entries=tuple(_xml_entry(entry, url, zone, offsets) for entry in entries),
        ttl=_ttl(feed),
        warnings=tuple(warnings),
        hubs=_xml_links(feed, "hub", url),
        self_url=next(iter(_xml_links(feed, "self", url)), None),
    )


def _xml_links(feed: Any, rel: str, url: str) -> tuple[str, ...]:
    """The absolute URLs of the feed's links of this relation (Atom ``link``, RSS
    ``atom:link``), in order, each once."""
    found = (
        absolute_link(link.get("href"), url)
        for link in feed.get("links") or []
        if isinstance(link, dict) and link.get("rel") == rel
    )
    return tuple(dict.fromkeys(href for href in found if href))


# Codecs Python has that no document is written in (a hostile upstream may declare them).
_NOT_TEXT_CODECS = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"}
)


def _feedparser_headers(body: bytes, url: str, headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers as feedparser reads them: lower-case names, a fixed base URL, an
    XML media type when the server sent none, and GB2312/GBK charsets widened to GB18030."""
    fixed = {name.lower(): value for name, value in headers.items()}
    fixed["content-location"] = url
    # Without a Content-Type feedparser takes an undeclared body for ISO-8859-1, which decodes
    # any bytes, so its encoding detector is never asked; as XML, UTF-8 is tried, then it.
    fixed.setdefault("content-type", "application/xml")
    media_type, charset = _content_type(fixed.get("content-type", ""))
    if charset is None:
        declared = _XML_ENCODING.search(body, 0, 1024)
        charset = declared.group(1).decode("ascii").lower() if declared else None
    if charset in _GB_FAMILY:
        fixed["content-type"] = f"{media_type or 'application/xml'}; charset=gb18030"
    elif charset is not None and not is_text_charset(charset):
        fixed["content-type"] = media_type or "application/xml"  # as if none were declared
    return fixed


def is_text_charset(name: str) -> bool:
    """Whether ``name`` is a codec a document can be written in: not an unknown name, nor
    one of Python's codecs that no page uses and whose decoding fails or misleads."""
    try:
        b"a".decode(name, errors="replace")  # LookupError for base64, zlib and the like
    except (LookupError, ValueError):
        return False
    return codecs.lookup(name).name not in _NOT_TEXT_CODECS


def _content_type(value: str) -> tuple[str, str | None]:
    """The media type and charset (both lower case) of a Content-Type header value."""
    media_type, *parameters = value.split(";")
    charset = None
    for parameter in parameters:
        name, _, argument = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = argument.strip().strip("\"'").lower() or None
    return media_type.strip().lower(), charset


def _refuse_without_items(
    body: bytes,
    url: str,
    headers: Mapping[str, str],
    entries: list[Mapping[str, Any]],
    error: BaseException | None,
) -> None:
    """Raise NotAFeedError, saying what the body is instead, unless it is not an HTML page
    and some of its ``entries`` have a title or a link."""
    media_type, _ = _content_type(
        next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    )
    if "html" in media_type or _HTML_MARKER.search(body, 0, 4096):
        raise NotAFeedError(
            f"{url} is an HTML page, not a feed; give the feed's own address "
            "(`syndicator add` finds it from the page)"
        )
    if any(entry.get("title") or entry.get("link") for entry in entries):
        return
    said = f"; the XML parser said {type(error).__name__}: {error}" if error else ""
    raise NotAFeedError(
        f"{url} is not an RSS, Atom or JSON feed ({_root_described(body)}, and no item with a "
        f"title or a link{said})"
    )


def _root_described(body: bytes) -> str:
    """What the body starts with, said in words: the name of its first element (past the XML
    declaration, processing instructions, comments and doctype) in its first 4 KB."""
    for found in _MARKUP.finditer(body, 0, 4096):
        if found.group(1):
            return f"its root element is <{found.group(1).decode('ascii')}>"
    return "no XML element at its start"


def _xml_entry(
    entry: dict[str, Any], base: str, zone: tzinfo, offsets: Mapping[str, str]
) -> UpstreamEntry:
    return make_entry(
        guid=entry.get("id"),
        link=absolute_link(entry.get("link"), base),
        title=_plain_title(entry),
        content_html=_xml_content(entry),
        published=_xml_date(entry, "published", zone, offsets),
        updated=_xml_date(entry, "updated", zone, offsets),
    )


def _plain_title(element: Mapping[str, Any]) -> str:
    title = element.get("title") or ""
    if "html" in (element.get("title_detail") or {}).get("type", ""):
        title = html.unescape(_TAG.sub("", title))
    return one_line(title)


def _xml_content(entry: Mapping[str, Any]) -> str:
    for content in entry.get("content") or ():
        if content.get("value"):
            return _as_html(content["value"], content.get("type", ""))
    summary = entry.get("summary") or ""
    return _as_html(summary, (entry.get("summary_detail") or {}).get("type", ""))


def _as_html(value: str, media_type: str) -> str:
    return html.escape(value, quote=False) if media_type == "text/plain" else value


def _xml_date(
    entry: dict[str, Any], field: str, zone: tzinfo, offsets: Mapping[str, str]
) -> datetime | None:
    """The date with its own offset when the raw string has one (a zone abbreviation in
    ``offsets`` read as that offset), in ``zone`` when it has none, else (a format only
    feedparser reads) feedparser's UTC reading.

    Read past FeedParserDict's lookup, which answers for a missing ``updated`` with
    ``published`` (and a DeprecationWarning): a date the entry does not have stays None.
    """
    raw = dict.get(entry, field)
    if isinstance(raw, str) and (parsed := _aware_date(_offsets_for(raw, offsets), zone)):
        return parsed
    struct = dict.get(entry, f"{field}_parsed")
    if not isinstance(struct, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _offsets_for(text: str, offsets: Mapping[str, str]) -> str:
    """``text`` with each zone abbreviation that ``offsets`` names written as its offset
    ("Thu, 02 Jun 2022 14:05:33 CST" → "… 14:05:33 +0800"), which both date readers take."""
    if not offsets:
        return text
    return _ZONE_WORD.sub(lambda word: offsets.get(word.group().upper(), word.group()), text)


def aware_date(text: str, zone: tzinfo) -> datetime | None:
    """An RFC 3339 or RFC 822 date, in ``zone`` if it has no offset; None for anything else."""
    return _aware_date(text, zone)


def _aware_date(text: str, zone: tzinfo) -> datetime | None:
    """An RFC 3339 or RFC 822 date, in ``zone`` if it has no offset; None for anything else."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _ttl(feed: Mapping[str, Any]) -> float | None:
    """Seconds between polls the feed asks for: RSS <ttl> (minutes), else the sy: module."""
    minutes = _positive_number(feed.get("ttl"))
    if minutes is not None:
        return _finite(minutes * 60)
    period = feed.get("sy_updateperiod")
    frequency = feed.get("sy_updatefrequency")
    if period is None and frequency is None:
        return None
    # The syndication module's defaults: daily, once.
    seconds = _SY_PERIODS.get(str(period or "daily").strip().lower())
    times = _positive_number(frequency) or 1.0
    return _finite(seconds / times) if seconds else None


def _positive_number(value: object) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _finite(number: float) -> float | None:
    return number if math.isfinite(number) else None


# --- JSON Feed -------------------------------------------------------------------------------


def _parse_json_feed(body: bytes, url: str, zone: tzinfo) -> UpstreamFeed:
    warnings: list[str] = []
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        text = body.decode("utf-8-sig", errors="replace")
        warnings.append(f"invalid UTF-8 replaced: {error}")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise NotAFeedError(f"{url} is not valid JSON ({error}), so not a JSON Feed") from None
    version, version_warning = _json_feed_version(document)
    if version is None:
        raise NotAFeedError(
            f"{url} is JSON but not a JSON Feed (no https://jsonfeed.org/version/1 or /1.1 "
            "in its version)"
        )
    if version_warning:
        warnings.append(version_warning)
    items = document.get("items")
    if not isinstance(items, list):
        warnings.append("no items list")
        items = []
    entries = tuple(_json_entry(item, url, zone) for item in items if isinstance(item, dict))
    if len(entries) < len(items):
        warnings.append(f"{len(items) - len(entries)} items that are not objects skipped")
    return UpstreamFeed(
        title=one_line(_json_text(document.get("title")) or ""),
        link=absolute_link(_json_text(document.get("home_page_url")), url),
        version=version,
        entries=entries,
        ttl=None,
        warnings=tuple(warnings),
        hubs=_json_hubs(document.get("hubs"), url),
        self_url=absolute_link(_json_text(document.get("feed_url")), url),
    )


def _json_hubs(hubs: object, url: str) -> tuple[str, ...]:
    """JSON Feed 1.1 ``hubs`` of type WebSub, as absolute URLs."""
    if not isinstance(hubs, list):
        return ()
    found = (
        absolute_link(_json_text(hub.get("url")), url)
        for hub in hubs
        if isinstance(hub, dict) and str(hub.get("type", "")).lower() == "websub"
    )
    return tuple(dict.fromkeys(href for href in found if href))


def _json_feed_version(document: object) -> tuple[str | None, str | None]:
    """(``version``, a warning when the feed names it other than as the spec says);
    (None, None) for JSON that is not a JSON Feed."""
    if not isinstance(document, dict) or not isinstance(document.get("version"), str | int | float):
        return None, None
    written = str(document["version"]).strip()
    # Early feeds wrote the version URL with http: and a trailing slash.
    version = _JSON_FEED_VERSIONS.get(written.rstrip("/").replace("http://", "https://", 1))
    if version is not None:
        return version, None
    # Some generators write the bare number ("1.1"); other readers (gofeed) accept it.
    version = _BARE_JSON_FEED_VERSIONS.get(written)
    if version is None:
        return None, None
    spec_url = next(url for url, name in _JSON_FEED_VERSIONS.items() if name == version)
    return version, (
        f'its version is "{written}", not the URL JSON Feed asks for ({spec_url}); '
        "read as that version"
    )


def _json_entry(item: Mapping[str, Any], base: str, zone: tzinfo) -> UpstreamEntry:
    url = _json_text(item.get("url")) or _json_text(item.get("external_url"))
    content_html = _json_text(item.get("content_html"))
    if content_html is None:
        plain = _json_text(item.get("content_text")) or _json_text(item.get("summary")) or ""
        content_html = html.escape(plain, quote=False)
    return make_entry(
        # JSON Feed says strings; 1.0 feeds in the wild use numbers too.
        guid=_json_text(item.get("id")),
        link=absolute_link(url, base),
        title=one_line(_json_text(item.get("title")) or ""),
        content_html=content_html,
        published=_json_date(item.get("date_published"), zone),
        updated=_json_date(item.get("date_modified"), zone),
    )


def _json_text(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        return str(value).strip() or None
    return None


def _json_date(value: object, zone: tzinfo) -> datetime | None:
    """An RFC 3339 date; one without an offset is read in ``zone``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


# --- both ------------------------------------------------------------------------------------


def make_entry(
    *,
    guid: str | None,
    link: str | None,
    title: str,
    content_html: str,
    published: datetime | None,
    updated: datetime | None,
    author: str | None = None,
    fields: tuple[tuple[str, str], ...] = (),
) -> UpstreamEntry:
    """An entry from parts read by any parser: its key made, XML-forbidden characters dropped."""
    # Characters XML forbids (NUL, lone surrogates from JSON escapes) would break writing the
    # post and building the feeds later; nothing legitimate is lost by dropping them here.
    guid = xml_safe(guid).strip() if guid else None
    content_html = xml_safe(content_html)
    return UpstreamEntry(
        key=guid or link or _content_hash(title, content_html),
        guid=guid or None,
        link=link,
        title=title,
        content_html=content_html,
        published=published,
        updated=updated,
        author=one_line(xml_safe(author)) or None if author else None,
        fields=fields,
    )


def _content_hash(title: str, content_html: str) -> str:
    digest = hashlib.sha256(title.encode())
    digest.update(b"\0")
    digest.update(content_html.encode())
    return f"sha256:{digest.hexdigest()}"


def absolute_link(link: str | None, base: str) -> str | None:
    """``link`` made absolute against ``base``; None unless it is an http(s) URL."""
    if not link or not isinstance(link, str):
        return None
    try:
        absolute = urljoin(base, xml_safe(link).strip())
        scheme = urlsplit(absolute).scheme
    except ValueError:
        return None
    return absolute if scheme in ("http", "https") else None
