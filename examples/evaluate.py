#!/usr/bin/env python
"""Evaluate a trained glitch classifier on one split of a converted dataset and write a report.

Usage::

    python examples/evaluate.py --model DIR_OR_HUB_ID --dataset DIR_OR_HUB_ID --split test --output REPORT_DIR

The report directory holds ``metrics.json`` (accuracy, balanced accuracy, macro / weighted F1,
per-class precision / recall / F1, confusion matrix, accuracy with one duration only, worst
mistakes), ``classification_report.txt``, ``confusion_matrix.png`` (row-normalised),
``view_importance.png`` (mean fusion weight per class and duration), ``single_duration_accuracy.png``
and ``worst_mistakes.png``. ``examples/train.py`` writes the same report for its test split.

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

from gravityvit.training.arguments import parse_evaluation_arguments  # noqa: E402
from gravityvit.training.run import SUMMARY_METRICS, evaluate  # noqa: E402

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    arguments = parse_evaluation_arguments(sys.argv[1:])
    report = evaluate(arguments)
    print(json.dumps({k: report[k] for k in ("num_samples", *SUMMARY_METRICS)}, indent=2))
    print(f"report written to {arguments.output}")
