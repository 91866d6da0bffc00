"""The README stands alone: every file the documentation names is in the repository."""

from __future__ import annotations

import re

import pytest
from support.site import REPOSITORY

DOCUMENTS = ["README.md", "ARCHITECTURE.md", "deploy/README.md", "docs/posts.md", "bench/README.md"]
# A path of the repository as the documents write it: `docs/posts.md`, (docs/status.png),
# `RELIABILITY.md`.
NAMED = re.compile(r"[`(]((?:docs|deploy|bench|config|syndicator|tests|\.ci)/[\w./-]*\w)[`)]")
# A document of the repository named in prose: DESIGN.md, RELIABILITY.md.
DOCUMENT = re.compile(r"(?<![/\w])([A-Z][A-Z_]+\.md)\b")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_file_named_exists(document: str) -> None:
    text = (REPOSITORY / document).read_text("utf-8")
    named = set(NAMED.findall(text)) | set(DOCUMENT.findall(text))
    missing = sorted(
        name
        for name in named
        if not (REPOSITORY / name).exists()
        and not (REPOSITORY / document).parent.joinpath(name).exists()
    )
    assert missing == [], f"{document} names files that are not in the repository"


def test_the_screenshot_is_in_the_readme() -> None:
    assert "![The status page](docs/status.png)" in (REPOSITORY / "README.md").read_text("utf-8")
    assert (REPOSITORY / "docs" / "status.png").read_bytes().startswith(b"\x89PNG")


def test_a_missing_document_would_be_found() -> None:
    assert DOCUMENT.findall("as DESIGN.md's section says") == ["DESIGN.md"]
    assert NAMED.findall("see `docs/gone.md` and ![x](docs/status.png)") == [
        "docs/gone.md",
        "docs/status.png",
    ]
