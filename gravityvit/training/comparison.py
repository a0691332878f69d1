"""The model comparison of ``examples/compare_models.py``: its presets, its tables and the runs behind them.

Each model of a preset is trained once per seed (``gravityvit.training.run.train``), at equal epochs
or at an equal wall-clock budget (``TrainingBudgetCallback``), and measured: test accuracy and
macro-F1, training time and FLOPs, parameters, inference samples/s (``gravityvit.training.cost``),
and optionally the accuracy with 1, 2 and 4 of the durations (``view_subset_results``) and on real
Gravity Spy samples (``gravityvit.inference.real_samples``). The tables give the mean ± standard
deviation over seeds and say whether the differences exceed that spread.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

RARE_CLASSES: tuple[str, ...] = ("Paired_Doves", "Wandering_Line", "Chirp", "Air_Compressor")

# name -> (named configuration, config overrides)
PRESETS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "paper": {
        "GravityViT multi-view (ViT-B/16)": ("gravityvit/multiview-b16", {}),
        "single-view ViT-B/16 (1 s)": ("gravityvit/singleview-b16", {}),
        "Gravity Spy CNN (merged view)": ("gravityspy/cnn-baseline", {}),
    },
    "cpu": {
        "GravityViT multi-view": ("gravityvit/multiview-demo", {}),
        "single-view ViT (1 s)": (
            "gravityvit/multiview-demo",
            {"num_views": 1, "view_durations_s": [1.0], "fusion": "mean", "head_hidden_size": 0},
        ),
        "Gravity Spy CNN (merged view)": ("gravityspy/cnn-baseline", {}),
    },
}


def _mean_std(values: list[float]) -> str:
    array = np.asarray(values, dtype=float)
    spread = array.std(ddof=1) if len(array) > 1 else 0.0
    return f"{array.mean():.3f} ± {spread:.3f}"


def interval_hull(results: list[dict[str, Any]], metric: str) -> list[float] | None:
    """The span of a model's 95 % bootstrap intervals of ``metric`` over its seeds (None without intervals).

    Taking the lowest low and the highest high covers both the test-sample draw and the seed.
    """
    bounds = [r["intervals"][metric] for r in results if (r.get("intervals") or {}).get(metric)]
    if not bounds:
        return None
    return [min(low for low, _ in bounds), max(high for _, high in bounds)]


def differences_beyond_intervals(
    runs: dict[str, list[dict[str, Any]]], metrics: tuple[str, ...] = ("accuracy", "macro_f1")
) -> list[str]:
    """One sentence per pair of models and metric: do their scores differ beyond their intervals?

    Two models differ when their intervals (``interval_hull``: the span over seeds of the 95 %
    bootstrap intervals) do not overlap; overlapping intervals do not tell them apart.
    """
    from gravityvit.training.intervals import intervals_overlap

    lines = []
    names = list(runs)
    for metric in metrics:
        hulls = {name: interval_hull(runs[name], metric) for name in names}
        for i, first in enumerate(names):
            for second in names[i + 1 :]:
                a, b = hulls[first], hulls[second]
                if a is None or b is None:
                    continue
                if intervals_overlap(a, b):
                    verdict = "the intervals overlap: not told apart by this test split"
                else:
                    better = first if a[0] > b[1] else second
                    verdict = f"they differ beyond their intervals ({better} is better)"
                lines.append(
                    f"- {metric}: {first} [{a[0]:.3f}, {a[1]:.3f}] vs {second} [{b[0]:.3f}, {b[1]:.3f}]: "
                    f"{verdict}."
                )
    return lines


def markdown_table(runs: dict[str, list[dict[str, Any]]], dataset: str, seeds: list[int]) -> str:
    """One markdown table: mean ± std over seeds of accuracy, macro-F1 and the rare classes' F1.

    When the runs carry their reports' bootstrap ``intervals``, a column gives each model's macro-F1
    interval (the span over seeds) and the lines below the table say which models differ beyond them.
    """
    header = ["model", "accuracy", "macro-F1", *(f"F1 {name}" for name in RARE_CLASSES)]
    with_intervals = any(interval_hull(results, "macro_f1") for results in runs.values())
    if with_intervals:
        header.append("macro-F1 95 % interval")
    lines = [
        f"Test split of `{dataset}`, mean ± standard deviation over seeds {seeds}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for name, results in runs.items():
        cells = [
            name,
            _mean_std([r["accuracy"] for r in results]),
            _mean_std([r["macro_f1"] for r in results]),
        ]
        cells += [_mean_std([r["per_class"][c]["f1"] for r in results]) for c in RARE_CLASSES]
        if with_intervals:
            hull = interval_hull(results, "macro_f1")
            cells.append("-" if hull is None else f"[{hull[0]:.3f}, {hull[1]:.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    verdicts = differences_beyond_intervals(runs)
    if verdicts:
        lines += [
            "",
            "95 % bootstrap intervals over the test samples (1,000 resamples), spanned over the seeds:",
            *verdicts,
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# Model variants: the ViT at other input sizes
# ---------------------------------------------------------------------------------------------------


def parse_image_size(text: str) -> tuple[int, int]:
    """``"112x136"`` -> (112, 136); ``"224"`` -> (224, 224)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", text)
    if not match:
        raise ValueError(f"image size must be HEIGHTxWIDTH or SIZE in pixels, e.g. 112x136; got {text!r}")
    height = int(match.group(1))
    width = int(match.group(2) or height)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive; got {text!r}")
    return height, width


def is_vit(named_config: str, overrides: dict[str, Any]) -> bool:
    """Whether the named configuration (with overrides) is a GravityViT, which takes an input size."""
    from gravityvit.configuration_gravityvit import GravityViTConfig
    from gravityvit.named_configs import NAMED_CONFIGS

    return issubclass(NAMED_CONFIGS[named_config].config_class, GravityViTConfig)


def fit_image_size(named_config: str, overrides: dict[str, Any], size: tuple[int, int]) -> tuple[int, int]:
    """``size`` rounded up to a multiple of the backbone's token size (16 pixels for the demo's stem).

    The native 140x170 views are not a whole number of 16x16 tokens: 140x170 becomes 144x176 (the views
    are upsampled by 3 %, nothing is cropped). The backbone is built on the meta device (no memory).
    """
    import torch

    from gravityvit.modeling_backbone import create_config_backbone, describe_backbone
    from gravityvit.named_configs import get_named_config

    config = get_named_config(named_config, **{**overrides, "image_size": list(size)})
    with torch.device("meta"):
        backbone = create_config_backbone(config)
    patch = describe_backbone(backbone, config.conv_stem_channels, config.conv_stem_strides)["patch_size"]
    if patch is None:
        return size
    return (math.ceil(size[0] / patch[0]) * patch[0], math.ceil(size[1] / patch[1]) * patch[1])


def with_vit_image_sizes(
    models: dict[str, tuple[str, dict[str, Any]]], sizes: Sequence[tuple[int, int]]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """One entry per ViT model and input size (name suffixed ``@ HxW``); other models unchanged."""
    variants: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, (named, overrides) in models.items():
        if not sizes or not is_vit(named, overrides):
            variants[name] = (named, overrides)
            continue
        for requested in sizes:
            height, width = fit_image_size(named, overrides, requested)
            if (height, width) != tuple(requested):
                logger.info(
                    "%s: %dx%d is not a whole number of tokens; using %dx%d", name, *requested, height, width
                )
            variants[f"{name} @ {height}x{width}"] = (named, {**overrides, "image_size": [height, width]})
    return variants


def run_directory_name(name: str) -> str:
    """A folder name for a model's runs: ``GravityViT multi-view @ 112x136`` -> ``GravityViT_multi-view_112x136``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name.replace(" @ ", "_")).strip("_")


# ---------------------------------------------------------------------------------------------------
# One run: train, then measure
# ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class ComparisonSettings:
    """How every model of a comparison is trained and measured.

    Attributes:
        dataset (`str`): the converted dataset (directory or Hub id).
        output_dir (`Path`): runs go to ``OUTPUT_DIR/runs/<model>/seed<N>``.
        train_args (`list[str]`): further ``examples/train.py`` flags, the same for every model.
        budget_minutes (`float`, *optional*): train each model for this wall-clock time instead of a
            number of epochs.
        views_eval (`bool`): also score the test split with 1, 2 and 4 of the durations.
        real_samples (`list`, *optional*): real samples (``load_real_samples``) to classify.
        throughput_batch_size (`int`): batch of the inference-throughput measurement.
    """

    dataset: str
    output_dir: Path
    train_args: list[str] = dataclasses.field(default_factory=list)
    budget_minutes: float | None = None
    views_eval: bool = False
    real_samples: list[Any] | None = None
    throughput_batch_size: int = 64


# Epochs given to the Trainer in budget mode: the budget, not this, ends training.
BUDGET_MODE_EPOCHS = 100_000


def _parse_run_arguments(settings: ComparisonSettings, defaults: dict[str, Any]):
    """The run's (model, data, training) arguments, with the budget mode's changes applied."""
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.cost import TrainingBudgetCallback

    model_args, data_args, training_args = parse_train_arguments(settings.train_args, defaults=defaults)
    callbacks = []
    if settings.budget_minutes is not None:
        # The warm-up keeps the share of the schedule it has in the epoch recipe.
        warmup_fraction = 0.0
        if training_args.warmup_steps == 0 and training_args.num_train_epochs > 0:
            warmup_fraction = min(0.5, training_args.warmup_epochs / training_args.num_train_epochs)
        callbacks.append(TrainingBudgetCallback(60.0 * settings.budget_minutes, warmup_fraction))
        # The budget ends training: no epoch limit, no early stopping, and the clock-based schedule
        # replaces the step-based warm-up.
        training_args.num_train_epochs = BUDGET_MODE_EPOCHS
        training_args.early_stopping_patience = 0
        training_args.warmup_epochs = 0.0
        training_args.warmup_steps = 0
    return model_args, data_args, training_args, callbacks


def measure_cost(
    model, num_train_samples: int, global_step: int, batch_size: int, throughput_batch: int
) -> dict[str, Any]:
    """Parameters, forward FLOPs per sample, samples seen, training FLOPs and inference samples/s of a trained model."""
    from gravityvit.training.cost import (
        count_parameters,
        forward_flops_per_sample,
        inference_throughput,
        samples_seen,
        training_flops,
    )

    forward = forward_flops_per_sample(model)
    seen = samples_seen(global_step, num_train_samples, batch_size)
    return {
        "parameters": count_parameters(model)["total"],
        "forward_flops_per_sample": forward,
        "global_step": global_step,
        "samples_seen": seen,
        "training_flops": training_flops(forward, seen),
        "inference_samples_per_s": inference_throughput(model, batch_size=throughput_batch),
    }


# The "prediction" of a real sample that has none of the model's durations.
NO_MODEL_VIEW = "(no view of the model's durations)"


def real_accuracy(
    model_dir: str, samples: list[Any], device: str = "cpu", batch_size: int = 32
) -> dict[str, Any]:
    """Accuracy of the model in ``model_dir`` on real samples: overall, per folder and by durations present.

    A sample with none of the model's durations (a 4 s-only sample for the 1 s single-view model)
    cannot be classified by it: it counts as wrong, and ``without_model_view`` says how many there were.
    """
    from gravityvit import gravity_spy
    from gravityvit.inference.real_samples import (
        accuracy_by_view_count,
        accuracy_summary,
        classify,
        load_pipeline,
    )

    pipe = load_pipeline(model_dir, device)
    model_durations = list(pipe.model.config.view_durations_s)
    answerable = [
        index
        for index, sample in enumerate(samples)
        if any(
            present and gravity_spy.match_duration(duration, model_durations) is not None
            for duration, present in zip(gravity_spy.VIEW_DURATIONS_S, sample.view_mask)
        )
    ]
    predicted = [NO_MODEL_VIEW] * len(samples)
    if answerable:
        predictions = classify(
            pipe,
            [samples[i].present_views for i in answerable],
            [samples[i].sample_id for i in answerable],
            batch_size,
        )
        for index, label in zip(answerable, predictions.predicted):
            predicted[index] = label
    summary = accuracy_summary([s.label for s in samples], predicted, [s.folder for s in samples])
    return {
        "n": summary["n"],
        "correct": summary["correct"],
        "accuracy": summary["accuracy"],
        "per_folder": summary["per_folder"],
        "by_view_count": accuracy_by_view_count(samples, predicted),
        "without_model_view": len(samples) - len(answerable),
    }


def run_one(
    name: str, named_config: str, overrides: dict[str, Any], seed: int, settings: ComparisonSettings
) -> dict[str, Any]:
    """Train one model with one seed, then measure it; return the run's numbers (as in ``comparison.json``)."""
    from gravityvit.hub import load_model_and_processor
    from gravityvit.training.data import load_glitch_dataset
    from gravityvit.training.run import _truncate, train

    run_dir = settings.output_dir / "runs" / run_directory_name(name) / f"seed{seed}"
    defaults = {
        "dataset": settings.dataset,
        "model": named_config,
        "output_dir": str(run_dir),
        "config_overrides": json.dumps(overrides) if overrides else None,
        "seed": seed,
    }
    model_args, data_args, training_args, callbacks = _parse_run_arguments(settings, defaults)
    logger.info("training %s, seed %d -> %s", name, seed, run_dir)
    result = train(model_args, data_args, training_args, callbacks=callbacks)
    report = json.loads((Path(result.output_dir) / "evaluation" / "metrics.json").read_text())
    state = json.loads((Path(result.output_dir) / "trainer_state.json").read_text())
    dataset = load_glitch_dataset(result.dataset)
    num_train = len(_truncate(dataset[data_args.train_split], data_args.max_train_samples))
    batch = (
        training_args.per_device_train_batch_size
        * training_args.world_size
        * training_args.gradient_accumulation_steps
    )
    model, processor = load_model_and_processor(result.output_dir)
    device = training_args.device  # measure where the model trained (the GPU of a paper run)
    model.to(device)
    run: dict[str, Any] = {
        "seed": seed,
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "per_class": {c: report["per_class"][c] for c in RARE_CLASSES},
        "intervals": report.get("intervals"),
        "train_seconds": result.train_seconds,
        "epochs": float(state.get("epoch") or 0.0),
        "budget_minutes": settings.budget_minutes,
        "image_size": list(model.config.image_size_hw),
        "run_dir": str(run_dir),
        **measure_cost(model, num_train, int(state["global_step"]), batch, settings.throughput_batch_size),
    }
    if settings.views_eval:
        from gravityvit.training.evaluation import view_subset_results

        test_split = _truncate(dataset[data_args.test_split], data_args.max_eval_samples)
        run["views"] = view_subset_results(
            model, processor, test_split, batch_size=training_args.per_device_eval_batch_size, device=device
        )
    if settings.real_samples:
        run["real"] = real_accuracy(result.output_dir, settings.real_samples, device=device.type)
    return run


# ---------------------------------------------------------------------------------------------------
# Dry run: build, count, one step
# ---------------------------------------------------------------------------------------------------

# Sustained training throughput assumed for the GPU-time estimate of a dry run: about a third of an
# A100's 312 TFLOP/s bf16 peak, typical of ViT training with mixed precision.
ASSUMED_GPU_TFLOPS = 100.0


def dry_run_one(
    name: str,
    named_config: str,
    overrides: dict[str, Any],
    num_train_samples: int | None = None,
    num_train_epochs: float = 50.0,
    assumed_tflops: float = ASSUMED_GPU_TFLOPS,
    batch_size: int = 2,
) -> dict[str, Any]:
    """Build one model as a run would, count its parameters and FLOPs, and take one training step on a batch.

    The step runs on ``batch_size`` random samples through the model's image processor (the training
    path, without a dataset). With ``num_train_samples`` the training FLOPs of ``num_train_epochs``
    epochs are projected, and the GPU time at ``assumed_tflops`` sustained (an estimate, not a
    measurement).

    Raises:
        ValueError: when the step's loss is not finite.
    """
    import torch

    from gravityvit.training.arguments import ModelArguments
    from gravityvit.training.cost import count_parameters, forward_flops_per_sample, training_flops
    from gravityvit.training.run import load_model

    model_args = ModelArguments(
        model=named_config, config_overrides=json.dumps(overrides) if overrides else None
    )
    model, processor, _ = load_model(model_args)
    forward = forward_flops_per_sample(model)
    num_views = len(model.config.view_durations_s)
    rng = np.random.default_rng(0)
    views = rng.uniform(0.0, 1.0, (batch_size, num_views, 140, 170)).astype(np.float32)
    features = processor.preprocess_views(views, view_mask=np.ones((batch_size, num_views), bool))
    labels = torch.arange(batch_size) % model.config.num_labels
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    started = time.perf_counter()
    loss = model(pixel_values=features["pixel_values"], view_mask=features["view_mask"], labels=labels).loss
    loss.backward()
    optimizer.step()
    step_seconds = time.perf_counter() - started
    if not torch.isfinite(loss):
        raise ValueError(f"{name}: the training step's loss is {loss.item()}")
    result: dict[str, Any] = {
        "model": name,
        "named_config": named_config,
        "overrides": overrides,
        "image_size": list(model.config.image_size_hw),
        "num_views": num_views,
        "parameters": count_parameters(model)["total"],
        "forward_flops_per_sample": forward,
        "step_batch_size": batch_size,
        "step_seconds_cpu": step_seconds,
        "loss": float(loss.item()),
    }
    if num_train_samples:
        total = training_flops(forward, round(num_train_samples * num_train_epochs))
        result.update(
            {
                "num_train_samples": num_train_samples,
                "num_train_epochs": num_train_epochs,
                "training_flops": total,
                "assumed_tflops": assumed_tflops,
                "estimated_gpu_hours": total / (assumed_tflops * 1e12) / 3600,
            }
        )
    return result


def _duration(hours: float) -> str:
    """0.31 -> '19 min'; 2.5 -> '2.5 h'."""
    return f"{hours:.1f} h" if hours >= 1 else f"{60 * hours:.2g} min"


def dry_run_table(results: list[dict[str, Any]]) -> str:
    """Markdown table of a dry run: what each model is and what training it would cost."""
    header = [
        "model",
        "input",
        "parameters",
        "forward FLOPs / sample",
        "CPU step, batch 2 (s)",
        "training FLOPs",
        "estimated GPU time",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        height, width = r["image_size"]
        cells = [
            r["model"],
            f"{r['num_views']} x {height}x{width}",
            _si(r["parameters"]),
            _si(r["forward_flops_per_sample"]),
            f"{r['step_seconds_cpu']:.1f}",
            _si(r["training_flops"]) if "training_flops" in r else "-",
            _duration(r["estimated_gpu_hours"]) if "estimated_gpu_hours" in r else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------------


def _mean_std_of(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    array = np.asarray(values, dtype=float) * scale
    spread = array.std(ddof=1) if len(array) > 1 else 0.0
    return f"{array.mean():.{digits}f} ± {spread:.{digits}f}"


def _si(value: float) -> str:
    """1.23e12 -> '1.23 T'."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}"
    return f"{value:.3g}"


def cost_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown table of what each model cost: parameters, FLOPs, time, steps, inference speed."""
    header = [
        "model",
        "parameters",
        "forward FLOPs / sample",
        "training FLOPs",
        "training time (min)",
        "epochs",
        "samples seen",
        "inference samples/s",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, results in runs.items():
        first = results[0]
        cells = [
            name,
            _si(first["parameters"]),
            _si(first["forward_flops_per_sample"]),
            _si(float(np.mean([r["training_flops"] for r in results]))),
            _mean_std_of([r["train_seconds"] for r in results], 1 / 60, 1),
            _mean_std_of([r["epochs"] for r in results], digits=1),
            f"{np.mean([r['samples_seen'] for r in results]):.0f}",
            f"{np.mean([r['inference_samples_per_s'] for r in results]):.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def spread_verdicts(runs: dict[str, list[dict[str, Any]]], metric: str = "macro_f1") -> list[str]:
    """Whether each model's difference to the best exceeds the seeds' spread (sum of both standard deviations).

    With one seed there is no spread to compare with, and the lines say so.
    """
    means = {name: float(np.mean([r[metric] for r in results])) for name, results in runs.items()}
    stds = {
        name: float(np.std([r[metric] for r in results], ddof=1)) if len(results) > 1 else math.nan
        for name, results in runs.items()
    }
    best = max(means, key=means.get)
    label = {"macro_f1": "macro-F1"}.get(metric, metric)
    lines = []
    for name in runs:
        if name == best:
            continue
        difference = means[best] - means[name]
        spread = stds[best] + stds[name]
        if math.isnan(spread):
            verdict = "one seed: no spread to compare with"
        elif difference > spread:
            verdict = f"larger than the spread (std {stds[best]:.3f} + {stds[name]:.3f} = {spread:.3f})"
        else:
            verdict = f"within the spread (std {stds[best]:.3f} + {stds[name]:.3f} = {spread:.3f})"
        lines.append(
            f"- {best} vs {name}: {label} {means[best]:.3f} vs {means[name]:.3f}, {difference:+.3f}, {verdict}"
        )
    return lines


def views_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown table of test accuracy with 1, 2 and 4 durations given (mean over subsets, ± over seeds)."""
    sizes = sorted({int(k) for results in runs.values() for r in results for k in r.get("views", {})})
    header = ["model", *(f"{k} view{'s' if k > 1 else ''}" for k in sizes)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, results in runs.items():
        if not all("views" in r for r in results):
            continue
        cells = [name]
        for k in sizes:
            entries = [r["views"].get(str(k)) for r in results]
            if any(entry is None for entry in entries):
                cells.append("-")
                continue
            cell = _mean_std_of([entry["accuracy"] for entry in entries])
            read, total = entries[0]["subsets_read"], entries[0]["subsets_total"]
            cells.append(cell if read == total else f"{cell} ({read} of {total} subsets)")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def real_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Markdown table of accuracy on real samples: all, those with four durations, those with fewer."""
    lines = [
        "| model | real accuracy | with 4 durations | with 1-3 durations |",
        "|---|---|---|---|",
    ]
    for name, results in runs.items():
        if not all("real" in r for r in results):
            continue

        def part(result: dict[str, Any], four: bool) -> float:
            groups = [v for k, v in result["real"]["by_view_count"].items() if (k == "4") == four]
            n = sum(g["n"] for g in groups)
            return sum(g["correct"] for g in groups) / n if n else math.nan

        first = results[0]["real"]
        n_four = first["by_view_count"].get("4", {}).get("n", 0)
        cells = [
            name,
            f"{_mean_std_of([r['real']['accuracy'] for r in results])} (n = {first['n']})",
            f"{_mean_std_of([part(r, True) for r in results])} (n = {n_four})",
            f"{_mean_std_of([part(r, False) for r in results])} (n = {first['n'] - n_four})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    unanswered = {n: rs[0]["real"].get("without_model_view", 0) for n, rs in runs.items() if "real" in rs[0]}
    notes = [f"{name}: {count}" for name, count in unanswered.items() if count]
    if notes:
        lines += [
            "",
            "Samples with none of a model's durations count as wrong for it (" + "; ".join(notes) + ").",
        ]
    return "\n".join(lines) + "\n"


def comparison_report(
    runs: dict[str, list[dict[str, Any]]], dataset: str, seeds: list[int], header: dict[str, str]
) -> str:
    """The whole markdown report: how it was run, accuracy, cost, spread, and the optional tables."""
    mode = header.get("mode", "")
    lines = [f"# Model comparison ({mode})", ""]
    lines += [f"- {key}: {value}" for key, value in header.items() if key != "mode"]
    lines += ["", "## Accuracy on the simulated test split", "", markdown_table(runs, dataset, seeds)]
    lines += ["Differences to the best macro-F1, against the spread over seeds:", ""]
    lines += spread_verdicts(runs, "macro_f1")
    lines += ["", "## Cost", "", cost_table(runs)]
    lines.append(
        "Training FLOPs: 3 x the forward FLOPs of one sample (torch.utils.flop_counter: matrix products "
        "and convolutions) x samples seen. Training time: wall time of Trainer.train, validation included. "
        "Inference: the model's forward pass on synthetic batches (no decoding)."
    )
    if any("views" in r for results in runs.values() for r in results):
        lines += ["", "## Accuracy with 1, 2 and 4 durations", "", views_table(runs)]
        lines.append(
            "Mean over every subset of that many of the 0.5, 1, 2 and 4 s views (the others masked); a "
            "model reads only the subsets that hold one of its durations."
        )
    if any("real" in r for results in runs.values() for r in results):
        lines += ["", "## Accuracy on real Gravity Spy samples", "", real_table(runs)]
        lines += ["", "Differences in real accuracy, against the spread over seeds:", ""]
        lines += spread_verdicts(
            {
                n: [{"accuracy": r["real"]["accuracy"]} for r in rs]
                for n, rs in runs.items()
                if all("real" in r for r in rs)
            },
            "accuracy",
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "ASSUMED_GPU_TFLOPS",
    "BUDGET_MODE_EPOCHS",
    "PRESETS",
    "RARE_CLASSES",
    "ComparisonSettings",
    "comparison_report",
    "cost_table",
    "differences_beyond_intervals",
    "dry_run_one",
    "dry_run_table",
    "fit_image_size",
    "interval_hull",
    "markdown_table",
    "measure_cost",
    "parse_image_size",
    "real_accuracy",
    "real_table",
    "run_directory_name",
    "run_one",
    "spread_verdicts",
    "views_table",
    "with_vit_image_sizes",
]
