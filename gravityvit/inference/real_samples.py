"""Accuracy of a trained model on real Gravity Spy samples: folders of PNGs, read and classified.

Real samples are Gravity Spy PNG folders, ``<Class>/<ifo>_<id>_spectrogram_<d>.png`` (800x600
renderings or 569x479 Kaggle crops, any tree above the class folders); a sample may lack some
durations, which are masked. ``load_real_samples`` reads them, ``classify`` runs a model over them as
``gravityvit predict`` does, and ``accuracy_summary`` counts what it got right: overall, per class, per
folder and by the number of durations present. ``benchmarks/sim_to_real.py`` and
``examples/compare_models.py --real DIR`` both measure with these.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gravityvit import gravity_spy

# Where real samples are looked for: $GRAVITYVIT_REAL_SAMPLES, else shared/real_samples beside the
# checkout. Real Gravity Spy samples are never part of the repository.
REAL_SAMPLES_ENVIRONMENT_VARIABLE = "GRAVITYVIT_REAL_SAMPLES"
DEFAULT_REAL_SAMPLES_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "real_samples"
REAL_SAMPLE_FOLDERS = ("gravityspy", "kaggle")


def real_samples_root() -> Path:
    """The folder of real samples: ``$GRAVITYVIT_REAL_SAMPLES``, else ``shared/real_samples`` beside the checkout."""
    return Path(os.environ.get(REAL_SAMPLES_ENVIRONMENT_VARIABLE, DEFAULT_REAL_SAMPLES_ROOT))


def default_real_dirs() -> list[Path]:
    """The ``gravityspy/`` and ``kaggle/`` folders of :func:`real_samples_root` that exist."""
    root = real_samples_root()
    return [root / name for name in REAL_SAMPLE_FOLDERS if (root / name).is_dir()]


@dataclass
class RealSample:
    """One real sample: its views (zeros where missing), which are present, and where it came from."""

    sample_id: str
    label: str
    folder: str  # the real folder (e.g. ``kaggle``) it was read from
    views: np.ndarray
    view_mask: np.ndarray
    source: str = ""

    @property
    def present_views(self) -> list[np.ndarray | None]:
        return [view if present else None for view, present in zip(self.views, self.view_mask)]


@dataclass
class Predictions:
    """What the model said about a list of samples, in their order."""

    predicted: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    view_weights: list[dict[str, float]] = field(default_factory=list)


def load_real_samples(
    directories: Sequence[Path], classes: Sequence[str] | None = None
) -> tuple[list[RealSample], list[dict[str, str]]]:
    """Read every sample of the PNG folders (missing durations masked); bad samples become failures."""
    from gravityvit.data.hdf5 import GravitySpyDataError
    from gravityvit.data.png import GravitySpyPNGReader

    samples: list[RealSample] = []
    failures: list[dict[str, str]] = []
    for directory in directories:
        try:
            reader = GravitySpyPNGReader(directory, allow_missing_views=True)
        except (FileNotFoundError, GravitySpyDataError) as error:
            failures.append({"source": str(directory), "error": str(error)})
            continue
        for index, entry in enumerate(reader.entries):
            if classes is not None and entry.label not in classes:
                continue
            try:
                sample = reader[index]
            except GravitySpyDataError as error:
                failures.append({"source": entry.name, "error": str(error)})
                continue
            mask = (
                np.ones(len(gravity_spy.VIEW_DURATIONS_S), bool)
                if sample.view_mask is None
                else sample.view_mask
            )
            samples.append(
                RealSample(sample.gravityspy_id, sample.label, directory.name, sample.views, mask, entry.name)
            )
    return samples, failures


def load_pipeline(model: str, device: str, trust_remote_code: bool = False):
    """The glitch-classification pipeline of ``model`` (a directory or Hub id)."""
    from gravityvit.hub import load_model_and_processor
    from gravityvit.pipelines import GlitchClassificationPipeline, resolve_device

    loaded, processor = load_model_and_processor(model, trust_remote_code=trust_remote_code)
    return GlitchClassificationPipeline(
        model=loaded, image_processor=processor, device=resolve_device(device)
    )


def classify(
    pipe, views_list: Sequence[Sequence[np.ndarray | None]], ids: Sequence[str], batch_size: int
) -> Predictions:
    """Classify samples given as four views each (``None`` for a missing one), as ``gravityvit predict`` does."""
    from gravityvit.commands.predict import classify_samples
    from gravityvit.pipelines import GlitchSample

    samples = [
        GlitchSample(
            sample_id,
            sample_id,
            lambda views=views: {
                d: view for d, view in zip(gravity_spy.VIEW_DURATIONS_S, views) if view is not None
            },
        )
        for sample_id, views in zip(ids, views_list)
    ]
    results, failures = classify_samples(pipe, samples, batch_size=batch_size, top_k=1)
    if failures:
        raise ValueError(f"could not classify {failures[0][0]}: {failures[0][1]}")
    return Predictions(
        predicted=[r["label"] for r in results],
        scores=[float(r["score"]) for r in results],
        view_weights=[r["view_weights"] for r in results],
    )


def accuracy_summary(
    labels: Sequence[str], predicted: Sequence[str], groups: Sequence[str] | None = None
) -> dict[str, Any]:
    """Overall accuracy, per class (counts and accuracy), per group (e.g. folder) and the confusion."""
    if len(labels) != len(predicted):
        raise ValueError(f"{len(labels)} labels but {len(predicted)} predictions")
    right = [t == p for t, p in zip(labels, predicted)]
    per_class: dict[str, dict[str, Any]] = {}
    confusion: dict[str, dict[str, int]] = {}
    order = [c for c in gravity_spy.CLASS_NAMES if c in labels] + sorted(
        set(labels) - set(gravity_spy.CLASS_NAMES)
    )
    for label in order:
        chosen = [i for i, t in enumerate(labels) if t == label]
        correct = sum(right[i] for i in chosen)
        per_class[label] = {"n": len(chosen), "correct": correct, "accuracy": correct / len(chosen)}
        counts = Counter(predicted[i] for i in chosen)
        confusion[label] = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    summary: dict[str, Any] = {
        "n": len(labels),
        "correct": sum(right),
        "accuracy": sum(right) / len(labels) if labels else math.nan,
        "per_class": per_class,
        "confusion": confusion,
        "classes_never_right": [label for label, row in per_class.items() if row["correct"] == 0],
    }
    if groups is not None:
        summary["per_folder"] = {}
        for group in dict.fromkeys(groups):
            chosen = [i for i, g in enumerate(groups) if g == group]
            correct = sum(right[i] for i in chosen)
            summary["per_folder"][group] = {
                "n": len(chosen),
                "correct": correct,
                "accuracy": correct / len(chosen),
            }
    return summary


def accuracy_by_view_count(
    samples: Sequence[RealSample], predicted: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Accuracy of the samples with 1, 2, 3 and 4 durations present (counts and accuracy; absent counts left out).

    Real samples often lack durations; a model that needs all four views shows it here.
    """
    if len(samples) != len(predicted):
        raise ValueError(f"{len(samples)} samples but {len(predicted)} predictions")
    result: dict[str, dict[str, Any]] = {}
    counts = [int(np.count_nonzero(s.view_mask)) for s in samples]
    for count in sorted(set(counts)):
        chosen = [i for i, c in enumerate(counts) if c == count]
        correct = sum(samples[i].label == predicted[i] for i in chosen)
        result[str(count)] = {"n": len(chosen), "correct": correct, "accuracy": correct / len(chosen)}
    return result


def single_duration_accuracy(
    pipe, samples: Sequence[RealSample], batch_size: int
) -> dict[str, dict[str, Any]]:
    """Accuracy of the complete samples (all four durations) classified from each duration alone.

    Real samples often come with one duration only (a 4 s-only set, a single PNG). Every complete
    sample gives one such input per duration, so this measures single-duration inputs on real glitches
    with four times as many trials as there are complete samples, without the bias of which durations
    happen to be missing.

    Returns
    -------
    dict
        Per duration label (e.g. ``"4.0"``) and ``"all"``: ``n``, ``correct``, ``accuracy`` and, per
        duration, ``confusion`` (true label -> predicted label -> count, mistakes only).
    """
    complete = [s for s in samples if bool(np.all(s.view_mask))]
    result: dict[str, dict[str, Any]] = {}
    total = correct_total = 0
    for position, duration_s in enumerate(gravity_spy.VIEW_DURATIONS_S):
        views_list = [
            [view if index == position else None for index, view in enumerate(s.views)] for s in complete
        ]
        ids = [f"{s.sample_id}@{gravity_spy.duration_label(duration_s)}" for s in complete]
        predicted = classify(pipe, views_list, ids, batch_size).predicted if complete else []
        summary = accuracy_summary([s.label for s in complete], predicted)
        mistakes = {
            label: {other: count for other, count in row.items() if other != label}
            for label, row in summary["confusion"].items()
        }
        result[gravity_spy.duration_label(duration_s)] = {
            "n": summary["n"],
            "correct": summary["correct"],
            "accuracy": summary["accuracy"],
            "confusion": {label: row for label, row in mistakes.items() if row},
        }
        total += summary["n"]
        correct_total += summary["correct"]
    result["all"] = {
        "n": total,
        "correct": correct_total,
        "accuracy": correct_total / total if total else math.nan,
    }
    return result


__all__ = [
    "Predictions",
    "RealSample",
    "accuracy_by_view_count",
    "accuracy_summary",
    "classify",
    "load_pipeline",
    "load_real_samples",
    "single_duration_accuracy",
]
