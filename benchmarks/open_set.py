"""Open-set benchmark: how well the unknown-glitch score flags a class the model never saw.

For each left-out class ``c``: train on the other classes (``examples/train.py``, which fits the
temperature and the unknown threshold on the validation split at the end), then score the whole test
split, and report (with ``--leave_out_together`` one training leaves every ``--held_out`` class out at
once, and each is scored against the classes the model knows: a cheaper variant, 2 trainings instead of
one per class plus one)

- the AUROC of ``unknown_score`` (the model's configured score: the relative Mahalanobis distance
  of the pooled feature unless ``--unknown_score_method energy``) at separating ``c``'s test samples
  (positives) from the known classes' test samples (negatives), and beside it, for the ablation, the
  AUROC of the energy score of the same model's logits;
- the fraction of ``c``'s samples flagged ``is_unknown`` and of known samples flagged (about 5 % by
  construction of the threshold);
- the known classes' test accuracy, beside that of a reference model trained on every class
  (``--reference``) on the same samples: leaving a class out should not cost the others accuracy;
- with ``--add_class_examples N`` (default 10, 0 skips it): ``c`` added back to the trained model from
  N of its *training-split* samples with :func:`gravityvit.inference.add_class.add_class` (in
  memory, no retraining), then ``c``'s test recall and the other classes' test accuracy of the grown
  model, beside the reference model's recall of ``c``.

Usage::

    python benchmarks/open_set.py --output outputs/open_set.json \
        [--dataset CONVERTED_DIR | --samples_per_class 190 --seed 0] \
        [--held_out Blip Whistle Koi_Fish Scattered_Light Violin_Mode] [--reference] \
        [--add_class_examples 10] [--leave_out_together] [--reuse] \
        [--unknown_score_method relative_mahalanobis] \
        [any examples/train.py argument, e.g. --num_train_epochs 14 --learning_rate 3e-3]

``--reuse`` rescores the runs of an earlier benchmark in ``--work_dir`` without retraining: a run
whose ``model`` directory exists is loaded, its unknown score's class statistics are fitted on its
training split, its temperature and threshold on its validation split (in memory; the saved model
is left as it is), and it is scored as if just trained.

Without ``--dataset`` the simulated dataset of ``make demo`` is made (or reused) under
``--work_dir/data``. Training arguments default to the demo's recipe
(``gravityvit.training.recipes.DEMO_RECIPE``, on the CPU); pass others after the benchmark's own. Prints a markdown table and
writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gravityvit.training.recipes import DEMO_SAMPLES_PER_CLASS

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HELD_OUT = ("Blip", "Whistle", "Koi_Fish", "Scattered_Light", "Violin_Mode")
# The demo's training recipe (examples/demo.py), used unless the command line overrides it.

logger = logging.getLogger("gravityvit.open_set")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", help="Converted dataset directory (default: simulate the demo's).")
    parser.add_argument(
        "--samples_per_class",
        type=int,
        default=DEMO_SAMPLES_PER_CLASS,
        help="Simulated samples per class (default: the demo's).",
    )
    parser.add_argument("--seed", type=int, default=0, help="Seed of the simulation and the training.")
    parser.add_argument("--num_proc", type=int, default=2, help="Processes for simulation and conversion.")
    parser.add_argument(
        "--held_out", nargs="+", default=list(DEFAULT_HELD_OUT), help="Classes left out, one run each."
    )
    parser.add_argument(
        "--leave_out_together",
        action="store_true",
        help="One training without all --held_out classes at once (instead of one per class).",
    )
    parser.add_argument(
        "--reference", action="store_true", help="Also train on every class, for the known accuracy."
    )
    parser.add_argument("--work_dir", default="outputs/open_set", help="Models and data of the runs.")
    parser.add_argument("--output", default=None, help="Write the results here as JSON.")
    parser.add_argument("--batch_size", type=int, default=64, help="Samples per forward pass when scoring.")
    parser.add_argument(
        "--unknown_score_method",
        choices=("energy", "relative_mahalanobis"),
        default="relative_mahalanobis",
        help="The unknown score the models are calibrated with (the energy AUROC is reported beside it).",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Skip training where <work_dir>/<run>/model exists; refit its unknown score and threshold.",
    )
    parser.add_argument(
        "--add_class_examples",
        type=int,
        default=10,
        help="Add each left-out class back from this many of its training samples (0: skip).",
    )
    parser.add_argument(
        "--add_class_method",
        choices=("anchored", "prototype"),
        default="anchored",
        help="How add_class fits the new row: against anchors from the class statistics (default), or "
        "the prototype and its bias alone (the ablation).",
    )
    return parser


def train_arguments(
    extra: list[str],
    dataset: Path,
    output_dir: Path,
    seed: int,
    unknown_score_method: str = "relative_mahalanobis",
) -> list[str]:
    """examples/train.py arguments: ``extra`` with our data and output (the demo's recipe fills the rest)."""
    argv = list(extra)
    argv += ["--dataset", str(dataset), "--output_dir", str(output_dir), "--seed", str(seed)]
    argv += ["--unknown_score_method", unknown_score_method]
    # The benchmark scores the test split itself (with the left-out class in it).
    return [*argv, "--evaluate_test", "false"]


def _config_overrides(extra: list[str], label_names: list[str]) -> list[str]:
    """Add the known classes to ``--config_overrides`` (named configurations default to all 22)."""
    extra = list(extra)
    overrides: dict[str, Any] = {}
    if "--config_overrides" in extra:
        index = extra.index("--config_overrides")
        overrides = json.loads(extra[index + 1])
        del extra[index : index + 2]
    overrides["id2label"] = dict(enumerate(label_names))
    return [*extra, "--config_overrides", json.dumps(overrides)]


def trained_model(
    run_data: Path,
    model_dir: Path,
    train_argv: list[str],
    recipe: dict[str, Any],
    reuse: bool,
    unknown_score_method: str,
    batch_size: int,
):
    """The model of one run and its calibration: trained now, or with ``reuse`` loaded from ``model_dir``.

    A reused model is recalibrated in memory: class statistics on the run's training split,
    temperature and threshold on its validation split (``calibrate_model``); ``model_dir`` is not
    written.
    """
    from gravityvit.hub import load_model_and_processor

    if reuse and (model_dir / "config.json").is_file():
        import datasets

        from gravityvit.inference.calibration import calibrate_model

        logger.info("reusing %s", model_dir)
        model, processor = load_model_and_processor(model_dir)
        data = datasets.load_from_disk(str(run_data))
        calibration = calibrate_model(
            model,
            processor,
            data["validation"],
            batch_size=batch_size,
            device="cpu",
            statistics_dataset=data["train"],
            unknown_score_method=unknown_score_method,
        )
        return model, processor, calibration
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.run import train

    run_results = train(*parse_train_arguments(train_argv, defaults=recipe))
    model, processor = load_model_and_processor(model_dir)
    return model, processor, run_results.calibration


def score_model(model, processor, test, batch_size: int) -> dict[str, Any]:
    """Predicted class names, unknown scores (the model's and the energy's) and flags of ``model`` on ``test``."""
    from gravityvit.inference.unknown import effective_unknown_score_method, flag_unknown, unknown_scores
    from gravityvit.training.evaluation import predict_split

    predictions = predict_split(model, processor, test, batch_size=batch_size, device="cpu", progress=False)
    names = [str(model.config.id2label[i]) for i in range(len(model.config.id2label))]
    return {
        "predicted_names": np.array(names)[predictions.predicted],
        "scores": predictions.unknown_scores,
        "energy_scores": unknown_scores(predictions.logits),
        "method": effective_unknown_score_method(model),
        "flags": flag_unknown(predictions.unknown_scores, model.config.unknown_threshold),
    }


def open_set_figures(
    scored: dict[str, np.ndarray], true_names: np.ndarray, held_out: str, left_out: list[str]
) -> dict[str, Any]:
    """AUROC, flag rates and the known classes' accuracy for the left-out class ``held_out``.

    ``left_out`` are all the classes the model was trained without (``[held_out]`` one at a time);
    the known samples are those of the other classes.
    """
    from gravityvit.inference.unknown import open_set_auroc

    unknown = true_names == held_out
    known = ~np.isin(true_names, left_out)
    figures = {
        "unknown_score_method": scored.get("method", "energy"),
        "auroc": open_set_auroc(scored["scores"][known], scored["scores"][unknown]),
        "unknown_flagged": float(scored["flags"][unknown].mean()),
        "known_flagged": float(scored["flags"][known].mean()),
        "known_accuracy": float((scored["predicted_names"][known] == true_names[known]).mean()),
        "num_unknown": int(unknown.sum()),
        "num_known": int(known.sum()),
        "left_out_with": [name for name in left_out if name != held_out],
    }
    if "energy_scores" in scored:  # the ablation: the energy of the same model's logits
        energy = scored["energy_scores"]
        figures["energy_auroc"] = open_set_auroc(energy[known], energy[unknown])
    return figures


def add_class_examples(train, label: int, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` training samples of class ``label`` (a seeded draw), as dicts of views for ``add_class``."""
    from gravityvit.gravity_spy import IMAGE_COLUMNS

    indices = np.flatnonzero(np.asarray(train["label"]) == label)
    if len(indices) < count:
        raise SystemExit(
            f"open_set: --add_class_examples {count} but the training split has {len(indices)} samples "
            f"of class {label}"
        )
    chosen = np.sort(np.random.default_rng(seed).choice(indices, size=count, replace=False))
    rows = train.select(chosen.tolist())
    return [
        {"gravityspy_id": row["gravityspy_id"], **{column: row[column] for column in IMAGE_COLUMNS}}
        for row in rows
    ]


def add_class_figures(
    model,
    processor,
    test,
    true_names: np.ndarray,
    held_out: str,
    left_out: list[str],
    examples: list[dict[str, Any]],
    batch_size: int,
    use_anchors: bool = True,
) -> dict[str, Any]:
    """Add ``held_out`` to the model trained without it from ``examples``; its recall and the others' accuracy.

    The others are the classes the model was trained on (not those in ``left_out``).
    """
    from gravityvit.inference.add_class import add_class

    grown, info = add_class(
        model, processor, held_out, examples, batch_size=batch_size, use_anchors=use_anchors
    )
    predicted = score_model(grown, processor, test, batch_size)["predicted_names"]
    added = true_names == held_out
    others = ~np.isin(true_names, left_out)
    return {
        "num_examples": info["num_examples"],
        "example_recall": info["example_recall"],
        "anchored": info["anchored"],
        "recall": float((predicted[added] == held_out).mean()),
        "known_accuracy": float((predicted[others] == true_names[others]).mean()),
        # Known samples the grown model now calls the added class.
        "known_taken": float((predicted[others] == held_out).mean()),
    }


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return (and optionally write) the results."""
    args, extra = build_parser().parse_known_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    sys.path[:0] = [str(REPO_ROOT)]
    import datasets

    from gravityvit.data.class_subset import keep_classes
    from gravityvit.training.recipes import DEMO_RECIPE

    recipe = {**DEMO_RECIPE, "use_cpu": True}

    work_dir = Path(args.work_dir)
    if args.dataset is None:
        from gravityvit.data.simulated_dataset import simulated_arrow_dataset

        dataset_dir = simulated_arrow_dataset(
            work_dir / "data", args.samples_per_class, args.seed, args.num_proc
        )
    else:
        dataset_dir = Path(args.dataset)
    dataset = datasets.load_from_disk(str(dataset_dir))
    all_names = list(dataset["train"].features["label"].names)
    unknown = sorted(set(args.held_out) - set(all_names))
    if unknown:
        raise SystemExit(f"open_set: --held_out names classes the dataset does not have: {unknown}")
    test = dataset["test"]
    true_names = np.array(all_names)[np.asarray(test["label"])]

    results: dict[str, Any] = {
        "dataset": str(dataset_dir),
        "train_arguments": extra,
        "leave_out_together": args.leave_out_together,
        "reuse": args.reuse,
        "held_out": {},
    }
    groups = [list(args.held_out)] if args.leave_out_together else [[name] for name in args.held_out]
    for group in groups:
        known = [name for name in all_names if name not in group]
        run_dir = work_dir / ("without_" + "+".join(group))
        model_dir = run_dir / "model"
        if not (args.reuse and (run_dir / "data" / "dataset_dict.json").is_file()):
            keep_classes(dataset, known, splits=("train", "validation")).save_to_disk(str(run_dir / "data"))
        logger.info("model without %s (%d classes)", ", ".join(group), len(known))
        model, processor, calibration = trained_model(
            run_dir / "data",
            model_dir,
            train_arguments(
                _config_overrides(extra, known),
                run_dir / "data",
                model_dir,
                args.seed,
                args.unknown_score_method,
            ),
            recipe,
            args.reuse,
            args.unknown_score_method,
            args.batch_size,
        )
        scored = score_model(model, processor, test, args.batch_size)
        for held_out in group:
            figures = open_set_figures(scored, true_names, held_out, group)
            figures["calibration"] = calibration
            if args.add_class_examples > 0:
                examples = add_class_examples(
                    dataset["train"], all_names.index(held_out), args.add_class_examples, args.seed
                )
                figures["add_class"] = add_class_figures(
                    model,
                    processor,
                    test,
                    true_names,
                    held_out,
                    group,
                    examples,
                    args.batch_size,
                    use_anchors=args.add_class_method == "anchored",
                )
            results["held_out"][held_out] = figures
            logger.info("%s: %s", held_out, {k: v for k, v in figures.items() if k != "calibration"})
        results["mean_auroc"] = float(np.mean([r["auroc"] for r in results["held_out"].values()]))
        results["mean_energy_auroc"] = float(
            np.mean([r["energy_auroc"] for r in results["held_out"].values()])
        )
        # Every finished run is kept, so a long benchmark stopped early still leaves its figures.
        _write_results(results, args.output)

    if args.reference:
        model_dir = work_dir / "all_classes" / "model"
        if args.reuse and (model_dir / "config.json").is_file():
            from gravityvit.hub import load_model_and_processor

            # Only its predicted labels are used: no recalibration needed.
            model, processor = load_model_and_processor(model_dir)
        else:
            model, processor, _ = trained_model(
                dataset_dir,
                model_dir,
                train_arguments(
                    _config_overrides(extra, all_names),
                    dataset_dir,
                    model_dir,
                    args.seed,
                    args.unknown_score_method,
                ),
                recipe,
                False,
                args.unknown_score_method,
                args.batch_size,
            )
        scored = score_model(model, processor, test, args.batch_size)
        for held_out, figures in results["held_out"].items():
            known = ~np.isin(true_names, [held_out, *figures["left_out_with"]])
            figures["reference_known_accuracy"] = float(
                (scored["predicted_names"][known] == true_names[known]).mean()
            )
            figures["reference_recall"] = float(
                (scored["predicted_names"][true_names == held_out] == held_out).mean()
            )

    print(markdown_table(results))
    _write_results(results, args.output)
    return results


def _write_results(results: dict[str, Any], output: str | None) -> None:
    """Write ``results`` as JSON to ``output`` (a temporary sibling renamed into place)."""
    if not output:
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(results, indent=2) + "\n")
    temporary.replace(path)


def markdown_table(results: dict[str, Any]) -> str:
    """Two tables, one row per left-out class: the unknown score's figures, then the added class's.

    The first: AUROC of the model's score and of the energy score, flag rates, known accuracy (and
    the all-class reference model's). The second
    (when the class was added back): the added class's recall and the other classes' accuracy of the
    grown model, beside the reference model's.
    """

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    rows = results["held_out"]
    method = next(iter(rows.values()), {}).get("unknown_score_method", "energy")
    lines = [
        f"| left-out class | AUROC ({method}) | AUROC (energy) | left-out flagged | known flagged | "
        "known accuracy | all-class model |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['auroc']:.3f} | {cell(r.get('energy_auroc'))} | {r['unknown_flagged']:.3f} | "
            f"{r['known_flagged']:.3f} | {r['known_accuracy']:.3f} | {cell(r.get('reference_known_accuracy'))} |"
        )
    lines.append(
        f"| **mean** | **{results['mean_auroc']:.3f}** | **{cell(results.get('mean_energy_auroc'))}** | | | | |"
    )
    added = {name: r for name, r in rows.items() if "add_class" in r}
    if added:
        lines += [
            "",
            "| added class | examples | recall | all-class model's recall | other classes' accuracy | "
            "all-class model's | others taken by the added class |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, r in added.items():
            a = r["add_class"]
            lines.append(
                f"| {name} | {a['num_examples']} | {a['recall']:.3f} | {cell(r.get('reference_recall'))} | "
                f"{a['known_accuracy']:.3f} | {cell(r.get('reference_known_accuracy'))} | "
                f"{a['known_taken']:.3f} |"
            )
        means = {
            key: float(np.mean([r["add_class"][key] for r in added.values()]))
            for key in ("recall", "known_accuracy")
        }
        lines.append(f"| **mean** | | **{means['recall']:.3f}** | | **{means['known_accuracy']:.3f}** | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    run()
