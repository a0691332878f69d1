"""Import the example scripts by path (examples/ is not a package, and must stay off sys.path:
examples/evaluate.py would shadow the `evaluate` library)."""

from __future__ import annotations

from pathlib import Path

from gravityvit.file_utils import import_script

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str):
    """The module examples/NAME.py."""
    return import_script(EXAMPLES_DIR / f"{name}.py", f"gravityvit_examples_{name}")
