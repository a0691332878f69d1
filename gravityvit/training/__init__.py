"""Training and evaluation of glitch classifiers with the HF Trainer: data path, augmentation, metrics, reports.

``train(model_args, data_args, training_args) -> TrainResult`` and ``evaluate(arguments)`` (``run.py``,
arguments in ``arguments.py``) are the training run and the evaluation; ``examples/train.py`` and
``examples/evaluate.py`` are command lines over them. Names are imported on
first use (PEP 562), so ``import gravityvit.training`` does not import torch, datasets or matplotlib.
"""

from __future__ import annotations

from gravityvit.lazy_exports import lazy_exports

# Public name -> submodule of gravityvit.training that defines it.
_EXPORTS: dict[str, str] = {
    "DataArguments": "arguments",
    "EvaluationArguments": "arguments",
    "GlitchTrainingArguments": "arguments",
    "ModelArguments": "arguments",
    "parse_evaluation_arguments": "arguments",
    "parse_train_arguments": "arguments",
    "TrainResult": "run",
    "evaluate": "run",
    "train": "run",
    "SpectrogramAugmentation": "augmentation",
    "GlitchCollator": "data",
    "GlitchDatasetError": "data",
    "GlitchViewsTransform": "data",
    "InMemoryGlitchViews": "data",
    "balanced_class_weights": "data",
    "check_glitch_dataset": "data",
    "decoded_size_gib": "data",
    "load_glitch_dataset": "data",
    "prepare_split": "data",
    "view_columns_for": "data",
    "Predictions": "evaluation",
    "predict_split": "evaluation",
    "view_subset_results": "evaluation",
    "TrainingBudgetCallback": "cost",
    "count_parameters": "cost",
    "forward_flops_per_sample": "cost",
    "inference_throughput": "cost",
    "write_evaluation_report": "evaluation",
    "GLITCH_METRICS_PATH": "metrics",
    "compute_glitch_metrics": "metrics",
    "load_glitch_metric": "metrics",
    "make_compute_metrics": "metrics",
    "bootstrap_intervals": "intervals",
    "ExperimentTracker": "tracking",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
