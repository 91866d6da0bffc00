"""The example configs of config/examples/ pointed at a running replica of their upstreams
(config/examples/replica.py, loaded from its file: it is a script, not a package)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from support.site import REPOSITORY

EXAMPLES = REPOSITORY / "config" / "examples"
EXAMPLE_BASE = "http://127.0.0.1:8765"


def load_replica() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replica", EXAMPLES / "replica.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["replica"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def example_config(folder: Path, name: str, base: str, extra: dict[str, str] | None = None) -> Path:
    """``config/examples/<name>`` copied into ``folder`` with its upstream at ``base``, each
    ``key = value`` line of ``extra`` replaced (or, under a missing table, added), and its
    post folder made."""
    text = (EXAMPLES / name).read_text(encoding="utf-8").replace(EXAMPLE_BASE, base)
    for key, value in (extra or {}).items():
        table, _, field = key.rpartition(".")
        line = re.compile(rf"^{re.escape(field)} = .*$", re.M)
        section = re.search(rf"^\[{re.escape(table)}\]\n", text, re.M)
        if section is None:
            text += f"\n[{table}]\n{field} = {value}\n"
        else:
            after = line.search(text, section.end())
            next_table = re.compile(r"^\[", re.M).search(text, section.end())
            if after and (next_table is None or after.start() < next_table.start()):
                text = text[: after.start()] + f"{field} = {value}" + text[after.end() :]
            else:
                text = text[: section.end()] + f"{field} = {value}\n" + text[section.end() :]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    (folder / "_posts").mkdir(exist_ok=True)
    return path
