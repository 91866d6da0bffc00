"""Markdown bodies rendered to HTML by cmark (CommonMark's C reference implementation)."""

from __future__ import annotations

import cmarkgfm
from cmarkgfm.cmark import Options

# Raw HTML passes through on purpose: posts mix Markdown with upstream HTML, and the
# sanitizer decides what survives.
_OPTIONS = Options.CMARK_OPT_UNSAFE


def render_markdown(text: str) -> str:
    html: str = cmarkgfm.markdown_to_html(text, options=_OPTIONS)
    return html
