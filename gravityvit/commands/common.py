"""What the subcommands share: how a subcommand is added, and the options of commands that load a model.

Each helper adds the same flags, with the same help, wherever a command takes them, so that
``--model``, ``--trust-remote-code`` or ``--batch-size`` mean one thing across ``gravityvit``. Only
``argparse`` is imported here: building the parser must stay fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

MODEL_HELP = "model directory or Hub id"


def add_subcommand(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    summary: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` (``summary`` in ``gravityvit --help``) whose ``func`` is ``run``.

    ``description`` is prose written as a text block; its line breaks are folded into spaces, as
    ``--help`` prints it.
    """
    parser = subparsers.add_parser(name, help=summary, description=fold_lines(description), epilog=epilog)
    parser.set_defaults(func=run)
    return parser


def fold_lines(text: str) -> str:
    """``text`` on one line: runs of white space (line breaks included) become one space."""
    return " ".join(text.split())


def add_model_argument(parser: argparse.ArgumentParser, help: str = MODEL_HELP) -> None:
    """``--model``: the model directory or Hub id a command loads (required)."""
    parser.add_argument("--model", required=True, help=help)


def add_trust_remote_code_argument(parser: argparse.ArgumentParser) -> None:
    """``--trust-remote-code``: off by default, as in transformers."""
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow model code stored with the checkpoint to run"
    )


def add_model_output_arguments(parser: argparse.ArgumentParser, help: str) -> None:
    """``--output`` (a new model directory, required) and ``--overwrite``.

    ``--overwrite`` may replace only an earlier model directory: never anything else the user owns.
    """
    parser.add_argument("--output", required=True, type=Path, help=help)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT when it is an earlier model directory"
    )


def add_batch_size_argument(parser: argparse.ArgumentParser, default: int, unit: str = "samples") -> None:
    """``--batch-size``: how many ``unit`` go through the model per forward pass."""
    parser.add_argument(
        "--batch-size", type=int, default=default, help=f"{unit} per forward pass (default {default})"
    )


def fail(command: str, message: str, code: int) -> int:
    """Print ``gravityvit COMMAND: error: MESSAGE`` to stderr and return the exit ``code``."""
    print(f"gravityvit {command}: error: {message}", file=sys.stderr)
    return code
