"""The model comparison of ``examples/compare_models.py``: its presets and its table of scores over seeds."""

from __future__ import annotations

from typing import Any

import numpy as np

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


__all__ = ["PRESETS", "RARE_CLASSES", "differences_beyond_intervals", "interval_hull", "markdown_table"]
