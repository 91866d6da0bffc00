"""A post made into a feed entry: rendered, cleaned, attributed, summarised."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from html import escape

from lxml import etree
from lxml import html as lxml_html

from syndicator.core.config import Config
from syndicator.core.sanitize import http_url, sanitize_html
from syndicator.core.text import excerpt, one_line, xml_safe
from syndicator.feeds.attribution import (
    Attribution,
    closing_line,
    extract_attribution,
    remove_navigation,
)
from syndicator.site.markdown import render_markdown
from syndicator.site.posts import Post

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
    # A post can be megabytes: each copy of its body is let go once the next is made, so
    # that a build holds two at a time, not five. (``body`` is freed too when the caller
    # passed it without keeping it, as ``make_entry(post, read_body(...), config)``.)
    html = _html(post, body)
    del body
    clean = sanitize_html(xml_safe(html), base_url=post.url)
    del html
    root = _fragment(clean)
    del clean
    remove_navigation(root, config.attribution)
    found = extract_attribution(root, config.attribution)
    found = replace(found, url=http_url(found.url))
    attribution = _with_upstream_feed(_declared_attribution(post).merged_over(found), config)
    summary, title, closing = _from_text(root, post, attribution, config)
    return Entry(
        id=post.id,
        link=post.url,
        title=one_line(title),
        published=post.date,
        updated=post.updated,
        categories=tuple(dict.fromkeys((*post.categories, *post.tags))),
        content_html=xml_safe(_inner_html(root, closing)),
        summary=summary,
        attribution=attribution,
    )


def _html(post: Post, body: str) -> str:
    if post.markdown:
        return render_markdown(body)
    return _BARE_AUTOLINK.sub(r'<p><a href="\1">\1</a></p>', body)


def _from_text(
    root: lxml_html.HtmlElement, post: Post, attribution: Attribution, config: Config
) -> tuple[str, str, str]:
    """(summary, title, closing line): what is drawn from the text the content shows."""
    text = root.text_content()
    summary = excerpt(text, SUMMARY_LENGTH)
    title = post.title or excerpt(text, TITLE_FROM_SUMMARY_LENGTH) or post.path.stem
    return summary, title, closing_line(attribution, config.attribution, shown=text)


def _declared_attribution(post: Post) -> Attribution:
    """The attribution the poller wrote into the front matter; URLs that are not absolute
    http(s) URLs are left out (and the body's, if any, used instead)."""
    return Attribution(
        source=post.source, url=http_url(post.source_url), feed=http_url(post.source_feed)
    )


def _with_upstream_feed(attribution: Attribution, config: Config) -> Attribution:
    """A source without a feed of its own gets the one ``[attribution] source_feeds`` names
    for it, whether the name came from the front matter or from the body's ``（文章来源：X）``.
    The upstreams' names are not used: a new upstream never changes old posts."""
    if attribution.feed or not attribution.source:
        return attribution
    feed = dict(config.attribution.source_feeds).get(attribution.source)
    return replace(attribution, feed=feed)


def _fragment(html: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(html, create_parent="div")


def _inner_html(root: lxml_html.HtmlElement, closing: str) -> str:
    """The root's content, trimmed, then ``closing``: joined once."""
    parts = [escape(root.text, quote=False)] if root.text else []
    parts.extend(etree.tostring(child, method="html", encoding="unicode") for child in root)
    return "".join([*_stripped(parts), closing])


def _stripped(parts: list[str]) -> list[str]:
    """``parts`` whose join is ``"".join(parts).strip()``, without joining them to strip."""
    while parts and not parts[0].strip():
        parts.pop(0)
    while parts and not parts[-1].strip():
        parts.pop()
    if parts:
        parts[0] = parts[0].lstrip()
        parts[-1] = parts[-1].rstrip()
    return parts


def entry_to_json(entry: Entry) -> str:
    data = asdict(entry)
    data["published"] = entry.published.isoformat()
    data["updated"] = entry.updated.isoformat()
    return json.dumps(data, ensure_ascii=False)


def entry_from_json(text: str) -> Entry:
    data = json.loads(text)
    data["published"] = datetime.fromisoformat(data["published"])
    data["updated"] = datetime.fromisoformat(data["updated"])
    data["categories"] = tuple(data["categories"])
    data["attribution"] = Attribution(**data["attribution"])
    return Entry(**data)
