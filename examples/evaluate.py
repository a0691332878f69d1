#!/usr/bin/env python
"""Evaluate a trained glitch classifier on one split of a converted dataset and write a report.

Usage::

    python examples/evaluate.py --model DIR_OR_HUB_ID --dataset DIR_OR_HUB_ID --split test --output REPORT_DIR

The report directory holds ``metrics.json`` (accuracy, balanced accuracy, macro / weighted F1,
per-class precision / recall / F1, confusion matrix, accuracy with one duration only, worst
mistakes, ECE before and after temperature scaling, unknown-glitch scores, and with
``--time_shift_samples_per_class N`` the label-flip rates under 1, 5 and 10 ms time shifts),
``classification_report.txt``, ``confusion_matrix.png`` (row-normalised), ``view_importance.png``
(mean fusion weight per class and duration), ``single_duration_accuracy.png``, ``worst_mistakes.png``
and ``reliability_diagram.png``. ``examples/train.py`` writes the same report for its test split.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import gravityvit
from gravityvit.training.data import check_glitch_dataset, load_glitch_dataset
from gravityvit.training.evaluation import write_evaluation_report

logger = logging.getLogger("gravityvit.evaluate")

# examples/evaluate.py has the name of the `evaluate` library that the metrics import: keep this
# folder off sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="Trained model directory or Hub id.")
    parser.add_argument("--dataset", required=True, help="Converted dataset directory or Hub dataset id.")
    parser.add_argument("--split", default="test", help="Split to evaluate (default: test).")
    parser.add_argument(
        "--output",
        required=True,
        help="Report directory; replaces only an earlier report (anything else there is refused).",
    )
    parser.add_argument("--batch_size", type=int, default=64, help="Samples per forward pass.")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps; default: the best available.")
    parser.add_argument("--max_samples", type=int, default=None, help="Evaluate only the first N samples.")
    parser.add_argument("--gallery_size", type=int, default=12, help="Mistakes shown in the gallery.")
    parser.add_argument(
        "--no_single_duration",
        action="store_true",
        help="Skip the one-duration-only scores (4 extra passes).",
    )
    parser.add_argument(
        "--time_shift_samples_per_class",
        type=int,
        default=0,
        help="Also measure label flips when the glitch moves by 1, 5 and 10 ms, on this many simulated "
        "glitches per class (7 Omega scans each; 0 = skip).",
    )
    parser.add_argument("--trust_remote_code", action="store_true", help="Allow remote code for Hub models.")
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Evaluate and write the report; return the metrics."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    from gravityvit.file_utils import OutputError, check_output
    from gravityvit.hub import load_model_and_processor
    from gravityvit.training.evaluation import EVALUATION_REPORT

    # Before loading anything: the report may replace only an earlier report, never the model or data.
    try:
        check_output(args.output, EVALUATION_REPORT, inputs=(args.model, args.dataset))
    except OutputError as error:
        parser.error(f"--output {error}")  # exit status 2, one line
    model, processor = load_model_and_processor(args.model, trust_remote_code=args.trust_remote_code)
    dataset = load_glitch_dataset(args.dataset)
    durations = getattr(model.config, "view_durations_s", None) or gravityvit.VIEW_DURATIONS_S
    check_glitch_dataset(dataset, model.config.id2label, durations, splits=(args.split,), source=args.dataset)
    split = dataset[args.split]
    if args.max_samples is not None:
        split = split.select(range(min(args.max_samples, len(split))))
    report = write_evaluation_report(
        model,
        processor,
        split,
        args.output,
        split=args.split,
        batch_size=args.batch_size,
        device=args.device,
        gallery_size=args.gallery_size,
        single_duration=not args.no_single_duration,
        time_shift_samples_per_class=args.time_shift_samples_per_class,
    )
    summary = {
        k: report[k] for k in ("num_samples", "accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")
    }
    summary["calibration"] = report.get("calibration")
    if "time_shift" in report:
        summary["time_shift_flip_rate"] = report["time_shift"]["flip_rate"]
    print(json.dumps(summary, indent=2))
    print(f"report written to {args.output}")
    return report


if __name__ == "__main__":
    main()
    sys.exit(0)
