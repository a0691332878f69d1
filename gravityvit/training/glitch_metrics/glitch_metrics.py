"""Glitch classification metrics: an ``evaluate`` metric module shipped inside the package.

``evaluate.load("accuracy")`` needs the Hub; this module is loaded by path instead, so it works
offline::

    import evaluate
    from gravityvit.training import GLITCH_METRICS_PATH

    metric = evaluate.load(GLITCH_METRICS_PATH)
    metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], num_labels=22, label_names=names)

It returns accuracy, balanced accuracy, macro-F1, weighted F1, per-class precision / recall / F1 /
support (lists in label order) and the confusion matrix (rows = true class, columns = predicted).
Every class in ``0 .. num_labels - 1`` is reported, also the ones absent from this batch (their
scores are 0), so that tables over seeds and splits line up. Rare classes (Paired_Doves,
Wandering_Line, Chirp, Air_Compressor) decide macro-F1 on Gravity Spy, which is why it is the
metric for model selection.
"""

# evaluate's loader parses the imports of this file line by line: keep one module per line.
import datasets
import evaluate
import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

_DESCRIPTION = """
Multi-class metrics for Gravity Spy glitch classification: accuracy, balanced accuracy (mean
per-class recall), macro-F1, weighted F1, per-class precision / recall / F1 / support and the
confusion matrix, computed over a fixed label set so that absent classes still appear.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `int`): predicted class ids.
    references (`list` of `int`): true class ids.
    num_labels (`int`, optional): size of the label set; defaults to len(label_names), else to
        1 + the largest id seen.
    label_names (`list` of `str`, optional): class names in id order; per-class results are also
        returned by name under `per_class`.
Returns:
    accuracy, balanced_accuracy, macro_f1, weighted_f1, macro_precision, macro_recall (floats);
    precision, recall, f1, support (lists indexed by class id); confusion_matrix (list of lists,
    rows = true class, columns = predicted class); per_class ({name: {precision, recall, f1,
    support}}) when label_names is given.
Examples:
    >>> metric = evaluate.load("path/to/glitch_metrics.py")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], num_labels=2)["accuracy"]
    0.6666666666666666
"""

_CITATION = """
@article{zevin2017gravityspy,
  title={Gravity Spy: integrating advanced LIGO detector characterization, machine learning, and citizen science},
  author={Zevin, M. and others},
  journal={Classical and Quantum Gravity},
  volume={34},
  pages={064003},
  year={2017}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class GlitchMetrics(evaluate.Metric):
    """Accuracy, balanced accuracy, macro / weighted F1, per-class scores and confusion matrix."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
            reference_urls=["https://scikit-learn.org/stable/modules/model_evaluation.html"],
        )

    def _compute(self, predictions, references, num_labels=None, label_names=None):
        predictions = np.asarray(predictions, dtype=np.int64)
        references = np.asarray(references, dtype=np.int64)
        if predictions.shape != references.shape:
            raise ValueError(
                f"predictions and references differ in length: {predictions.shape} vs {references.shape}"
            )
        if len(references) == 0:
            raise ValueError("glitch_metrics needs at least one prediction")
        if num_labels is None:
            num_labels = (
                len(label_names)
                if label_names is not None
                else int(max(predictions.max(), references.max())) + 1
            )
        if label_names is not None and len(label_names) != num_labels:
            raise ValueError(f"label_names has {len(label_names)} names but num_labels is {num_labels}")
        out_of_range = (
            (predictions < 0) | (predictions >= num_labels) | (references < 0) | (references >= num_labels)
        )
        if out_of_range.any():
            raise ValueError(f"class ids must lie in [0, {num_labels - 1}]; got ids outside it")
        labels = np.arange(num_labels)
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=labels, average=None, zero_division=0
        )
        # Macro scores average over the classes seen in references or predictions, as scikit-learn does
        # without an explicit label list; balanced accuracy over the classes in the references only.
        in_references = support > 0
        seen = in_references | (np.bincount(predictions, minlength=num_labels) > 0)
        total = support.sum()
        result = {
            "accuracy": float((predictions == references).mean()),
            "balanced_accuracy": float(recall[in_references].mean()),
            "macro_precision": float(precision[seen].mean()),
            "macro_recall": float(recall[seen].mean()),
            "macro_f1": float(f1[seen].mean()),
            "weighted_f1": float((f1 * support).sum() / total),
            "precision": precision.astype(float).tolist(),
            "recall": recall.astype(float).tolist(),
            "f1": f1.astype(float).tolist(),
            "support": support.astype(int).tolist(),
            "confusion_matrix": confusion_matrix(references, predictions, labels=labels).tolist(),
        }
        if label_names is not None:
            result["per_class"] = {
                str(name): {
                    "precision": float(precision[i]),
                    "recall": float(recall[i]),
                    "f1": float(f1[i]),
                    "support": int(support[i]),
                }
                for i, name in enumerate(label_names)
            }
        return result
