"""What each new item costs beyond the list: its detail request (``[upstreams.detail]``) and
its full text (``full_text = true``), fetched through the same guarded Fetcher as the list,
one request at a time per host with ``[polling] per_host_delay`` between them, and, for
article pages, only where the site's robots.txt allows.

An item whose request fails (or whose page yields no article) comes back ``incomplete``,
with the reason; the importer lets it wait for a later poll a bounded number of times.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import tzinfo
from urllib.parse import quote, urlsplit
from urllib.robotparser import RobotFileParser

import lxml.html

from syndicator.core.config import UpstreamConfig
from syndicator.upstreams.fetch import Fetcher, FetchError, FetchResult
from syndicator.upstreams.fulltext import extract_article
from syndicator.upstreams.html_source import html_values, inner_html, page_base, parse_page
from syndicator.upstreams.items import entry_from_fields
from syndicator.upstreams.json_source import document_excerpt, json_values, read_json
from syndicator.upstreams.parse import NotAFeedError, UpstreamEntry, absolute_link
from syndicator.upstreams.politeness import host_of

log = logging.getLogger(__name__)
# RFC 9309 (2.5): a crawler may stop reading robots.txt after at least 500 KiB.
ROBOTS_MAX_BYTES = 500 * 1024
_WHOLE_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# The fields that hold a URL, and those that hold HTML whose links are relative to the
# answer they came from.
_URL_FIELDS = ("link", "image")
_HTML_FIELDS = ("summary", "content")


def enrich_entries(
    entries: Iterable[UpstreamEntry],
    upstream: UpstreamConfig,
    fetcher: Fetcher,
    zone: tzinfo,
    wanted: set[str],
) -> list[UpstreamEntry]:
    """The entries, those whose key is in ``wanted`` with their detail and full text."""
    robots = RobotsRules(fetcher)
    return [
        _enriched(entry, upstream, fetcher, zone, robots) if entry.key in wanted else entry
        for entry in entries
    ]


def _enriched(
    entry: UpstreamEntry,
    upstream: UpstreamConfig,
    fetcher: Fetcher,
    zone: tzinfo,
    robots: RobotsRules,
) -> UpstreamEntry:
    """One entry with its detail and full text. Whatever goes wrong (a bug, a page no
    extractor expected) stays this item's: it waits as a failed fetch would, and the
    upstream's other items go on."""
    try:
        if upstream.detail is not None:
            entry = with_detail(entry, upstream, fetcher, zone)
        if upstream.full_text and entry.incomplete is None:
            entry = with_full_text(entry, upstream, fetcher, robots)
    except Exception as error:
        log.exception(
            "%s: %s: its detail or full text failed unexpectedly", upstream.name, entry.link
        )
        return replace(entry, incomplete=f"an unexpected error ({type(error).__name__}: {error})")
    return entry


def detail_url(entry: UpstreamEntry, upstream: UpstreamConfig) -> str | None:
    """The detail template filled with the item's fields, each percent-encoded; a template
    that is one placeholder alone (``"{link}"``) takes the field as a URL, made absolute
    against the list's page. None when the item lacks a field or the result is not an
    http(s) URL."""
    assert upstream.detail is not None
    fields = dict(entry.fields)
    if whole := _WHOLE_PLACEHOLDER.fullmatch(upstream.detail.url):
        return absolute_link(fields.get(whole.group(1)), upstream.url)
    values = {name: quote(value, safe="") for name, value in fields.items()}
    try:
        url = upstream.detail.url.format_map(values)
    except (KeyError, ValueError, IndexError):
        return None
    return absolute_link(url, upstream.url)


def with_detail(
    entry: UpstreamEntry, upstream: UpstreamConfig, fetcher: Fetcher, zone: tzinfo
) -> UpstreamEntry:
    """The entry with the detail answer's fields over its own; ``incomplete`` if that failed."""
    assert upstream.detail is not None
    url = detail_url(entry, upstream)
    if url is None:
        return replace(entry, incomplete=f"its detail URL ({upstream.detail.url}) cannot be made")
    result, problem = _get(fetcher, url)
    if result is None:
        return replace(entry, incomplete=f"its detail request failed: {problem}")
    rules = dict(upstream.detail.fields)
    try:
        if upstream.kind == "json":
            document: object = read_json(result.body, url)
            values = json_values(document, rules, url)
            base = result.url
        else:
            page = parse_page(result.body, url, result.headers)
            document = page.text_content()
            values = html_values(page, rules)
            base = page_base(page, result.url)
    except NotAFeedError as error:
        return replace(entry, incomplete=f"its detail answer is unreadable: {error}")
    if rules and not values:
        said = ", ".join(f'{name} = "{rule.source}"' for name, rule in rules.items())
        return replace(
            entry,
            incomplete=f"detail.{said} matched nothing in {url}, which starts: "
            f"{document_excerpt(document)}",
        )
    merged = dict(entry.fields) | _resolved(values, base)
    fresh = entry_from_fields(
        merged, upstream.url, upstream, zone, summary_is_html=upstream.kind == "html"
    )
    # The item's identity stays the list's, whatever the detail says.
    return replace(fresh, key=entry.key, guid=entry.guid)


def _resolved(values: dict[str, str], base: str) -> dict[str, str]:
    """The detail answer's values with their links made absolute against that answer, not
    against the list (where the rest of the item's fields are resolved)."""
    resolved = dict(values)
    for name in _URL_FIELDS:
        if name in resolved:
            link = absolute_link(resolved[name], base)
            if link:
                resolved[name] = link
            else:
                del resolved[name]
    for name in _HTML_FIELDS:
        if resolved.get(name):
            fragment = lxml.html.fragment_fromstring(resolved[name], create_parent="div")
            fragment.make_links_absolute(base, resolve_base_href=False)
            resolved[name] = inner_html(fragment)
    return resolved


def with_full_text(
    entry: UpstreamEntry, upstream: UpstreamConfig, fetcher: Fetcher, robots: RobotsRules
) -> UpstreamEntry:
    """The entry with its article's text as content; ``incomplete`` if the page failed or
    yielded nothing. An entry without a link, or one robots.txt forbids, keeps its summary."""
    if not entry.link:
        return entry
    allowed, unreadable = robots.verdict(entry.link) if upstream.respect_robots else (True, None)
    if unreadable:
        return replace(entry, incomplete=f"its site's robots.txt cannot be read: {unreadable}")
    if not allowed:
        log.info(
            "%s: %s: robots.txt forbids fetching it; the post keeps the summary "
            "(respect_robots = false fetches it all the same)",
            upstream.name,
            entry.link,
        )
        return entry
    result, problem = _get(fetcher, entry.link)
    if result is None:
        return replace(entry, incomplete=f"its page failed: {problem}")
    article = extract_article(result.body, result.url, result.headers, upstream.content_selector)
    if article is None:
        how = (
            f'content_selector = "{upstream.content_selector}" matched nothing'
            if upstream.content_selector
            else "no article text was found"
        )
        return replace(entry, incomplete=f"its page {entry.link} yielded nothing ({how})")
    return replace(entry, content_html=article)


def _get(fetcher: Fetcher, url: str) -> tuple[FetchResult | None, str]:
    """A 200 answer, or None and why not."""
    try:
        result = fetcher.fetch_politely(url)
    except FetchError as error:
        return None, str(error)
    if result.status != 200:
        return None, f"{url} answered HTTP {result.status}"
    return result, ""


class RobotsRules:
    """Each site's robots.txt for one poll, read as RFC 9309 says: no file (4xx) allows
    everything; an unreachable one (5xx, no answer) allows nothing for now, so the item waits
    for a later poll. Read ones are kept across polls by the Fetcher (a day at most); only
    the first ROBOTS_MAX_BYTES of a file are read (RFC 9309 allows a limit of 500 KiB)."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._rules: dict[str, RobotFileParser | str] = {}

    def verdict(self, url: str) -> tuple[bool, str | None]:
        """(whether ``url`` may be fetched, why the site's robots.txt could not be read)."""
        parts = urlsplit(url)
        site = f"{parts.scheme.lower()}://{host_of(url)}"
        if site not in self._rules:
            cached = self._fetcher.robots.get(site)
            robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
            self._rules[site] = cached if cached is not None else self._read(robots_url, site)
        rules = self._rules[site]
        if isinstance(rules, str):
            return False, rules
        return rules.can_fetch(self._fetcher.user_agent, url), None

    def _read(self, url: str, site: str) -> RobotFileParser | str:
        parser = RobotFileParser(url)
        try:
            result = self._fetcher.fetch_politely(url, cut_at=ROBOTS_MAX_BYTES)
        except FetchError as error:
            return str(error)
        if 400 <= result.status < 500:
            parser.parse([])  # no rules: everything allowed
        elif result.status != 200:
            return f"{url} answered HTTP {result.status}"
        else:
            parser.parse(result.body.decode("utf-8", errors="replace").splitlines())
        self._fetcher.robots.put(site, parser, result.max_age)
        return parser
