"""Import the example scripts by path (examples/ is not a package, and must stay off sys.path:
examples/evaluate.py would shadow the `evaluate` library)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str):
    """The module examples/NAME.py."""
    spec = importlib.util.spec_from_file_location(f"gravityvit_examples_{name}", EXAMPLES_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
