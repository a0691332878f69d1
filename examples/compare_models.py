#!/usr/bin/env python
"""Compare multi-view GravityViT, single-view ViT and the Gravity Spy CNN on the same data over seeds.

Usage::

    python examples/compare_models.py --dataset DIR --output_dir outputs/compare --seeds 0 1 2 \
        [--preset cpu|paper] [--num_train_epochs 30] [any further examples/train.py arguments]

Each model is trained with ``gravityvit.training.run.train``, as by ``examples/train.py`` (same data,
same augmentation and schedule), once per seed, evaluated on the test split, and the results go into one markdown table
(``OUTPUT_DIR/comparison.md``, also printed) with the mean ± standard deviation over seeds of accuracy,
macro-F1 and the per-class F1 of the rare classes that decide macro-F1 on Gravity Spy (Paired_Doves,
Wandering_Line, Chirp, Air_Compressor), and each model's macro-F1 95 % bootstrap interval (spanned over
the seeds) with a line per pair of models saying whether they differ beyond their intervals.
``OUTPUT_DIR/comparison.json`` holds every run's numbers.

Presets: ``paper`` compares the named configurations as published sizes (``gravityvit/multiview-b16``,
``gravityvit/singleview-b16``, ``gravityspy/cnn-baseline``; a GPU job), ``cpu`` the same three
designs at CPU size (the demo's ViT, with one view for the single-view model).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

# examples/evaluate.py has the name of the `evaluate` library that the metrics import: keep this
# folder off sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]

logger = logging.getLogger("gravityvit.compare")

from gravityvit.training.comparison import PRESETS, RARE_CLASSES, markdown_table  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface; unknown arguments are training arguments (``examples/train.py``'s flags)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", required=True, help="Converted dataset directory or Hub id.")
    parser.add_argument("--output_dir", default="outputs/compare")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="Subset of the preset's model names to run (default: all).",
    )
    return parser


def main(argv: list[str] | None = None) -> str:
    """Train and evaluate every model for every seed; write and return the markdown table."""
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.run import train

    args, train_args = build_parser().parse_known_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    models = PRESETS[args.preset]
    if args.models:
        unknown = sorted(set(args.models) - set(models))
        if unknown:
            raise SystemExit(f"unknown model(s) {unknown}; the {args.preset} preset has {sorted(models)}")
        models = {name: models[name] for name in args.models}
    output_dir = Path(args.output_dir)
    runs: dict[str, list[dict[str, Any]]] = {}
    for name, (named_config, overrides) in models.items():
        for seed in args.seeds:
            run_dir = (
                output_dir / "runs" / name.split(" (")[0].replace(" ", "_").replace("/", "-") / f"seed{seed}"
            )
            logger.info("training %s, seed %d -> %s", name, seed, run_dir)
            settings = {
                "dataset": args.dataset,
                "model": named_config,
                "output_dir": str(run_dir),
                "config_overrides": json.dumps(overrides) if overrides else None,
                "seed": seed,
            }
            result = train(*parse_train_arguments(train_args, defaults=settings))
            report = json.loads((Path(result.output_dir) / "evaluation" / "metrics.json").read_text())
            runs.setdefault(name, []).append(
                {
                    "seed": seed,
                    "accuracy": report["accuracy"],
                    "macro_f1": report["macro_f1"],
                    "per_class": {c: report["per_class"][c] for c in RARE_CLASSES},
                    "intervals": report.get("intervals"),
                }
            )
    table = markdown_table(runs, args.dataset, args.seeds)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "comparison.md").write_text(table)
    (output_dir / "comparison.json").write_text(json.dumps(runs, indent=2) + "\n")
    print(table)
    return table


if __name__ == "__main__":
    main()
