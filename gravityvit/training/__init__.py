"""Training and evaluation of glitch classifiers with the HF Trainer: data path, augmentation, metrics, reports.

``train(model_args, data_args, training_args) -> TrainResult`` and ``evaluate(arguments)`` (``run.py``,
arguments in ``arguments.py``) are the training run and the evaluation; ``examples/train.py`` and
``examples/evaluate.py`` are command lines over them. Names are imported on
first use (PEP 562), so ``import gravityvit.training`` does not import torch, datasets or matplotlib.
"""

from __future__ import annotations

from gravityvit.lazy_exports import export_table, lazy_exports

# Public names by the submodule of gravityvit.training that defines them.
_EXPORTS: dict[str, str] = export_table(
    """
    arguments: DataArguments EvaluationArguments GlitchTrainingArguments ModelArguments
    arguments: parse_evaluation_arguments parse_train_arguments
    run: TrainResult evaluate train
    augmentation: SpectrogramAugmentation
    data: GlitchCollator GlitchDatasetError GlitchViewsTransform InMemoryGlitchViews
    data: balanced_class_weights check_glitch_dataset decoded_size_gib load_glitch_dataset prepare_split
    data: view_columns_for
    evaluation: Predictions predict_split view_subset_results write_evaluation_report
    cost: TrainingBudgetCallback count_parameters forward_flops_per_sample inference_throughput
    metrics: GLITCH_METRICS_PATH compute_glitch_metrics load_glitch_metric make_compute_metrics
    intervals: bootstrap_intervals
    tracking: ExperimentTracker
    recipes: DEMO_RECIPE
    """
)

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
