"""A post's source: from the poller's front matter keys, else found in the body.

Bodies end the way the site's posts do: ``（文章来源：X）``, or a closing ``（X）`` credit, then
the original article's URL autolinked, then the site's "返回…" navigation links.  Those
trailing pieces are taken out of the body here, and put back as one canonical closing line
by ``closing_line``, so a feed never shows them twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from html import escape

from lxml import html as lxml_html

from syndicator.core.config import AttributionConfig

_SEPARATORS = re.compile(r"^[\s｜|/·•,，、\-–—]*$")
_BLOCKS = ("p", "div", "blockquote", "li", "section", "center", "h1", "h2", "h3", "h4", "h5", "h6")


@dataclass(frozen=True)
class Attribution:
    source: str | None = None
    url: str | None = None
    feed: str | None = None

    def merged_over(self, other: Attribution) -> Attribution:
        """This attribution, with what it lacks taken from ``other``."""
        return Attribution(
            source=self.source or other.source,
            url=self.url or other.url,
            feed=self.feed or other.feed,
        )

    def __bool__(self) -> bool:
        return bool(self.source or self.url)


@dataclass(frozen=True)
class _Patterns:
    sources: tuple[re.Pattern[str], ...]
    credit: re.Pattern[str]
    navigation: re.Pattern[str]


@cache
def _patterns(config: AttributionConfig) -> _Patterns:
    return _Patterns(
        sources=tuple(re.compile(p) for p in config.source_patterns),
        credit=re.compile(config.credit_pattern),
        navigation=re.compile(config.navigation_pattern),
    )


def remove_navigation(root: lxml_html.HtmlElement, config: AttributionConfig) -> None:
    """Drop the site's own navigation links ("返回首页") and the separators around them."""
    navigation = _patterns(config).navigation
    for link in list(root.iter("a")):
        if navigation.search(link.text_content()):
            block = _enclosing_block(link, root)
            link.drop_tree()
            if (
                block is not None
                and _SEPARATORS.match(block.text_content())
                and not _has_media(block)
            ):
                block.drop_tree()


def extract_attribution(root: lxml_html.HtmlElement, config: AttributionConfig) -> Attribution:
    """The source name and original URL at the end of the body, removed from it."""
    patterns = _patterns(config)
    url = _take_trailing_url(root)
    source = _take_source_line(root, patterns.sources)
    if source is None:
        credit = patterns.credit.search(root.text_content().strip())
        source = _clean_name(credit.group("source")) if credit else None
    return Attribution(source=source, url=url)


def closing_line(attribution: Attribution, config: AttributionConfig, shown: str = "") -> str:
    """The visible closing line: the source named, and the original article linked.

    ``shown`` is the text the content already shows: a source line the body keeps (inside a
    paragraph, or next to an image) is not named a second time.
    """
    parts = []
    line = config.line.format(source=attribution.source) if attribution.source else ""
    if line and line not in shown:
        parts.append(escape(line))
    if attribution.url:
        href = escape(attribution.url, quote=True)
        parts.append(f'<a href="{href}">{escape(attribution.url)}</a>')
    if not parts:
        return ""
    return f'<p class="source">{" ".join(parts)}</p>'


def _take_trailing_url(root: lxml_html.HtmlElement) -> str | None:
    """The last block if it holds nothing but one autolinked URL (or an empty ``<>``)."""
    block = _last_block(root)
    if block is None:
        return None
    text = block.text_content().strip()
    if text == "<>":
        block.drop_tree()
        return None
    links = block.findall(".//a")
    if len(links) != 1 or _has_media(block):
        return None
    href = (links[0].get("href") or "").strip()
    if (
        href.startswith(("http://", "https://"))
        and text in (href, links[0].text_content().strip())
        and text.startswith("http")
    ):
        block.drop_tree()
        return href
    return None


def _take_source_line(
    root: lxml_html.HtmlElement, patterns: tuple[re.Pattern[str], ...]
) -> str | None:
    """The name in the last ``（文章来源：X）``; its block is dropped if it holds only that."""
    for block in reversed(list(root.iter(*_BLOCKS))):
        text = block.text_content()
        for pattern in patterns:
            matches = list(pattern.finditer(text))
            if not matches:
                continue
            found = matches[-1]
            rest = text[: found.start()] + text[found.end() :]
            if not rest.strip() and not _has_media(block):
                block.drop_tree()
            return _clean_name(found.group("source"))
    return None


def _clean_name(name: str) -> str | None:
    cleaned = " ".join(name.split())
    return cleaned or None


def _last_block(root: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    for child in reversed(root):
        if not isinstance(child.tag, str):
            continue
        if child.text_content().strip() or _has_media(child):
            return child
    return None


def _enclosing_block(
    element: lxml_html.HtmlElement, root: lxml_html.HtmlElement
) -> lxml_html.HtmlElement | None:
    parent = element.getparent()
    while parent is not None and parent is not root:
        if parent.tag in _BLOCKS:
            return parent
        parent = parent.getparent()
    return None


def _has_media(element: lxml_html.HtmlElement) -> bool:
    return element.find(".//img") is not None
