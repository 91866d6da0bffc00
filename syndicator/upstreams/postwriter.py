"""Upstream entries written as posts, in the site's own post format.

The post is Markdown with the sanitized upstream HTML as one HTML block, so Jekyll (and
``build``) render it unchanged, followed by the attribution line and the original URL as an
autolink, exactly as the site's own posts end.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape, unescape
from urllib.parse import quote

import yaml

from syndicator.core.config import AttributionConfig, UpstreamConfig
from syndicator.core.sanitize import sanitize_html
from syndicator.core.slugs import feed_slug
from syndicator.core.text import one_line, xml_safe
from syndicator.upstreams.parse import UpstreamEntry

TITLE_SLUG_LENGTH = 40
ID_LENGTH = 80
# A templated name's stem, in UTF-8 bytes: file systems allow 255 bytes a name, and the
# stem leaves room for "-" and the 12-character hash a clash adds, and for ".md".
MAX_NAME_BYTES = 150
HASH_LENGTH = 12
_NAME_UNSAFE = re.compile(r"[^\w.-]+|\.{2,}")
_BLANK_LINES = re.compile(r"\n\s*\n")
_SAFE_SLUG = re.compile(r"[^\w-]+")
_PLAIN_LABEL = re.compile(r"\w[\w.()-]*")
_TAG = re.compile(r"<[^<>]*>")
_AUTOLINK_UNSAFE = re.compile(r"[\x00-\x20<>\x7f]")
# Characters YAML does not allow unescaped in a document (XML 1.0 does allow them), and
# YAML 1.1's line breaks besides LF/CR, which a quoted scalar would fold into a space.
_YAML_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class PostSource:
    """Where an entry came from, as written into its front matter."""

    upstream: UpstreamConfig
    feed_url: str


def post_file_name(entry: UpstreamEntry, date: datetime, upstream: str, template: str = "") -> str:
    """``YYYY-MM-DD-<title slug>-<hash>.md``: bounded, safe, and the same for the same entry;
    or the upstream's ``post_name`` template over ``{date}``, ``{id}``, ``{slug}``, ``{hash}``.

    The hash of the entry's identity keeps two entries with one title apart; the title
    part is only for people reading the folder.  The identity includes the upstream's name:
    two upstreams may use the same ids (or, without ids, the same link: one article in two
    categories), and each of their entries needs its own file.
    """
    digest = _digest(entry, upstream)
    title = _SAFE_SLUG.sub("", feed_slug(entry.title)[:TITLE_SLUG_LENGTH]) if entry.title else ""
    if template:
        return _templated_name(template, date, entry, title.strip("-_"), digest)
    stem = f"{title.strip('-_')}-{digest}" if title.strip("-_") else digest
    return f"{date:%Y-%m-%d}-{stem}.md"


def post_name_choices(
    entry: UpstreamEntry, date: datetime, upstream: str, template: str = ""
) -> tuple[str, ...]:
    """The names an entry's post may take, best first: the template's, the same with the
    hash added (the stem cut first, so the hash survives), then the date and the hash
    alone. Without a template there is one name, the hash in it already."""
    first = post_file_name(entry, date, upstream, template)
    if not template:
        return (first,)
    digest = _digest(entry, upstream)
    with_hash = f"{_bounded(first.removesuffix('.md'), MAX_NAME_BYTES)}-{digest}.md"
    return (first, with_hash, f"{date:%Y-%m-%d}-{digest}.md")


def free_post_name(choices: tuple[str, ...], taken: Callable[[str], bool]) -> str:
    """The first of ``choices`` not ``taken``; the last if all are (the hash-only name,
    which only this entry's identity makes)."""
    return next((name for name in choices if not taken(name)), choices[-1])


def _digest(entry: UpstreamEntry, upstream: str) -> str:
    return hashlib.sha256(f"{upstream}\0{entry.key}".encode()).hexdigest()[:HASH_LENGTH]


def _templated_name(
    template: str, date: datetime, entry: UpstreamEntry, slug: str, digest: str
) -> str:
    """The template filled with parts that are each safe in a file name (word characters,
    dots inside, hyphens) and bounded; an empty id stands as the hash."""
    item_id = _NAME_UNSAFE.sub("-", entry.guid or "").strip(".-_")[:ID_LENGTH] or digest
    name = template.format(date=f"{date:%Y-%m-%d}", id=item_id, slug=slug or digest, hash=digest)
    name = _bounded(_NAME_UNSAFE.sub("-", name).strip(".-"), MAX_NAME_BYTES)
    return f"{name}.md"


def _bounded(stem: str, limit: int) -> str:
    """``stem`` cut to at most ``limit`` UTF-8 bytes on a character boundary, without a
    trailing dot or hyphen."""
    cut = stem.encode()[:limit].decode(errors="ignore")
    return cut.rstrip(".-")


def render_post(
    entry: UpstreamEntry,
    source: PostSource,
    date: datetime,
    attribution: AttributionConfig,
    last_modified: datetime | None = None,
) -> str:
    upstream = source.upstream
    lines = [
        "---",
        "layout: post",
        f"title: {_quoted(one_line(entry.title))}",
        f"date: {_jekyll_date(date)}",
        f"categories: {_labels((upstream.category,))}",
    ]
    if upstream.tags:
        lines.append(f"tags: {_labels(upstream.tags)}")
    if entry.author:
        lines.append(f"author: {_quoted(entry.author)}")
    lines.append(f"source: {_quoted(upstream.name)}")
    if entry.link:
        lines.append(f"source_url: {_quoted(entry.link)}")
    lines.append(f"source_feed: {_quoted(source.feed_url)}")
    if entry.guid:
        # The upstream's own id only: a link or content hash standing in for a missing one
        # would become the entry's feed id, and the same link in two categories one id twice.
        lines.append(f"guid: {_quoted(entry.guid)}")
    if last_modified is not None:
        lines.append(f"last_modified_at: {_jekyll_date(last_modified)}")
    lines.append("---")
    body = _html_block(sanitize_html(xml_safe(entry.content_html), base_url=entry.link))
    line = attribution.line.format(source=upstream.name)
    parts = ["\n".join(lines), body] if body else ["\n".join(lines)]
    if line not in unescape(_TAG.sub("", body)):  # the upstream may name itself already
        parts.append(f'<p class="source">{escape(line)}</p>')
    text = "\n".join(parts) + "\n"
    if entry.link:
        text += f"\n<{_autolink_target(entry.link)}>\n"
    return text


def _autolink_target(url: str) -> str:
    """``url`` as it can stand between ``<`` and ``>``: the characters CommonMark (and
    kramdown) do not allow there percent-encoded. A ``>`` would end the autolink early and
    let the rest of the URL (``"><script>…``) reach the post as raw HTML."""
    return _AUTOLINK_UNSAFE.sub(lambda found: quote(found.group()), url)


def _html_block(html: str) -> str:
    """The HTML as one Markdown HTML block: a blank line would end the block and let
    Markdown reinterpret the rest, so blank lines are folded away."""
    return _BLANK_LINES.sub("\n", html.strip())


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one), whatever the text holds.

    JSON leaves DEL, the C1 controls and U+2028/U+2029 unescaped, and YAML refuses or folds
    them: escaped here.
    """
    quoted = json.dumps(xml_safe(text), ensure_ascii=False)
    return _YAML_UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _labels(labels: tuple[str, ...]) -> str:
    """Space-separated like the site's posts, or a quoted YAML list when a label holds a
    space or would not read back as the same string."""
    if all(_plain(label) for label in labels):
        return " ".join(labels)
    return "[" + ", ".join(_quoted(label) for label in labels) + "]"


def _plain(label: str) -> bool:
    if not _PLAIN_LABEL.fullmatch(label):
        return False
    try:
        return bool(yaml.safe_load(label) == label)
    except yaml.YAMLError:
        return False


def _jekyll_date(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")
