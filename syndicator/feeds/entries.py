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
    html = (
        render_markdown(body)
        if post.markdown
        else _BARE_AUTOLINK.sub(r'<p><a href="\1">\1</a></p>', body)
    )
    root = _fragment(sanitize_html(xml_safe(html), base_url=post.url))
    remove_navigation(root, config.attribution)
    found = extract_attribution(root, config.attribution)
    found = replace(found, url=http_url(found.url))
    attribution = _with_upstream_feed(_declared_attribution(post).merged_over(found), config)
    text = root.text_content()
    content = _inner_html(root) + closing_line(attribution, config.attribution, shown=text)
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


def _declared_attribution(post: Post) -> Attribution:
    """The attribution the poller wrote into the front matter; URLs that are not absolute
    http(s) URLs are left out (and the body's, if any, used instead)."""
    return Attribution(
        source=post.source, url=http_url(post.source_url), feed=http_url(post.source_feed)
    )


def _with_upstream_feed(attribution: Attribution, config: Config) -> Attribution:
    """A source named like a configured upstream gets that upstream's feed URL, whether the
    name came from the front matter or from the body's ``（文章来源：X）``."""
    if attribution.feed or not attribution.source:
        return attribution
    feed = next((u.url for u in config.upstreams if u.name == attribution.source), None)
    return replace(attribution, feed=feed)


def _fragment(html: str) -> lxml_html.HtmlElement:
    return lxml_html.fragment_fromstring(html, create_parent="div")


def _inner_html(root: lxml_html.HtmlElement) -> str:
    parts = [escape(root.text, quote=False)] if root.text else []
    parts.extend(etree.tostring(child, method="html", encoding="unicode") for child in root)
    return "".join(parts).strip()


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
