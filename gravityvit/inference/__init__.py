"""Trustworthy predictions: calibrated scores, unknown-glitch flags, classes added from a few examples,
stability under small time shifts, accuracy on real Gravity Spy samples; and how predictions are run at
scale: ONNX export and ONNX Runtime (``onnx_runtime``), bulk inference over several processes
(``parallel``).

Names are imported on first use (PEP 562), so ``import gravityvit.inference`` stays light.
"""

from __future__ import annotations

from gravityvit.lazy_exports import lazy_exports

# Public name -> submodule of gravityvit.inference that defines it.
_EXPORTS: dict[str, str] = {
    "AddClassError": "add_class",
    "add_class": "add_class",
    "add_class_to_directory": "add_class",
    "calibrate_model": "calibration",
    "calibration_summary": "calibration",
    "expected_calibration_error": "calibration",
    "fit_temperature": "calibration",
    "plot_reliability_diagram": "calibration",
    "fit_unknown_threshold": "unknown",
    "open_set_auroc": "unknown",
    "unknown_scores": "unknown",
    "time_shift_stability": "stability",
    "RealSample": "real_samples",
    "accuracy_summary": "real_samples",
    "load_real_samples": "real_samples",
    "OnnxExportError": "onnx_runtime",
    "OnnxGlitchClassifier": "onnx_runtime",
    "export_onnx": "onnx_runtime",
    "classify_in_processes": "parallel",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
