"""``gravityvit add-class``: add a glitch class to a trained model from a few labelled examples.

See :mod:`gravityvit.inference.add_class`. Exit codes: 0 written, 1 bad examples or name (nothing
written), 2 usage or model error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``add-class`` subcommand."""
    parser = subparsers.add_parser(
        "add-class",
        help="add a glitch class to a trained model from a few examples",
        description=(
            "Add the class NAME to a trained model from 2 or more labelled examples (5-20 recommended), "
            "without the training data: a prototype of the examples' frozen features becomes a new row "
            "of the classifier; the other classes are unchanged. EXAMPLES is a folder of Gravity Spy PNGs "
            "({ifo}_{id}_spectrogram_{d}.png, grouped by sample id), an HDF5 file or an Arrow dataset of "
            "the new class. The new model (and its model card, which notes the added class) is written "
            "to OUTPUT atomically; nothing is written on error."
        ),
    )
    parser.add_argument("--model", required=True, help="model directory or Hub id")
    parser.add_argument("--name", required=True, help="name of the new class, e.g. Fast_Scattering")
    parser.add_argument(
        "--examples", required=True, type=Path, help="folder or file of examples of the class"
    )
    parser.add_argument("--output", required=True, type=Path, help="new model directory")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT when it is an earlier model directory"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="examples per forward pass (default 16)")
    parser.add_argument(
        "--trust-remote-code", action="store_true", help="allow model code stored with the checkpoint to run"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``gravityvit add-class``; return the exit code."""
    from gravityvit.hub import HubUnavailableError
    from gravityvit.inference.add_class import AddClassError, add_class_to_directory
    from gravityvit.pipelines import InputError

    if args.batch_size < 1:
        print(
            f"gravityvit add-class: error: --batch-size must be at least 1; got {args.batch_size}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        info = add_class_to_directory(
            args.model,
            args.name,
            args.examples,
            args.output,
            overwrite=args.overwrite,
            trust_remote_code=args.trust_remote_code,
            batch_size=args.batch_size,
        )
    except (AddClassError, InputError) as error:
        print(f"gravityvit add-class: error: {error}; nothing written", file=sys.stderr)
        return EXIT_INPUT
    except FileExistsError as error:
        print(f"gravityvit add-class: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (HubUnavailableError, OSError, ValueError) as error:
        print(f"gravityvit add-class: cannot load model {args.model}: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"added class {info['name']} from {info['num_examples']} examples "
        f"({100 * info['example_recall']:.0f} % of them labelled {info['name']}); "
        f"{info['num_labels']} classes; wrote {info['output_dir']}"
    )
    return EXIT_OK
