"""A post made into a feed entry: rendered, cleaned, attributed, summarised."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from html import escape

from lxml import etree
from lxml import html as lxml_html

from syndicator.attribution import (
    Attribution,
    closing_line,
    extract_attribution,
    remove_navigation,
)
from syndicator.config import Config
from syndicator.posts import Post
from syndicator.render import render_markdown
from syndicator.sanitize import sanitize_html
from syndicator.text import excerpt, one_line, xml_safe

SUMMARY_LENGTH = 200
TITLE_FROM_SUMMARY_LENGTH = 60
# An autolink on a line of its own in an .html post (Markdown would have linked it).
_BARE_AUTOLINK = re.compile(r"^<(https?://[^\s<>]+)>\s*$", re.M)


@dataclass(frozen=True)
class Entry:
    id: str
    link: str
    title: str
    published: datetime
    updated: datetime
    categories: tuple[str, ...]
    content_html: str
    summary: str
    attribution: Attribution


def make_entry(post: Post, body: str, config: Config) -> Entry:
    html = (
        render_markdown(body)
        if post.markdown
        else _BARE_AUTOLINK.sub(r'<p><a href="\1">\1</a></p>', body)
    )
    root = _fragment(sanitize_html(xml_safe(html), base_url=post.url))
    remove_navigation(root, config.attribution)
    found = extract_attribution(root, config.attribution)
    attribution = _declared_attribution(post, config).merged_over(found)
    text = root.text_content()
    content = _inner_html(root) + closing_line(attribution, config.attribution)
    summary = excerpt(text, SUMMARY_LENGTH)
    title = post.title or excerpt(text, TITLE_FROM_SUMMARY_LENGTH) or post.path.stem
    return Entry(
        id=post.id,
        link=post.url,
        title=one_line(title),
        published=post.date,
        updated=post.updated,
        categories=tuple(dict.fromkeys((*post.categories, *post.tags))),
        content_html=xml_safe(content),
        summary=summary,
        attribution=attribution,
    )


def _declared_attribution(post: Post, config: Config) -> Attribution:
    """The front matter's attribution; a source named like an upstream gets that feed's URL."""
    feed = post.source_feed
    if feed is None and post.source:
        feed = next((u.url for u in config.upstreams if u.name == post.source), None)
    return Attribution(source=post.source, url=post.source_url, feed=feed)


def _fragment(html: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(html, create_parent="div")


def _inner_html(root: lxml_html.HtmlElement) -> str:
    parts = [escape(root.text, quote=False)] if root.text else []
    parts.extend(etree.tostring(child, method="html", encoding="unicode") for child in root)
    return "".join(parts).strip()
