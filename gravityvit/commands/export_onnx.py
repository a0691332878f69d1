"""``gravityvit export-onnx``: write a classifier as an ONNX graph for ONNX Runtime.

The graph (``gravityvit.inference.onnx_runtime.export_onnx``) has a dynamic batch, inputs
``pixel_values`` and ``view_mask``, outputs ``logits`` and ``view_weights``; it is compared with the
torch model before it is kept. ``gravityvit predict --backend onnx --model DIR`` runs
``DIR/model.onnx``.

Exit codes: 0 written, 2 usage, model or export error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gravityvit.commands import common

HELP = "export a model to ONNX for ONNX Runtime (gravityvit predict --backend onnx)"
DESCRIPTION = """
Export a GravityViT or CNN-baseline classifier to an ONNX graph with a dynamic batch (inputs
pixel_values, view_mask; outputs logits, view_weights), check it against the torch model on masked
and unmasked batches, and write it atomically. Write it as DIR/model.onnx for `gravityvit predict
--backend onnx --model DIR`. Needs the onnx extra (pip install 'gravityvit[onnx]').
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export-onnx`` subcommand."""
    parser = common.add_subcommand(
        subparsers,
        "export-onnx",
        run,
        HELP,
        DESCRIPTION,
        "Exit status: 0 written, 2 usage, model or export error.",
    )
    common.add_model_argument(parser)
    parser.add_argument("--output", required=True, type=Path, help="the .onnx file, e.g. DIR/model.onnx")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    common.add_trust_remote_code_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``gravityvit export-onnx``; return the exit code."""
    from gravityvit.commands.predict import EXIT_OK, EXIT_USAGE

    def fail(message: str) -> int:
        return common.fail("export-onnx", message, EXIT_USAGE)

    if args.output.suffix.lower() != ".onnx":
        return fail(f"--output must end in .onnx; got {args.output}")
    from gravityvit.file_utils import OutputError, check_output
    from gravityvit.inference.onnx_runtime import (
        ONNX_MODEL,
        OnnxExportError,
        export_onnx,
        require_onnx_runtime,
        weights_fingerprint,
    )

    try:
        require_onnx_runtime()
        check_output(args.output, ONNX_MODEL)
    except ImportError as error:
        return fail(str(error))
    except OutputError as error:
        return fail(f"--output {error}")

    from gravityvit.hub import HubUnavailableError, load_model_and_processor

    try:
        model, _ = load_model_and_processor(args.model, trust_remote_code=args.trust_remote_code)
    except (HubUnavailableError, OSError, ValueError, RuntimeError) as error:
        return fail(f"cannot load model {args.model}: {error}")
    local = Path(args.model).expanduser()
    # The file records the weights of a local directory, so that predict refuses it once they change.
    fingerprint = weights_fingerprint(local) if local.is_dir() else None
    try:
        differences = export_onnx(model, args.output, opset=args.opset, fingerprint=fingerprint)
    except (OnnxExportError, OutputError) as error:
        return fail(str(error))
    print(
        f"wrote {args.output}; ONNX Runtime vs torch on the check batches: logits within "
        f"{differences['max_logit_difference']:.2g}, view weights within {differences['max_view_weight_difference']:.2g}",
        file=sys.stderr,
    )
    return EXIT_OK
