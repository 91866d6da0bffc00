"""Markdown bodies rendered to HTML by cmark (CommonMark's C reference implementation)."""

from __future__ import annotations

import ctypes

# cmark itself, through cmarkgfm's compiled bindings: cmarkgfm's own functions copy the HTML
# that cmark returns and never free cmark's buffer, so each post rendered would stay in memory
# for as long as the process runs (a daemon grows by every post it renders).
from cmarkgfm import _cmark
from cmarkgfm.cmark import Options

# Raw HTML passes through on purpose: posts mix Markdown with upstream HTML, and the
# sanitizer decides what survives.
_OPTIONS = Options.CMARK_OPT_UNSAFE
# cmark allocates its output with the C library's malloc and leaves freeing it to the caller.
_free = ctypes.CDLL(None).free
_free.argtypes = [ctypes.c_void_p]
_free.restype = None


def render_markdown(text: str) -> str:
    source = text.encode("utf-8")
    output = _cmark.lib.cmark_markdown_to_html(source, len(source), _OPTIONS)
    try:
        html: str = _cmark.ffi.string(output).decode("utf-8")
    finally:
        _free(int(_cmark.ffi.cast("uintptr_t", output)))
    return html
