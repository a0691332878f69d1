#!/usr/bin/env python
"""Compare multi-view GravityViT, single-view ViT and the Gravity Spy CNN on the same data over seeds: accuracy and cost.

Usage::

    python examples/compare_models.py --dataset DIR --output_dir outputs/compare --seeds 0 1 2 \
        [--preset cpu|paper] [--models NAME ...] [--budget_minutes M] [--vit_image_size 56x72 112x136 ...] \
        [--views_eval] [--real DIR ...] [any further examples/train.py arguments]
    python examples/compare_models.py --preset paper --dry_run [--dataset DIR | --train_samples N]

Each model is trained with ``gravityvit.training.run.train``, as by ``examples/train.py`` (same data,
same augmentation, view dropout included, and recipe), once per seed, and evaluated on the test split.
Two ways to compare:

- **equal epochs** (default): every model trains ``--num_train_epochs`` epochs (with early stopping);
- **equal training time** (``--budget_minutes M``): every model trains for M minutes of wall-clock
  time, as many steps as fit, without early stopping. The learning rate follows the clock: a linear
  warm-up over the share of the budget that ``--warmup_epochs`` has of ``--num_train_epochs``, then a
  cosine decay that reaches zero when the budget is spent (``TrainingBudgetCallback``), so each model
  gets a complete schedule whatever its step time.

Reported per model (mean ± standard deviation over seeds): accuracy, macro-F1 and the rare classes'
F1, the macro-F1 95 % bootstrap interval (spanned over the seeds) with a line per pair of models saying
whether they differ beyond their intervals; parameters, forward FLOPs per sample, training FLOPs (3 x forward x samples seen), training time,
epochs, inference samples/s; whether each difference to the best macro-F1 exceeds the seeds' spread.
Options add: ``--views_eval`` the test accuracy with 1, 2 and 4 of the durations given;
``--real DIR ...`` the accuracy on real Gravity Spy PNG folders (``<Class>/<ifo>_<id>_spectrogram_<d>.png``),
overall and by the number of durations a sample has; ``--vit_image_size`` one run of every ViT per
input size (rounded up to whole tokens: 140x170 becomes 144x176).

Written to ``OUTPUT_DIR``: ``comparison.md`` (also printed) and ``comparison.json`` (every run's
numbers, rewritten after each run). ``--dry_run`` trains nothing: it builds every model, counts its
parameters and FLOPs, takes one training step on a batch of 2 and projects the training FLOPs and an
estimated GPU time (``dry_run.md``, ``dry_run.json``).

Presets: ``paper`` compares the named configurations at published sizes (``gravityvit/multiview-b16``
and ``gravityvit/singleview-b16`` at 224x224, ``gravityspy/cnn-baseline`` at 140x170 per view; a GPU
job), ``cpu`` the same three designs at CPU size (the demo's ViT, with one view for the single-view
model).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

# examples/evaluate.py has the name of the `evaluate` library that the metrics import: keep this
# folder off sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]

logger = logging.getLogger("gravityvit.compare")

from gravityvit.file_utils import OutputKind, atomic_path, is_json_document, read_head  # noqa: E402
from gravityvit.training.comparison import (  # noqa: E402
    ASSUMED_GPU_TFLOPS,
    PRESETS,
    ComparisonSettings,
    comparison_report,
    dry_run_one,
    dry_run_table,
    parse_image_size,
    run_one,
    with_vit_image_sizes,
)

# What this script writes: a later run replaces only these, nothing else.
MARKDOWN_REPORT = OutputKind(
    "model comparison report",
    recognise=lambda path: read_head(path).startswith((b"# Model comparison", b"Test split of")),
)
JSON_REPORT = OutputKind("model comparison runs (JSON)", recognise=is_json_document)
DRY_RUN_REPORT = OutputKind(
    "model comparison dry run",
    recognise=lambda path: read_head(path).startswith(b"# Model comparison dry run"),
)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface; unknown arguments are training arguments (``examples/train.py``'s flags)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dataset", help="Converted dataset directory or Hub id (required unless --dry_run)."
    )
    parser.add_argument("--output_dir", default="outputs/compare")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument(
        "--models",
        nargs="+",
        default=None,
        help="Subset of the preset's model names to run (default: all).",
    )
    parser.add_argument(
        "--budget_minutes",
        "--budget-minutes",
        type=float,
        default=None,
        help="Train every model for this many minutes of wall-clock time instead of a number of epochs.",
    )
    parser.add_argument(
        "--vit_image_size",
        nargs="+",
        default=None,
        help="Input sizes of the ViT models, HEIGHTxWIDTH (e.g. 56x72 112x136 140x170): one run per size.",
    )
    parser.add_argument(
        "--views_eval", action="store_true", help="Also score the test split with 1, 2 and 4 durations given."
    )
    parser.add_argument("--real", nargs="+", type=Path, default=None, help="Real Gravity Spy PNG folders.")
    parser.add_argument(
        "--dry_run",
        action="store_true",
        help="Build every model, count parameters and FLOPs, take one training step on a batch of 2; no training.",
    )
    parser.add_argument(
        "--train_samples",
        type=int,
        default=None,
        help="Dry run without --dataset: training samples per epoch for the projected cost.",
    )
    parser.add_argument(
        "--assumed_tflops",
        type=float,
        default=ASSUMED_GPU_TFLOPS,
        help="Dry run: sustained GPU TFLOP/s of the estimated training time.",
    )
    return parser


def hardware() -> str:
    """The device the comparison runs on, in words."""
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"{os.cpu_count()}-core {platform.machine()} CPU"


def select_models(args: argparse.Namespace) -> dict[str, tuple[str, dict[str, Any]]]:
    """The preset's models, restricted to ``--models`` and expanded over ``--vit_image_size``."""
    models = PRESETS[args.preset]
    if args.models:
        unknown = sorted(set(args.models) - set(models))
        if unknown:
            raise SystemExit(f"unknown model(s) {unknown}; the {args.preset} preset has {sorted(models)}")
        models = {name: models[name] for name in args.models}
    try:
        sizes = [parse_image_size(text) for text in args.vit_image_size or []]
    except ValueError as error:
        raise SystemExit(f"--vit_image_size: {error}") from error
    return with_vit_image_sizes(models, sizes)


def _write(path: Path, text: str, kind: OutputKind) -> None:
    with atomic_path(path, kind=kind) as temporary:
        temporary.write_text(text, encoding="utf-8")


def dry_run(
    args: argparse.Namespace, models: dict[str, tuple[str, dict[str, Any]]], train_args: list[str]
) -> str:
    """Build, count and step every model; write and return the dry run's table."""
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.data import load_glitch_dataset

    _, data_args, training_args = parse_train_arguments(train_args)
    num_train = args.train_samples
    if args.dataset:
        num_train = len(load_glitch_dataset(args.dataset)[data_args.train_split])
    results = []
    for name, (named_config, overrides) in models.items():
        logger.info("dry run: %s (%s %s)", name, named_config, overrides or "")
        results.append(
            dry_run_one(
                name,
                named_config,
                overrides,
                num_train_samples=num_train,
                num_train_epochs=training_args.num_train_epochs,
                assumed_tflops=args.assumed_tflops,
            )
        )
    projection = (
        f"{num_train} training samples x {training_args.num_train_epochs:g} epochs, at "
        f"{args.assumed_tflops:g} TFLOP/s sustained (an estimate, not a measurement)"
        if num_train
        else "no projection (give --dataset or --train_samples)"
    )
    text = (
        f"# Model comparison dry run ({args.preset} preset)\n\n"
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n"
        f"- hardware: {hardware()}\n"
        f"- projected training: {projection}\n\n{dry_run_table(results)}"
    )
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    _write(output_dir / "dry_run.md", text, DRY_RUN_REPORT)
    _write(output_dir / "dry_run.json", json.dumps(results, indent=2) + "\n", JSON_REPORT)
    print(text)
    return text


def load_real(directories: list[Path]) -> list[Any]:
    """Every readable real sample of the folders; an error naming the folders when there is none."""
    from gravityvit.inference.real_samples import load_real_samples

    samples, failures = load_real_samples(directories)
    for failure in failures:
        logger.warning("real sample %s skipped: %s", failure["source"], failure["error"])
    if not samples:
        raise SystemExit(f"--real: no readable real sample in {', '.join(map(str, directories))}")
    logger.info("%d real samples from %s", len(samples), ", ".join(map(str, directories)))
    return samples


def main(argv: list[str] | None = None) -> str:
    """Train and evaluate every model for every seed (or only dry-run them); write and return the markdown report."""
    args, train_args = build_parser().parse_known_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    if args.budget_minutes is not None and not args.budget_minutes > 0:
        raise SystemExit(f"--budget_minutes must be positive; got {args.budget_minutes}")
    models = select_models(args)
    if args.dry_run:
        return dry_run(args, models, train_args)
    if not args.dataset:
        raise SystemExit("--dataset is required (except with --dry_run)")
    output_dir = Path(args.output_dir)
    settings = ComparisonSettings(
        dataset=args.dataset,
        output_dir=output_dir,
        train_args=train_args,
        budget_minutes=args.budget_minutes,
        views_eval=args.views_eval,
        real_samples=load_real(args.real) if args.real else None,
    )
    command = shlex.join(["python", "examples/compare_models.py", *(sys.argv[1:] if argv is None else argv)])
    header = {
        "mode": "equal training time" if args.budget_minutes else "equal epochs",
        "command": f"`{command}`",
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d} (UTC)",
        "hardware": hardware(),
        "dataset": f"`{args.dataset}`",
        "seeds": " ".join(map(str, args.seeds)),
    }
    if args.budget_minutes:
        header["budget"] = f"{args.budget_minutes:g} min of training per model and seed"
    output_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {}
    for name, (named_config, overrides) in models.items():
        for seed in args.seeds:
            runs.setdefault(name, []).append(run_one(name, named_config, overrides, seed, settings))
            # Rewritten after every run, so that a long comparison keeps what it has measured.
            _write(output_dir / "comparison.json", json.dumps(runs, indent=2) + "\n", JSON_REPORT)
    report = comparison_report(runs, args.dataset, args.seeds, header)
    _write(output_dir / "comparison.md", report, MARKDOWN_REPORT)
    print(report)
    return report


if __name__ == "__main__":
    main()
