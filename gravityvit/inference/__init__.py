"""Trustworthy predictions: calibrated scores, unknown-glitch flags, classes added from a few examples,
stability under small time shifts, accuracy on real Gravity Spy samples; and how predictions are run at
scale: ONNX export and ONNX Runtime (``onnx_runtime``), bulk inference over several processes
(``parallel``).

Names are imported on first use (PEP 562), so ``import gravityvit.inference`` stays light.
"""

from __future__ import annotations

from gravityvit.lazy_exports import export_table, lazy_exports

# Public names by the submodule of gravityvit.inference that defines them.
_EXPORTS: dict[str, str] = export_table(
    """
    add_class: AddClassError add_class add_class_to_directory
    calibration: calibrate_model calibration_summary expected_calibration_error fit_temperature
    calibration: plot_reliability_diagram
    unknown: fit_feature_statistics fit_model_feature_statistics fit_unknown_threshold open_set_auroc
    unknown: unknown_scores
    stability: time_shift_stability
    real_samples: RealSample accuracy_summary load_real_samples
    onnx_runtime: OnnxExportError OnnxGlitchClassifier export_onnx
    parallel: classify_in_processes
    """
)

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
