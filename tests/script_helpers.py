"""Importing the repository's scripts (examples/, benchmarks/, conversion_scripts/) in tests.

The scripts are command lines, not modules of the package; the tests load them from their files.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType


def import_script(path: str | os.PathLike, module_name: str | None = None) -> ModuleType:
    """Import the Python file ``path`` as a module.

    The module is registered in ``sys.modules`` under ``module_name`` (default: derived from the path)
    before it runs, since dataclasses look their module up there.
    """
    path = Path(path).resolve()
    module_name = module_name or f"gravityvit_script_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
