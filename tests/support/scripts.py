"""The scripts under bench/, loaded from their files as modules (bench/ is no package)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from support.site import REPOSITORY

BENCH = REPOSITORY / "bench"


def load_script(file_name: str, module_name: str) -> ModuleType:
    """bench/``file_name`` imported as ``module_name`` (and registered under that name)."""
    spec = importlib.util.spec_from_file_location(module_name, BENCH / file_name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
