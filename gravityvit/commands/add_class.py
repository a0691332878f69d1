"""``gravityvit add-class``: add a glitch class to a trained model from a few labelled examples.

See :mod:`gravityvit.inference.add_class`. Exit codes: 0 written, 1 bad examples or name (nothing
written), 2 usage or model error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gravityvit.commands import common

HELP = "add a glitch class to a trained model from a few examples"
DESCRIPTION = """
Add the class NAME to a trained model from 2 or more labelled examples (5-20 recommended), without
the training data: a prototype of the examples' frozen features becomes a new row of the classifier,
fitted against features drawn from the class statistics the model stores (when it has them), so that
the new class does not take the old classes' samples; the other classes' weights are unchanged. EXAMPLES is a folder of Gravity Spy PNGs
({ifo}_{id}_spectrogram_{d}.png, grouped by sample id), an HDF5 file or an Arrow dataset of the new
class. The new model (and its model card, which notes the added class) is written to OUTPUT
atomically; nothing is written on error.
"""

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``add-class`` subcommand."""
    parser = common.add_subcommand(subparsers, "add-class", run, HELP, DESCRIPTION)
    common.add_model_argument(parser)
    parser.add_argument("--name", required=True, help="name of the new class, e.g. Fast_Scattering")
    parser.add_argument(
        "--examples", required=True, type=Path, help="folder or file of examples of the class"
    )
    common.add_model_output_arguments(parser, help="new model directory")
    common.add_batch_size_argument(parser, default=16, unit="examples")
    common.add_trust_remote_code_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``gravityvit add-class``; return the exit code."""
    from gravityvit.hub import HubUnavailableError
    from gravityvit.inference.add_class import AddClassError, add_class_to_directory
    from gravityvit.pipelines import InputError

    if args.batch_size < 1:
        return common.fail("add-class", f"--batch-size must be at least 1; got {args.batch_size}", EXIT_USAGE)
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
        return common.fail("add-class", f"{error}; nothing written", EXIT_INPUT)
    except FileExistsError as error:
        return common.fail("add-class", str(error), EXIT_USAGE)
    except (HubUnavailableError, OSError, ValueError) as error:
        print(f"gravityvit add-class: cannot load model {args.model}: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"added class {info['name']} from {info['num_examples']} examples "
        f"({100 * info['example_recall']:.0f} % of them labelled {info['name']}); "
        f"{info['num_labels']} classes; wrote {info['output_dir']}"
    )
    return EXIT_OK
