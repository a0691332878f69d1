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

The evaluation itself is ``gravityvit.training.run.evaluate``; the flags are the fields of
``gravityvit.training.arguments.EvaluationArguments``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

# This file has the name of the `evaluate` library that the metrics import: keep this folder off
# sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]

from gravityvit.file_utils import OutputError  # noqa: E402
from gravityvit.training.arguments import parse_evaluation_arguments  # noqa: E402
from gravityvit.training.run import SUMMARY_METRICS, evaluate  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    """Evaluate and write the report; return the metrics.

    An ``--output`` that holds anything but an earlier report is refused before any work, with exit
    status 2 and a one-line message.
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    arguments = parse_evaluation_arguments(sys.argv[1:] if argv is None else argv)
    try:
        report = evaluate(arguments)
    except OutputError as error:
        print(f"{Path(sys.argv[0]).name}: error: --output {error}", file=sys.stderr)
        raise SystemExit(2) from None
    summary = {k: report[k] for k in ("num_samples", *SUMMARY_METRICS)}
    summary["calibration"] = report.get("calibration")
    if "time_shift" in report:
        summary["time_shift_flip_rate"] = report["time_shift"]["flip_rate"]
    print(json.dumps(summary, indent=2))
    print(f"report written to {arguments.output}")
    return report


if __name__ == "__main__":
    main()
