"""Markdown bodies rendered to HTML with a CommonMark renderer (markdown-it-py)."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML passes through here on purpose: posts mix Markdown with upstream HTML, and
    # the sanitizer decides what survives.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def render_markdown(text: str) -> str:
    return _markdown().render(text)
