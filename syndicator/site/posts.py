"""Reading posts: Jekyll-style files with YAML front matter, in every form real sites write.

A post that cannot be used raises PostError naming the file and the reason; the caller
reports it and goes on with the rest.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from syndicator.core.config import Config
from syndicator.core.dates import parse_date
from syndicator.core.text import one_line
from syndicator.site.files import PostFile
from syndicator.site.permalink import (
    absolute_iri,
    escape_permalink,
    filename_parts,
    post_id,
    post_url,
)

MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown", ".mkd", ".mkdn", ".mdown"})
# Ruby's String#split splits on ASCII whitespace only; Python's str.split() would also split
# "财经\u3000新闻" (an ideographic space) and "\x1c"-"\x1f", giving other categories than Jekyll.
_RUBY_SPACE_CHARS = " \t\n\v\f\r"
_RUBY_WORD = re.compile(f"[^{_RUBY_SPACE_CHARS}]+")
_HANDLER = YAMLHandler()
# Limits on front matter (see _load_yaml and _too_big): far above any real post.
NESTING_SUSPECT = 256
MAX_FRONT_MATTER_DEPTH = 64
MAX_FRONT_MATTER_VALUES = 100_000
MAX_FRONT_MATTER_CHARACTERS = 64 * 1024 * 1024


class PostError(Exception):
    """A post that cannot be used: the message names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UnreadablePostError(PostError):
    """The file could not be read (permissions, an I/O error): worth trying again later."""


@dataclass(frozen=True)
class Post:
    path: Path
    id: str
    url: str
    title: str
    date: datetime
    updated: datetime
    categories: tuple[str, ...]
    tags: tuple[str, ...]
    markdown: bool
    source: str | None
    source_url: str | None
    source_feed: str | None
    # Labels past posts.max_labels that were left out (see post_labels): known when the file
    # is read, not kept in the index.
    labels_left_out: int = 0


def read_text(path: Path, max_bytes: int) -> str:
    """The file as text: UTF-8 (a BOM is dropped, since it would hide the front matter).

    Only a regular file of at most ``max_bytes`` is read; it is opened without blocking, so
    a FIFO or a device named like a post is reported with its kind instead of hanging or
    filling the memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise _open_failure(path, error) from None
    # Checked before a file object is made: a folder (a link to one) cannot become one.
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise PostError(path, f"is {_file_kind(mode)}, not a regular file; skipped")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise UnreadablePostError(path, f"cannot read: {error.strerror}") from None
    if len(data) > max_bytes:
        raise PostError(
            path,
            f"larger than posts.max_bytes ({max_bytes:,} bytes); skipped "
            "(raise [posts] max_bytes if it is a real post)",
        )
    if b"\x00" in data:
        raise PostError(path, "binary file (it holds NUL bytes); a post is UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise PostError(
            path,
            f"not UTF-8 text (bad byte 0x{data[error.start]:02x} on line {line}); save it as UTF-8",
        ) from None


def _open_failure(path: Path, error: OSError) -> PostError:
    """Why a file named like a post cannot be opened, in the operator's terms: a link that
    leads nowhere, a socket (opening one says "No such device"), or the system's reason,
    which may pass (a permission fixed): then it is read again on the next sync."""
    if error.errno == errno.ELOOP:
        return PostError(path, "is a link in a loop of links; skipped")
    try:
        if path.is_symlink() and error.errno == errno.ENOENT:
            return PostError(
                path, f"is a link to {os.readlink(path)}, which does not exist; skipped"
            )
        mode = os.stat(path).st_mode
    except OSError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        return PostError(path, f"is {_file_kind(mode)}, not a regular file; skipped")
    return UnreadablePostError(path, f"cannot read: {error.strerror}")


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def split_front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body), split and loaded by python-frontmatter's YAML handler.

    Jekyll wants the opening ``---`` on the first line; blank lines before it, which some
    editors and export tools leave, are accepted.
    """
    stripped = text.lstrip()
    blank_lines = text[: len(text) - len(stripped)].count("\n")
    if not _HANDLER.detect(stripped):
        raise PostError(path, "no front matter: a post starts with a '---' line, YAML, and '---'")
    try:
        front, body = _HANDLER.split(stripped)
    except ValueError:
        raise PostError(path, "front matter is not closed: add a '---' line after it") from None
    try:
        metadata = _load_yaml(front)
    except yaml.YAMLError as error:
        problem = _yaml_problem(error, first_line=blank_lines + 1)
        raise PostError(path, f"invalid YAML front matter: {problem}") from None
    except (ValueError, TypeError, OverflowError) as error:
        # PyYAML's constructors raise these themselves: a timestamp such as 0000-01-01 or
        # 2024-02-30 matches YAML's timestamp pattern and fails as a date.
        raise PostError(path, f"invalid value in the front matter: {error}") from None
    except RecursionError:
        raise PostError(path, "front matter nested too deeply") from None
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise PostError(path, "front matter is not a mapping of keys to values")
    if too_big := _too_big(metadata):
        raise PostError(path, too_big)
    return metadata, body


def _load_yaml(front: str) -> Any:
    """The front matter loaded; by the pure-Python loader when it could be nested deeply.

    libyaml's composer recurses in C: a front matter of 100,000 nested ``[`` crashes the
    process (SIGSEGV) where the Python loader raises RecursionError. Ordinary front matter
    has a few brackets and list items, and keeps the C loader's speed.
    """
    if front.count("[") + front.count("{") + front.count("- ") > NESTING_SUSPECT:
        return yaml.load(front, Loader=yaml.SafeLoader)
    return _HANDLER.load(front)


def _too_big(metadata: dict[str, Any]) -> str | None:
    """Why the front matter, once YAML aliases are expanded, is too big to use; else None.

    Aliases are references: ``&a [x, x]`` repeated nine levels deep loads as a few objects,
    but flattening categories or ``str()`` on a title expands it to billions of items (a
    "billion laughs"). Counted iteratively and abandoned as soon as a limit is passed.
    """
    nodes = characters = 0
    pending: list[tuple[object, int]] = [(metadata, 0)]
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if isinstance(value, str):
            characters += len(value)
        elif isinstance(value, dict):
            pending.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend((item, depth + 1) for item in value)
        if depth > MAX_FRONT_MATTER_DEPTH:
            return f"front matter nested more than {MAX_FRONT_MATTER_DEPTH} levels deep"
        if nodes > MAX_FRONT_MATTER_VALUES or characters > MAX_FRONT_MATTER_CHARACTERS:
            return (
                f"front matter too big once its YAML aliases are expanded (over "
                f"{MAX_FRONT_MATTER_VALUES} values or {MAX_FRONT_MATTER_CHARACTERS} characters)"
            )
    return None


def _yaml_problem(error: yaml.YAMLError, first_line: int) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return problem
    hint = ' (quote values that hold ": ", e.g. title: "a: b")' if "mapping" in problem else ""
    return f"{problem} on line {first_line + mark.line}{hint}"


def post_labels(
    metadata: dict[str, Any], limit: int
) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """(categories, tags, how many more were left out): ``limit`` labels at most, categories
    first. Read lazily, so a string of a million tags costs no more than the first ``limit``
    (and a count of the rest)."""
    categories, categories_left_out = _first_distinct(jekyll_categories(metadata), limit)
    tags, tags_left_out = _first_distinct(
        jekyll_list(metadata, "tag", "tags"), limit - len(categories)
    )
    return categories, tags, categories_left_out + tags_left_out


def _first_distinct(names: Iterator[str], limit: int) -> tuple[tuple[str, ...], int]:
    """The first ``limit`` distinct names, and how many names after them were not kept (a name
    left out twice counts twice: counting distinct ones would mean holding them all)."""
    kept: dict[str, None] = {}
    left_out = 0
    for name in names:
        if name in kept:
            continue
        if len(kept) < limit:
            kept[name] = None
        else:
            left_out += 1
    return tuple(kept), left_out


def jekyll_list(metadata: dict[str, Any], singular: str, plural: str) -> Iterator[str]:
    """Jekyll's pluralized_array_from_hash, one name at a time (repeats included): the
    singular key wins and is taken whole; a plural string is split on whitespace; lists keep
    their items."""
    values: Iterable[Any]
    if metadata.get(singular) is not None:
        values = [metadata[singular]]
    else:
        value = metadata.get(plural)
        if value is None:
            values = []
        elif isinstance(value, str):
            values = (word.group() for word in _RUBY_WORD.finditer(value))
        elif isinstance(value, list):
            values = value
        else:
            values = [value]
    names = (one_line(str(v)) for v in _flatten(values) if v is not None)
    return (name for name in names if name)


def jekyll_categories(metadata: dict[str, Any]) -> Iterator[str]:
    """Jekyll's populate_categories: unlike tags, a post with both keys has the ``categories``
    (a string split on whitespace) and then the ``category`` (taken whole)."""
    yield from jekyll_list({"categories": metadata.get("categories")}, "category", "categories")
    yield from jekyll_list(metadata, "category", "categories")


def labels_notice(post: Post, limit: int) -> str | None:
    """What to tell the operator about a post whose labels were cut to ``limit``, else None."""
    if not post.labels_left_out:
        return None
    return (
        f"{post.path}: {post.labels_left_out:,} more categories and tags than posts.max_labels "
        f"({limit:,}) were left out; the post is in the feeds of its first {limit:,} (raise "
        "[posts] max_labels to keep more)"
    )


def _flatten(values: Iterable[Any]) -> Iterator[Any]:
    for value in values:
        if isinstance(value, list):
            yield from _flatten(value)
        else:
            yield value


def optional_text(metadata: dict[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    text = one_line(str(value))
    return text or None


def load_post(file: PostFile, config: Config) -> tuple[Post, str] | None:
    """The post and its raw body, or None for a post marked ``published: false``."""
    return parse_post(file.path, read_text(file.path, config.posts.max_bytes), config)


def parse_post(path: Path, text: str, config: Config) -> tuple[Post, str] | None:
    """``load_post`` for text already read (the index hashes the same text)."""
    metadata, body = split_front_matter(path, text)
    if metadata.get("published") is False:
        return None
    return make_post(path, metadata, config), body


def make_post(path: Path, metadata: dict[str, Any], config: Config) -> Post:
    zone = config.site.timezone
    stem = path.stem
    file_date, slug = filename_parts(stem)
    raw_date = metadata.get("date")
    if raw_date is None or (isinstance(raw_date, str) and not raw_date.strip()):
        if file_date is None:
            raise PostError(
                path, "no date: give 'date:' in the front matter or name the file YYYY-MM-DD-slug"
            )
        raw_date = file_date
    try:
        date = parse_date(raw_date, zone)
        updated_value = metadata.get("last_modified_at")
        updated = parse_date(updated_value, zone) if updated_value else date
    except ValueError as error:
        raise PostError(path, str(error)) from None
    if metadata.get("slug") is not None:
        slug = str(metadata["slug"])
    categories, tags, labels_left_out = post_labels(metadata, config.posts.max_labels)
    extension = path.suffix.lower()
    markdown = extension in MARKDOWN_EXTENSIONS
    output_ext = ".html" if markdown or extension == ".html" else extension
    permalink = optional_text(metadata, "permalink")
    url = escape_permalink(permalink) if permalink else None
    url = url or post_url(config.site.permalink, list(categories), date, slug, output_ext)
    url = url if url.startswith("/") else "/" + url
    # A guid that cannot be an Atom id gives way to the id every other post gets.
    guid = absolute_iri(optional_text(metadata, "guid")) or absolute_iri(
        optional_text(metadata, "id")
    )
    return Post(
        path=path,
        id=guid or config.site.url + post_id(url, slug),
        url=config.site.url + url,
        title=optional_text(metadata, "title") or "",
        date=date,
        updated=max(updated, date),
        categories=categories,
        tags=tags,
        markdown=markdown,
        source=optional_text(metadata, "source"),
        source_url=optional_text(metadata, "source_url"),
        source_feed=optional_text(metadata, "source_feed"),
        labels_left_out=labels_left_out,
    )


def read_body(post: Post, max_bytes: int) -> str:
    """The post's body, read again: bodies are kept only for posts that reach a feed."""
    _, body = split_front_matter(post.path, read_text(post.path, max_bytes))
    return body
