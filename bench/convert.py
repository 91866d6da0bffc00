"""Turn a generated syndicator site into a Pelican project and a Hugo site with the same posts.

Usage::

    python bench/convert.py pelican SITE OUT     # OUT/content/*.md + OUT/pelicanconf.py
    python bench/convert.py hugo SITE OUT        # OUT/content/posts/*.md + OUT/hugo.toml + layouts

``SITE`` is a folder written by ``bench/generate_site.py`` (its ``_posts/`` and, if present,
``old_post/``).  Every post keeps its title, date, categories, tags and its body byte for
byte; only the front matter's syntax changes where the tool needs it:

* **Pelican** reads Markdown metadata (``Title:``, ``Date:``, ``Category:``, ``Tags:``), not
  YAML, so the same values are written that way.  Pelican has one category per article: it
  gets the ``categories`` string whole (Jekyll, and so syndicator, splits it on spaces; 3 of
  the 30 generated categories have spaces).  The settings turn on only ``FEED_ALL_ATOM``,
  ``CATEGORY_FEED_ATOM`` and ``CATEGORY_FEED_RSS`` (50 items, full content), and turn off
  every page, index, archive, direct template, static file, pagination and cache.
* **Hugo** reads the YAML front matter; ``categories`` and ``tags`` are written as the lists
  Jekyll makes of them (split on ASCII whitespace), so the category feeds are the same set as
  syndicator's.  The site has a ``categories`` taxonomy only; the home page (the site feed)
  and each category term have two outputs, RSS and Atom, from a minimal layout (50 items,
  full content); every other kind is disabled, and pages get a link (``build.render = "link"``) but are
  never rendered on their own.
  Goldmark's ``unsafe`` renderer passes the HTML bodies through, as syndicator's cmark does.

The converters skip a file that is already up to date (same size and newer), so a second
conversion of an unchanged site is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SITE_URL = "https://bench.example.com"
SITE_TITLE = "Bench site"
FEED_ITEMS = 50
_RUBY_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")

PELICAN_CONF = """\
# Written by bench/convert.py: feeds only (site Atom, category RSS and Atom), nothing else.
AUTHOR = "bench"
SITENAME = {title!r}
SITEURL = {url!r}
FEED_DOMAIN = SITEURL
PATH = "content"
ARTICLE_PATHS = [""]
PAGE_PATHS = []
STATIC_PATHS = []
THEME_STATIC_PATHS = []
TIMEZONE = "Asia/Shanghai"
DEFAULT_LANG = "zh"
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
SLUGIFY_SOURCE = "basename"
PLUGINS = []

FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = None
CATEGORY_FEED_ATOM = "feeds/categories/{{slug}}.atom.xml"
CATEGORY_FEED_RSS = "feeds/categories/{{slug}}.rss.xml"
TAG_FEED_ATOM = None
TAG_FEED_RSS = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None
FEED_MAX_ITEMS = {items}
RSS_FEED_SUMMARY_ONLY = False

DIRECT_TEMPLATES = []
PAGINATED_TEMPLATES = {{}}
DEFAULT_PAGINATION = False
ARTICLE_SAVE_AS = ""
ARTICLE_LANG_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_LANG_SAVE_AS = ""
PAGE_SAVE_AS = ""
PAGE_LANG_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DRAFT_PAGE_LANG_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
TAG_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
TAGS_SAVE_AS = ""
INDEX_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""

CACHE_CONTENT = False
LOAD_CONTENT_CACHE = False
DELETE_OUTPUT_DIRECTORY = False
OUTPUT_SOURCES = False
RELATIVE_URLS = False
"""

HUGO_CONFIG = """\
# Written by bench/convert.py: the site feed and one feed per category, RSS and Atom only.
baseURL = "{url}/"
title = "{title}"
locale = "zh-cn"
disableKinds = ["section", "taxonomy", "sitemap", "robotsTXT", "404"]
enableRobotsTXT = false

[taxonomies]
category = "categories"

[outputs]
home = ["rss", "atom"]
term = ["rss", "atom"]

[mediaTypes."application/atom+xml"]
suffixes = ["xml"]

[outputFormats.atom]
mediaType = "application/atom+xml"
baseName = "atom"
isPlainText = false
rel = "alternate"

[services.rss]
limit = {items}

[markup.goldmark.renderer]
unsafe = true

[[cascade]]
[cascade.build]
render = "link"
list = "always"
[cascade.target]
kind = "page"
"""

HUGO_RSS = """\
{{- $pages := .RegularPages -}}
{{- if .IsHome }}{{ $pages = .Site.RegularPages }}{{ end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{{ if .IsHome }}{{ site.Title }}{{ else }}{{ site.Title }}: {{ .Title }}{{ end }}</title>
<link>{{ .Permalink }}</link>
<description>{{ site.Title }}</description>
<language>{{ site.Language.Locale }}</language>
{{- with $pages }}<lastBuildDate>{{ (index . 0).Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>{{ end }}
{{- with .OutputFormats.Get "rss" }}
<atom:link href="{{ .Permalink }}" rel="self" type="{{ .MediaType.Type }}"/>
{{- end }}
{{- range first {items} $pages }}
<item>
<title>{{ .Title }}</title>
<link>{{ .Permalink }}</link>
<guid>{{ .Permalink }}</guid>
<pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
{{- range .Params.categories }}
<category>{{ . }}</category>
{{- end }}
<description>{{ .Content | transform.XMLEscape | safeHTML }}</description>
</item>
{{- end }}
</channel>
</rss>
"""

HUGO_ATOM = """\
{{- $pages := .RegularPages -}}
{{- if .IsHome }}{{ $pages = .Site.RegularPages }}{{ end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\"?>" | safeHTML }}
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{{ site.Language.Locale }}">
<title>{{ if .IsHome }}{{ site.Title }}{{ else }}{{ site.Title }}: {{ .Title }}{{ end }}</title>
<id>{{ .Permalink }}</id>
<link href="{{ .Permalink }}"/>
{{- with .OutputFormats.Get "atom" }}
<link href="{{ .Permalink }}" rel="self"/>
{{- end }}
{{- with $pages }}<updated>{{ (index . 0).Lastmod.Format "2006-01-02T15:04:05-07:00" | safeHTML }}</updated>{{ end }}
{{- range first {items} $pages }}
<entry>
<title>{{ .Title }}</title>
<link href="{{ .Permalink }}" rel="alternate"/>
<id>{{ .Permalink }}</id>
<published>{{ .Date.Format "2006-01-02T15:04:05-07:00" | safeHTML }}</published>
<updated>{{ .Lastmod.Format "2006-01-02T15:04:05-07:00" | safeHTML }}</updated>
{{- range .Params.categories }}
<category term="{{ . }}"/>
{{- end }}
<content type="html">{{ .Content | transform.XMLEscape | safeHTML }}</content>
</entry>
{{- end }}
</feed>
"""


@dataclass(frozen=True)
class SourcePost:
    """One generated post: its file, its front matter lines and its body (bytes as written)."""

    path: Path
    title: str
    date: str
    categories: str
    tags: str
    body: str


def jekyll_split(value: str) -> list[str]:
    """A Jekyll plural string (``categories: a b``) as the list Jekyll makes of it."""
    return [part for part in _RUBY_WHITESPACE.split(value.strip()) if part]


def read_post(path: Path) -> SourcePost:
    """Parse a file written by ``generate_site.py`` (a fixed, simple front matter)."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        raise ValueError(f"{path}: no front matter")
    front, _, body = text[4:].partition("\n---\n")
    fields: dict[str, str] = {}
    for line in front.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    title = fields.get("title", "")
    if title.startswith('"'):
        title = json.loads(title)
    return SourcePost(
        path=path,
        title=title,
        date=fields["date"],
        categories=fields.get("categories", ""),
        tags=fields.get("tags", ""),
        body=body,
    )


def site_posts(site: Path) -> Iterator[Path]:
    """The post files of a generated site, ``_posts/`` then ``old_post/``, sorted."""
    for folder in ("_posts", "old_post"):
        root = site / folder
        if root.is_dir():
            yield from sorted(root.rglob("*.md"))


def _write_if_stale(source: Path, target: Path, data: bytes) -> bool:
    try:
        stat = target.stat()
        if stat.st_size == len(data) and stat.st_mtime_ns >= source.stat().st_mtime_ns:
            return False
    except FileNotFoundError:
        pass
    target.write_bytes(data)
    return True


def _remove_others(folder: Path, keep: set[str]) -> None:
    for stale in folder.glob("*.md"):
        if stale.name not in keep:
            stale.unlink()


def pelican_text(post: SourcePost) -> str:
    """The post as a Pelican Markdown file: the same values as metadata, the same body."""
    tags = ", ".join(jekyll_split(post.tags))
    return (
        f"Title: {post.title}\n"
        f"Date: {post.date}\n"
        f"Category: {post.categories}\n"
        f"Tags: {tags}\n"
        f"Slug: {post.path.stem}\n"
        "\n" + post.body
    )


def hugo_text(post: SourcePost) -> str:
    """The post as a Hugo content file: the same YAML front matter (lists made explicit)."""
    categories = json.dumps(jekyll_split(post.categories), ensure_ascii=False)
    tags = json.dumps(jekyll_split(post.tags), ensure_ascii=False)
    return (
        "---\n"
        "layout: post\n"
        f"title: {json.dumps(post.title, ensure_ascii=False)}\n"
        f"date: {post.date}\n"
        f"categories: {categories}\n"
        f"tags: {tags}\n"
        "---\n" + post.body
    )


def to_pelican(site: Path, out: Path) -> int:
    """Write ``out/content`` and ``out/pelicanconf.py``; return the number of posts."""
    content = out / "content"
    content.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    for path in site_posts(site):
        name = path.name
        names.add(name)
        _write_if_stale(path, content / name, pelican_text(read_post(path)).encode())
    _remove_others(content, names)
    conf = PELICAN_CONF.format(title=SITE_TITLE, url=SITE_URL, items=FEED_ITEMS)
    (out / "pelicanconf.py").write_text(conf, encoding="utf-8")
    return len(names)


def to_hugo(site: Path, out: Path) -> int:
    """Write ``out/content/posts``, ``out/hugo.toml`` and ``out/layouts``; return the count."""
    content = out / "content" / "posts"
    content.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    for path in site_posts(site):
        name = path.name
        names.add(name)
        _write_if_stale(path, content / name, hugo_text(read_post(path)).encode())
    _remove_others(content, names)
    (out / "hugo.toml").write_text(
        HUGO_CONFIG.format(url=SITE_URL, title=SITE_TITLE, items=FEED_ITEMS), encoding="utf-8"
    )
    layouts = out / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (layouts / "list.rss.xml").write_text(HUGO_RSS.replace("{items}", str(FEED_ITEMS)))
    (layouts / "list.atom.xml").write_text(HUGO_ATOM.replace("{items}", str(FEED_ITEMS)))
    return len(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", choices=("pelican", "hugo"))
    parser.add_argument("site", type=Path, help="a folder written by generate_site.py")
    parser.add_argument("out", type=Path, help="the project folder to write")
    args = parser.parse_args(argv)
    convert = to_pelican if args.tool == "pelican" else to_hugo
    count = convert(args.site, args.out)
    print(f"{args.tool}: {count} posts in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main())
