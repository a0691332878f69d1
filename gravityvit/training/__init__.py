"""Training and evaluation of glitch classifiers with the HF Trainer: data path, augmentation, metrics, reports.

``examples/train.py`` and ``examples/evaluate.py`` are built from these parts. Names are imported on
first use (PEP 562), so ``import gravityvit.training`` does not import torch, datasets or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public name -> submodule of gravityvit.training that defines it.
_EXPORTS: dict[str, str] = {
    "SpectrogramAugmentation": "augmentation",
    "GlitchCollator": "data",
    "GlitchDatasetError": "data",
    "GlitchViewsTransform": "data",
    "balanced_class_weights": "data",
    "check_glitch_dataset": "data",
    "load_glitch_dataset": "data",
    "prepare_split": "data",
    "view_columns_for": "data",
    "Predictions": "evaluation",
    "predict_split": "evaluation",
    "write_evaluation_report": "evaluation",
    "GLITCH_METRICS_PATH": "metrics",
    "compute_glitch_metrics": "metrics",
    "load_glitch_metric": "metrics",
    "make_compute_metrics": "metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module_name}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
