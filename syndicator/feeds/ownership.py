"""Which files in ``feeds.dir`` syndicator wrote, so that it overwrites and removes those and
nothing else: an operator's own ``index.html``, or another program sharing the folder, is left
alone.

The list lives in the folder itself (``.syndicator-files``, hidden, so never served) as well
as in the state: deleting the state must not make syndicator a stranger to its own feeds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from syndicator.core.atomic import write_if_changed

MANIFEST = ".syndicator-files"
_HEADER = (
    "# The files syndicator wrote in this folder, one a line: it overwrites and removes these\n"
    "# and no others. Written by syndicator; edit only to give a file back to syndicator.\n"
)


def read_manifest(folder: Path) -> set[str]:
    """The names listed in ``folder``'s manifest (none if there is no manifest)."""
    try:
        text = (folder / MANIFEST).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return set()
    lines = (line for line in text.splitlines() if line and not line.startswith("#"))
    return {line for line in lines if is_feed_name(line)}


def is_feed_name(name: str) -> bool:
    """Whether ``name`` can be a file syndicator writes: a relative path below the folder.
    The manifest is a file in the open; a line such as ``../index.html`` or ``/etc/x`` (an
    edit, a copy from elsewhere) must never make a file outside the folder look like ours."""
    parts = PurePosixPath(name).parts
    return (
        bool(parts)
        and not name.startswith("/")
        and "\\" not in name
        and all(part not in ("", ".", "..") and not part.startswith(".") for part in parts)
    )


def write_manifest(folder: Path, names: Iterable[str]) -> None:
    """List ``names`` as ours (written only if the list changed)."""
    body = "".join(f"{name}\n" for name in sorted(set(names)))
    write_if_changed(folder / MANIFEST, (_HEADER + body).encode())
