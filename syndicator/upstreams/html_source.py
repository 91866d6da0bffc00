"""``kind = "html"``: a news page read through CSS selectors from the config.

``items`` selects each item; each ``[upstreams.fields]`` selector is applied within it,
``selector@attribute`` reading an attribute (``a@href``; ``@href`` alone: the item's own).
Links resolve against the page's URL (or its ``<base href>``). The page is decoded by its
declared charset (the header, then ``<meta>``), else a detector's guess; GB2312 and GBK are
read as GB18030, their superset, which such pages use.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import tzinfo

import cchardet
import lxml.etree
import lxml.html

from syndicator.core.config import FieldRule, UpstreamConfig, selector_and_attribute
from syndicator.core.text import one_line
from syndicator.upstreams.items import cleaned, date_format_warning, entry_from_fields
from syndicator.upstreams.json_source import document_excerpt
from syndicator.upstreams.parse import (
    NotAFeedError,
    UpstreamFeed,
    absolute_link,
    is_text_charset,
)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_GB_FAMILY = frozenset({"gb2312", "gbk", "cp936", "x-gbk", "gb_2312-80", "euc-cn", "hz-gb-2312"})
_HTML_FIELDS = frozenset({"summary", "content"})
# cssselect makes :nth-child and its kin (:first-of-type, :last-child, …) into XPath that
# looks at each candidate's siblings, so their cost grows with the square of the element
# count (20,000 <li>: 4 s for one selector). Over more elements than this they are refused.
MAX_ELEMENTS_FOR_STRUCTURAL = 5000
_STRUCTURAL = re.compile(r":(?:nth-|first-|last-|only-)", re.I)
# The detector reads this much: enough for any page's language, bounded in time.
_DETECT_BYTES = 256 * 1024


def decode_html(body: bytes, headers: Mapping[str, str]) -> str:
    """The page's text: its BOM, else the Content-Type charset, else its ``<meta>`` charset,
    else the detector's guess, else UTF-8; bytes that do not decode are replaced. A declared
    charset that is no text codec (``idna``, ``punycode``, ``undefined``) or not one at all
    counts as undeclared."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    declared = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", content_type, re.I)
    charset = declared.group(1) if declared else None
    if charset is None and (meta := _META_CHARSET.search(body, 0, 4096)):
        charset = meta.group(1).decode("ascii")
    if charset is not None and (text := _decoded(body, charset)) is not None:
        return text
    guess = cchardet.detect(body[:_DETECT_BYTES]).get("encoding")
    if isinstance(guess, str) and (text := _decoded(body, guess)) is not None:
        return text
    return body.decode("utf-8", errors="replace")


def _decoded(body: bytes, charset: str) -> str | None:
    """``body`` in ``charset``, bad bytes replaced; None if the name is no text codec."""
    codec = "gb18030" if charset.lower() in _GB_FAMILY else charset
    try:
        if not is_text_charset(codec):
            return None
        return body.decode(codec, errors="replace")
    except (LookupError, ValueError):  # UnicodeError: a codec without "replace"
        return None


def parse_page(body: bytes, url: str, headers: Mapping[str, str]) -> lxml.html.HtmlElement:
    """The page's tree; NotAFeedError if there is no HTML in it."""
    text = decode_html(body, headers)
    try:
        # The XML declaration would make lxml refuse a str; the text is decoded already.
        return lxml.html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*>", "", text, count=1))
    except (lxml.etree.ParserError, ValueError) as error:
        raise NotAFeedError(f"{url} is not an HTML page lxml can read ({error})") from None


def page_base(page: lxml.html.HtmlElement, url: str) -> str:
    """What relative links resolve against: the page's ``<base href>``, else its URL."""
    for base in page.iter("base"):
        if href := absolute_link(base.get("href"), url):
            return href
    return url


def parse_html_source(
    body: bytes, url: str, headers: Mapping[str, str], upstream: UpstreamConfig, zone: tzinfo
) -> UpstreamFeed:
    """The entries of a news page, as the feed parser would give them."""
    page = parse_page(body, url, headers)
    base = page_base(page, url)
    items = css_select(page, upstream.items)
    if not items:
        raise NotAFeedError(
            f'{url}: items = "{upstream.items}" matched nothing on the page, whose text '
            f"starts: {document_excerpt(page.text_content())}; fix the selector "
            f"(`syndicator preview {upstream.name}` shows the result)"
        )
    rules = dict(upstream.fields)
    values = [html_values(item, rules) for item in items]
    warnings = [
        f'fields.{name} = "{rule.source}" matched nothing in any of the {len(items)} items; '
        f"the first is: {document_excerpt(lxml.html.tostring(items[0], encoding='unicode'))}"
        for name, rule in rules.items()
        if not any(name in found for found in values)
    ]
    warnings.extend(date_format_warning(values, upstream.date_format))
    title = one_line(page.findtext(".//title") or "") or upstream.name
    return UpstreamFeed(
        title=title,
        link=url,
        version="html",
        entries=tuple(
            entry_from_fields(v, base, upstream, zone, summary_is_html=True) for v in values
        ),
        ttl=None,
        warnings=tuple(warnings),
    )


def html_values(element: lxml.html.HtmlElement, rules: Mapping[str, FieldRule]) -> dict[str, str]:
    """Each field's value within ``element``, cleaned: an attribute, the inner HTML (summary,
    content) or the text; a field its selector does not find is absent."""
    values = {}
    for name, rule in rules.items():
        text = select_value(element, rule.source, as_html=name in _HTML_FIELDS)
        if text is not None and (value := cleaned(name, text, rule)):
            values[name] = value
    return values


def select_value(element: lxml.html.HtmlElement, source: str, *, as_html: bool) -> str | None:
    selector, attribute = selector_and_attribute(source)
    found = css_select(element, selector) if selector.strip() else [element]
    if not found:
        return None
    first = found[0]
    if attribute:
        value = first.get(attribute)
        return value if isinstance(value, str) else None
    if as_html:
        return inner_html(first)
    return one_line(first.text_content())


def css_select(element: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """The elements ``selector`` matches within ``element``; NotAFeedError for a structural
    pseudo-class over more than MAX_ELEMENTS_FOR_STRUCTURAL elements."""
    if _STRUCTURAL.search(selector):
        count = sum(1 for _ in itertools.islice(element.iter(), MAX_ELEMENTS_FOR_STRUCTURAL + 1))
        if count > MAX_ELEMENTS_FOR_STRUCTURAL:
            raise NotAFeedError(
                f'"{selector}" uses a structural pseudo-class (:nth-child, :first-of-type, '
                f"…), whose cost grows with the square of the page's size, over more than "
                f"{MAX_ELEMENTS_FOR_STRUCTURAL} elements; select by class or position-free "
                "structure instead"
            )
    found: list[lxml.html.HtmlElement] = element.cssselect(selector)
    return found


def inner_html(element: lxml.html.HtmlElement) -> str:
    """The element's content as HTML, without the element's own tag."""
    parts = [element.text or ""]
    parts.extend(lxml.html.tostring(child, encoding="unicode") for child in element)
    return "".join(parts)
