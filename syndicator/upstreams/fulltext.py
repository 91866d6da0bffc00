"""An article's main text from its page: the element ``content_selector`` names, else what
trafilatura finds. Lazy images (``data-src`` and the like) get their real address; scripts,
styles, navigation and ads are left out. The result is HTML, not yet sanitized.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import lxml.html

from syndicator.upstreams.html_source import css_select, inner_html, page_base, parse_page
from syndicator.upstreams.parse import NotAFeedError, absolute_link

# Where lazy-loading scripts keep an image's address until it scrolls into view.
LAZY_SOURCES = ("data-src", "data-original", "data-lazy-src", "data-actualsrc", "data-url")
# What never belongs to an article, even inside the element the config names.
_NOT_ARTICLE = (
    "script, style, noscript, template, iframe, form, nav, aside, footer, "
    "[class~=ad], [class~=ads], [class~=advert], [class~=advertisement], [id^=ad-]"
)
# Fewer visible characters than this is no article: a consent wall, an empty shell.
MIN_TEXT_CHARACTERS = 20
_SPACE = re.compile(r"\s+")


def extract_article(
    body: bytes, url: str, headers: Mapping[str, str], content_selector: str = ""
) -> str | None:
    """The article's HTML, or None when the page yields no article (or is no page: an
    image, a PDF, binary bytes)."""
    if not _is_page(body, headers):
        return None
    try:
        page = parse_page(body, url, headers)
    except NotAFeedError:
        return None
    base = page_base(page, url)
    reveal_lazy_images(page, base)
    if content_selector:
        try:
            found = css_select(page, content_selector)
        except NotAFeedError:  # a structural selector over a huge page: nothing found
            return None
        if not found:
            return None
        article = found[0]
        for unwanted in article.cssselect(_NOT_ARTICLE):
            unwanted.drop_tree()
        html = inner_html(article)
    else:
        html = _extracted(lxml.html.tostring(page, encoding="unicode"), base) or ""
    return html if _visible_length(html) >= MIN_TEXT_CHARACTERS else None


def _is_page(body: bytes, headers: Mapping[str, str]) -> bool:
    media_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if media_type and not any(word in media_type.lower() for word in ("html", "xml", "text")):
        return False
    start = body[:1024]
    return b"\x00" not in start or start.startswith((b"\xff\xfe", b"\xfe\xff"))


def reveal_lazy_images(page: lxml.html.HtmlElement, base: str) -> None:
    """Give each lazily loaded image its real address as ``src``, absolute."""
    for image in page.iter("img"):
        lazy = next((image.get(name) for name in LAZY_SOURCES if image.get(name)), None)
        current = image.get("src") or ""
        real = absolute_link(lazy, base) if lazy and current != lazy else None
        if real:
            image.set("src", real)


def _extracted(html: str, url: str) -> str | None:
    """trafilatura's article: its precise reading (which keeps paragraphs and images apart
    and lets fewer adverts through), else its default one."""
    # Imported here: trafilatura and its dependencies cost 0.17 s and several MB, which a
    # daemon with no full-text upstream never needs.
    import trafilatura

    extracted = None
    for precise in (True, False):
        extracted = trafilatura.extract(
            html,
            url=url,
            output_format="html",
            include_images=True,
            include_links=True,
            include_tables=True,
            include_comments=False,
            with_metadata=False,
            favor_precision=precise,
        )
        if extracted:
            break
    if not extracted:
        return None
    tree = lxml.html.document_fromstring(extracted)
    body = tree.find("body")
    return inner_html(body if body is not None else tree)


def _visible_length(html: str) -> int:
    if not html.strip():
        return 0
    text = lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    return len(_SPACE.sub("", text))
