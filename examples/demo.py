#!/usr/bin/env python
"""The GravityViT demo (``make demo``): simulate, convert, train, evaluate and classify, on a CPU.

Usage::

    python examples/demo.py --output_dir outputs/demo [examples/train.py arguments, e.g. --view_dropout 0.1]

1. simulate glitches of the 22 Gravity Spy classes into a Gravity Spy HDF5 file (``gravityvit simulate``),
2. convert it to an Arrow dataset (``gravityvit convert``),
3. train a CPU-sized GravityViT with the HF Trainer (``gravityvit.training.run.train``, as ``examples/train.py``),
4. evaluate it on the test split (report: metrics, confusion matrix, view importance, mistakes),
5. classify a few test samples with ``pipeline("glitch-classification")``, with all four views and
   with one view only.

The data steps are cached: a second run with the same ``--samples_per_class`` and ``--seed`` reuses
the simulated file and the dataset, and only trains again. Progress is logged throughout, and the
wall time of each stage is printed at the end and written to ``OUTPUT_DIR/demo_summary.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gravityvit.training.run import TrainResult

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# examples/evaluate.py has the name of the `evaluate` library that the metrics import: keep this
# folder off sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]

from gravityvit.training.recipes import DEMO_RECIPE, DEMO_SAMPLES_PER_CLASS  # noqa: E402  (plain values, no torch)

logger = logging.getLogger("gravityvit.demo")

# The CPU demo model, a named configuration (gravityvit/named_configs.py): a 2-block, width-96 ViT
# with a convolutional stem (a 4x4 patchify layer, two 3x3 stride-2 layers) shared by the four views
# at 64x80 pixels, cross-attention fusion over all 4 x 20 view tokens, MLP head (0.40 M
# parameters). What each choice bought is measured in docs/training.md ("The demo model").
DEMO_MODEL = DEMO_RECIPE["model"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output_dir", default="outputs/demo", help="Everything the demo writes.")
    # More simulated glitches transfer better to real ones up to a point: with the 112x144 model, 140
    # per class got 45 and 47 of 65 real samples against 53 for 190; 380 for half the epochs is level
    # with 190 on the 64x80 model and simulates twice as long (docs/training.md). 190 x 30 epochs take
    # about 7 minutes on 2 idle cores.
    parser.add_argument(
        "--samples_per_class", type=int, default=DEMO_SAMPLES_PER_CLASS, help="Simulated samples per class."
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the simulation and the training.")
    parser.add_argument(
        "--num_train_epochs",
        type=float,
        default=DEMO_RECIPE["num_train_epochs"],
        help="Training epochs (early stopping).",
    )
    parser.add_argument("--learning_rate", type=float, default=DEMO_RECIPE["learning_rate"])
    parser.add_argument("--batch_size", type=int, default=DEMO_RECIPE["per_device_train_batch_size"])
    parser.add_argument("--num_proc", type=int, default=2, help="Processes for simulation and conversion.")
    parser.add_argument(
        "--config_overrides",
        default="{}",
        help=f"JSON changes to the configuration {DEMO_MODEL} (e.g. '{{\"image_size\": [112, 144]}}' for the 112x144 ablation).",
    )
    return parser


def simulate_stage(h5_path: Path, samples_per_class: int, seed: int, num_proc: int) -> None:
    """Simulate the HDF5 file, or reuse the one made with the same settings and simulator."""
    from gravityvit.data.simulated_dataset import simulate_cached

    logger.info(
        "[1/5] simulate: %d samples per class x 22 classes, seed %d -> %s", samples_per_class, seed, h5_path
    )
    if not simulate_cached(h5_path, samples_per_class, seed, num_proc):
        logger.info("[1/5] simulate: reusing %s", h5_path)


def convert_stage(h5_path: Path, arrow_dir: Path, num_proc: int) -> None:
    """Convert the HDF5 file to an Arrow dataset, or reuse the conversion of this very file."""
    from gravityvit.data.simulated_dataset import convert_cached

    logger.info("[2/5] convert: %s -> %s", h5_path, arrow_dir)
    if not convert_cached(h5_path, arrow_dir, num_proc):
        logger.info("[2/5] convert: reusing %s", arrow_dir)


# What a training run (gravityvit.training.run.train) writes at the top of its output folder:
# the model, processor, remote code, card, Trainer state, results, checkpoints and the test report.
TRAINING_RUN_ENTRIES = (
    "*.py",
    "*_results.json",
    "checkpoint-*",
    "config.json",
    "evaluation",
    "model.safetensors",
    "preprocessor_config.json",
    "README.md",
    "results.json",
    "runs",
    "trainer_state.json",
    "training_args.bin",
)


def is_earlier_training_run(directory: Path) -> bool:
    """Whether ``directory`` holds an earlier training run and nothing else (see TRAINING_RUN_ENTRIES)."""
    entries = [entry.name for entry in directory.iterdir()]
    has_run = any(
        name in ("config.json", "trainer_state.json") or name.startswith("checkpoint-") for name in entries
    )
    return has_run and all(
        any(Path(name).match(pattern) for pattern in TRAINING_RUN_ENTRIES) for name in entries
    )


def remove_earlier_training_run(model_dir: Path) -> None:
    """Remove ``model_dir`` when it is the model folder of an earlier demo run; refuse anything else.

    Raises
    ------
    gravityvit.file_utils.OutputError
        When ``model_dir`` holds files a training run does not write (the user's, or another
        tool's): nothing is removed.
    """
    from gravityvit.file_utils import OutputKind, check_output

    kind = OutputKind("training run", directory=True, recognise=is_earlier_training_run)
    check_output(model_dir, kind)
    if model_dir.is_dir():
        shutil.rmtree(model_dir)


def train_stage(
    args: argparse.Namespace, arrow_dir: Path, model_dir: Path, train_arguments: list[str]
) -> TrainResult:
    """Train the demo model from scratch with ``gravityvit.training.run.train`` (which also writes the test report).

    ``train_arguments`` (the demo's unknown arguments, e.g. ``--view_dropout 0.1``) override the
    demo's own settings.
    """
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.run import train

    remove_earlier_training_run(model_dir)  # a fresh run: old checkpoints would be resumed or rotated
    logger.info("[3/5] train: %s %s -> %s", DEMO_MODEL, args.config_overrides, model_dir)
    demo_settings = {
        **DEMO_RECIPE,
        "dataset": str(arrow_dir),
        "config_overrides": args.config_overrides,
        "output_dir": str(model_dir),
        "num_train_epochs": args.num_train_epochs,
        "learning_rate": args.learning_rate,
        "per_device_train_batch_size": args.batch_size,
        "seed": args.seed,
    }
    return train(*parse_train_arguments(train_arguments, defaults=demo_settings))


def classify_stage(model_dir: Path, arrow_dir: Path, count: int = 6) -> list[dict[str, Any]]:
    """Classify a few test samples with the glitch-classification pipeline: all views, then the 1 s view only."""
    import datasets
    from transformers import pipeline

    import gravityvit.pipelines  # noqa: F401  (registers "glitch-classification")
    from gravityvit.gravity_spy import IMAGE_COLUMNS

    test = datasets.load_from_disk(str(arrow_dir))["test"]
    labels = test["label"]
    class_names = test.features["label"].names  # the dataset's label set
    # One sample of each of several classes, rare ones first.
    chosen, seen = [], set()
    for name in (
        "Paired_Doves",
        "Chirp",
        "Wandering_Line",
        "Air_Compressor",
        "Blip",
        "Scattered_Light",
        "Whistle",
    ):
        index = next((i for i, label in enumerate(labels) if class_names[label] == name), None)
        if index is not None and name not in seen:
            chosen.append(index)
            seen.add(name)
    chosen = chosen[:count]
    classifier = pipeline("glitch-classification", model=str(model_dir), device="cpu")
    inputs = [
        {"sample_id": test[i]["gravityspy_id"], **{c: test[i][c] for c in IMAGE_COLUMNS}} for i in chosen
    ]
    one_view = [
        {"sample_id": x["sample_id"] + " (1 s only)", "image_1000ms": x["image_1000ms"]} for x in inputs
    ]
    results = classifier(inputs + one_view, top_k=3)
    logger.info("[5/5] classify: %d test samples with pipeline('glitch-classification')", len(inputs))
    rows = []
    for result, index in zip(results, chosen + chosen):
        true = class_names[labels[index]]
        weights = " ".join(f"{d}s:{w:.2f}" for d, w in result["view_weights"].items())
        mark = "ok " if result["label"] == true else "MISS"
        print(
            f"  {mark} {result['sample_id']:<24} true {true:<17} predicted {result['label']:<17} "
            f"({result['score']:.2f})  view weights {weights}"
        )
        rows.append({"true": true, **result})
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the five stages; return the summary written to OUTPUT_DIR/demo_summary.json."""
    args, train_arguments = build_parser().parse_known_args(argv)
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S", level=logging.INFO
    )
    import torch

    from gravityvit.data.simulated_dataset import simulated_dataset_paths
    from gravityvit.inference.parallel import available_cpus

    # One thread per CPU the process may run on (taskset, cgroup CPU sets), not per CPU of the
    # machine: more threads than CPUs make every parallel region wait for a descheduled thread.
    torch.set_num_threads(available_cpus())
    output_dir = Path(args.output_dir)
    h5_path, arrow_dir = simulated_dataset_paths(output_dir / "data", args.samples_per_class, args.seed)
    model_dir = output_dir / "model"
    timings: dict[str, float] = {}
    started = time.perf_counter()

    t = time.perf_counter()
    simulate_stage(h5_path, args.samples_per_class, args.seed, args.num_proc)
    timings["simulate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    convert_stage(h5_path, arrow_dir, args.num_proc)
    timings["convert_s"] = time.perf_counter() - t
    t = time.perf_counter()
    results = train_stage(args, arrow_dir, model_dir, train_arguments)
    timings["train_and_evaluate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    predictions = classify_stage(model_dir, arrow_dir)
    timings["classify_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - started

    test = results.test or {}
    summary = {
        "timings": timings,
        "test_accuracy": test.get("accuracy"),
        "test_macro_f1": test.get("macro_f1"),
        "test_single_duration": test.get("single_duration"),
        "validation_accuracy": results.validation.get("accuracy"),
        "validation_macro_f1": results.validation.get("macro_f1"),
        "model_dir": str(model_dir),
        "report_dir": results.report_dir,
        "dataset": str(arrow_dir),
        "settings": {**vars(args), "train_arguments": train_arguments},
        "examples": predictions,
    }
    (output_dir / "demo_summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print()
    print("GravityViT demo finished")
    for stage, seconds in timings.items():
        print(f"  {stage:<22} {seconds:8.1f} s")
    print(f"  test accuracy          {test.get('accuracy', float('nan')):.4f}")
    print(f"  test macro-F1          {test.get('macro_f1', float('nan')):.4f}")
    print(f"  model                  {model_dir}")
    print(f"  evaluation report      {results.report_dir}  (metrics.json, confusion_matrix.png, ...)")
    print(f"  summary                {output_dir / 'demo_summary.json'}")
    return summary


if __name__ == "__main__":
    main()
