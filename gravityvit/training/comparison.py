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


def markdown_table(runs: dict[str, list[dict[str, Any]]], dataset: str, seeds: list[int]) -> str:
    """One markdown table: mean ± std over seeds of accuracy, macro-F1 and the rare classes' F1."""
    header = ["model", "accuracy", "macro-F1", *(f"F1 {name}" for name in RARE_CLASSES)]
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
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["PRESETS", "RARE_CLASSES", "markdown_table"]
