"""The ``gravityvit`` command: one subcommand per stage of the data flow.

Each subcommand lives in ``gravityvit/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to the function that runs it and returns an exit code.
Modules are imported only when needed so that ``gravityvit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Subcommands in data-flow order: fetch or make data, convert it, then classify with a model.
COMMANDS: tuple[str, ...] = (
    "download",
    "simulate",
    "scan",
    "convert",
    "predict",
    "calibrate",
    "add-class",
    "export-onnx",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gravityvit",
        description="GravityViT: classify LIGO glitches (Gravity Spy classes) with a multi-view ViT.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"gravityvit.commands.{name.replace('-', '_')}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from gravityvit.file_utils import workers_die_with_parent

    # Worker pools (--num-proc) must not outlive a killed command.
    workers_die_with_parent()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
