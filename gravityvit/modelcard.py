"""The model card: fill the top-level ``MODEL_CARD.md`` template for a trained or converted checkpoint.

Training (``examples/train.py``) and ``conversion_scripts/convert_trainer_checkpoint.py`` call
:func:`render_model_card` and write the result as ``README.md`` beside the weights, which is what the
Hub shows. The YAML front matter (``library_name: transformers``, ``pipeline_tag:
image-classification``, the tags and the ``model-index`` of evaluation results) is produced by
``huggingface_hub.ModelCardData`` so that the Hub parses it; the body is the Jinja2 template.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gravityvit.file_utils import OutputKind, atomic_path
from gravityvit.gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S

# The template lives at the top of the repository, beside README.md, so people can read and edit it.
# A built (non-editable) install carries the template in the package (setup.py copies it there);
# an editable install or a checkout reads the top-level file of the repository.
_PACKAGED_TEMPLATE_PATH = Path(__file__).resolve().with_name("MODEL_CARD.md")
DEFAULT_TEMPLATE_PATH = (
    _PACKAGED_TEMPLATE_PATH
    if _PACKAGED_TEMPLATE_PATH.is_file()
    else Path(__file__).resolve().parents[1] / "MODEL_CARD.md"
)
TEMPLATE_ENV_VAR = "GRAVITYVIT_MODEL_CARD_TEMPLATE"

DEFAULT_TAGS: tuple[str, ...] = (
    "image-classification",
    "vision",
    "custom_code",
    "gravitational-waves",
    "ligo",
    "gravity-spy",
    "glitch-classification",
    "astronomy",
)

# Trainer metric keys carry the split as a prefix ("eval_accuracy", "test_macro_f1").
_SPLIT_PREFIXES: dict[str, str] = {"eval_": "validation", "validation_": "validation", "test_": "test"}
# Bookkeeping numbers the Trainer reports beside metrics; they are not model quality.
_NON_METRICS = frozenset(
    {
        "runtime",
        "samples_per_second",
        "steps_per_second",
        "epoch",
        "step",
        "total_flos",
        "model_preparation_time",
    }
)
# Our metric names -> (Hub metric id, pretty name); see https://hf.co/metrics.
_METRIC_TYPES: dict[str, tuple[str, str]] = {
    "accuracy": ("accuracy", "Accuracy"),
    "top1_accuracy": ("accuracy", "Top-1 accuracy"),
    "top3_accuracy": ("accuracy", "Top-3 accuracy"),
    "top5_accuracy": ("accuracy", "Top-5 accuracy"),
    "balanced_accuracy": ("accuracy", "Balanced accuracy"),
    "macro_f1": ("f1", "Macro F1"),
    "f1_macro": ("f1", "Macro F1"),
    "weighted_f1": ("f1", "Weighted F1"),
    "f1_weighted": ("f1", "Weighted F1"),
    "micro_f1": ("f1", "Micro F1"),
    "macro_precision": ("precision", "Macro precision"),
    "macro_recall": ("recall", "Macro recall"),
    "loss": ("loss", "Loss"),
}
# Config fields worth a line in the card, in display order (missing ones are skipped).
_CONFIG_FIELDS: tuple[str, ...] = (
    "model_type",
    "backbone",
    "backbone_kwargs",
    "image_size",
    "num_views",
    "view_durations_s",
    "fusion",
    "fusion_num_heads",
    "fusion_depth",
    "fusion_num_queries",
    "hidden_size",
    "head_hidden_size",
    "conv_channels",
    "dense_size",
    "drop_path_rate",
    "label_smoothing",
    "focal_gamma",
)
# Training arguments worth a line in the card (the rest of TrainingArguments is noise to readers).
_TRAINING_FIELDS: tuple[str, ...] = (
    "learning_rate",
    "num_train_epochs",
    "max_steps",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "weight_decay",
    "warmup_ratio",
    "warmup_steps",
    "lr_scheduler_type",
    "optim",
    "label_smoothing_factor",
    "seed",
    "bf16",
    "fp16",
    "num_processes",
    "world_size",
    "global_step",
    "best_model_checkpoint",
)


def _config_dict(model_config: Any) -> dict[str, Any]:
    if isinstance(model_config, Mapping):
        return dict(model_config)
    if hasattr(model_config, "to_dict"):
        return model_config.to_dict()
    raise TypeError(f"model_config must be a PreTrainedConfig or a dict; got {type(model_config).__name__}")


def _id2label(config: Mapping[str, Any]) -> dict[int, str]:
    id2label = config.get("id2label") or dict(enumerate(CLASS_NAMES))
    return {int(key): str(value) for key, value in id2label.items()}


def _format_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_format_value(item)}" for key, item in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_value(item) for item in value)
    return str(value).replace("|", "\\|")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _strip_split_prefix(name: str, split: str) -> str:
    for prefix in (f"{split}_", *_SPLIT_PREFIXES):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _add_metric(result: dict[str, dict[str, float]], split: str, name: str, value: Any) -> None:
    if name not in _NON_METRICS and _is_number(value):
        result.setdefault(split, {})[name] = float(value)


def normalize_metrics(
    metrics: Mapping[str, Any] | None, default_split: str = "test"
) -> dict[str, dict[str, float]]:
    """Bring metrics into the form ``{split: {metric_name: value}}``.

    Accepts that form (inner names may keep a split prefix, ``{"test": {"test_accuracy": ...}}``) or a
    flat dict as the Trainer returns it: a key prefixed ``eval_`` / ``validation_`` goes to the
    validation split, ``test_`` to test, an unprefixed one to ``default_split``. Non-numeric values
    (nested reports) and bookkeeping numbers (runtime, samples_per_second, epoch, ...) are dropped.
    """
    result: dict[str, dict[str, float]] = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, Mapping):
            for name, item in value.items():
                _add_metric(result, str(key), _strip_split_prefix(str(name), str(key)), item)
            continue
        split, name = default_split, str(key)
        for prefix, prefix_split in _SPLIT_PREFIXES.items():
            if name.startswith(prefix):
                split, name = prefix_split, name[len(prefix) :]
                break
        _add_metric(result, split, name, value)
    return result


def _eval_results(
    metrics: dict[str, dict[str, float]], dataset_id: str, dataset_name: str, dataset_config: str | None
) -> list[Any]:
    from huggingface_hub import EvalResult

    results = []
    for split, values in metrics.items():
        for name, value in values.items():
            if name == "loss":  # a loss is not a leaderboard metric
                continue
            metric_type, pretty = _METRIC_TYPES.get(name, (name, name.replace("_", " ").capitalize()))
            results.append(
                EvalResult(
                    task_type="image-classification",
                    task_name="Glitch classification",
                    dataset_type=dataset_id,
                    dataset_name=dataset_name,
                    dataset_config=dataset_config,
                    dataset_split=split,
                    metric_type=metric_type,
                    metric_name=f"{pretty} ({split})",
                    metric_value=round(value, 6),
                )
            )
    return results


def _architecture_summary(config: Mapping[str, Any]) -> str:
    model_type = str(config.get("model_type", ""))
    backbone = config.get("backbone")
    durations = config.get("view_durations_s") or VIEW_DURATIONS_S
    if model_type == "gravityvit":
        fusion = config.get("fusion") or "cross_attention"
        views = len(durations)
        if views == 1:
            return f"A timm `{backbone}` Vision Transformer encodes one Omega-scan view; an MLP head classifies it."
        return (
            f"One shared timm `{backbone}` Vision Transformer encodes the {views} Omega-scan views "
            f"({_format_value(list(durations))} s) in a single batched call; a learned duration embedding marks "
            f"each view, a `{fusion}` fusion module combines them (its per-view weights show which durations "
            "mattered) and an MLP head gives the class scores."
        )
    if "cnn" in model_type:
        return (
            "It is the Gravity Spy production baseline (Bahaadini et al. 2018): a four-layer CNN on the 2x2 "
            "merged view (0.5 s and 1 s on top, 2 s and 4 s below)."
        )
    return f"Model type `{model_type}`."


# Per-class columns whose name is not their title in the class table.
_COLUMN_TITLES: dict[str, str] = {"f1_interval": "F1 95 % interval"}


def _format_interval(bounds: Any) -> str:
    """``[0.912, 0.947]`` for a ``[low, high]`` pair, ``-`` for anything else (no interval)."""
    if isinstance(bounds, (list, tuple)) and len(bounds) == 2 and all(_is_number(b) for b in bounds):
        return f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"
    return "-"


def _class_rows(
    id2label: dict[int, str], per_class_metrics: Mapping[str, Mapping[str, Any]] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    columns: list[str] = []
    for values in (per_class_metrics or {}).values():
        columns.extend(name for name in values if name not in columns)
    rows = []
    for index in sorted(id2label):
        name = id2label[index]
        values = (per_class_metrics or {}).get(name, {})
        cells = [
            _format_interval(values.get(col))
            if col.endswith("_interval")
            else _format_value(values.get(col, "-"))
            for col in columns
        ]
        rows.append({"id": index, "name": name, "values": cells})
    return rows, [_COLUMN_TITLES.get(col, col) for col in columns]


def _interval_notes(metric_intervals: Mapping[str, Mapping[str, Any]] | None) -> list[str]:
    """One sentence per split with intervals: their coverage, resamples and seed."""
    notes = []
    for split, intervals in (metric_intervals or {}).items():
        if not intervals:
            continue
        confidence = float(intervals.get("confidence", 0.95))
        notes.append(
            f"{split}: {confidence:.0%} percentile-bootstrap intervals over the {split} samples "
            f"({intervals.get('num_resamples', '?')} resamples, seed {intervals.get('seed', '?')})"
        )
    return notes


def resolve_template_path(template_path: str | os.PathLike | None = None) -> Path:
    """Return the model-card template: the argument, else ``$GRAVITYVIT_MODEL_CARD_TEMPLATE``, else MODEL_CARD.md."""
    path = Path(template_path or os.environ.get(TEMPLATE_ENV_VAR) or DEFAULT_TEMPLATE_PATH)
    if not path.is_file():
        raise FileNotFoundError(
            f"model-card template {path} not found; pass template_path= or set {TEMPLATE_ENV_VAR} "
            "(the template is MODEL_CARD.md at the top of the GravityViT repository)"
        )
    return path


def render_model_card(
    model_config: Any,
    metrics: Mapping[str, Any] | None,
    dataset_description: str,
    training_args: Mapping[str, Any] | Any | None = None,
    *,
    model_name: str | None = None,
    model_id: str | None = None,
    dataset_id: str = "gravityvit/gravityspy",
    dataset_name: str | None = None,
    dataset_version: str | None = None,
    dataset_split: str | None = None,
    simulated: bool = False,
    metrics_split: str = "test",
    per_class_metrics: Mapping[str, Mapping[str, Any]] | None = None,
    metric_intervals: Mapping[str, Mapping[str, Any]] | None = None,
    num_parameters: int | None = None,
    base_model: str | Sequence[str] | None = None,
    license: str = "apache-2.0",
    extra_tags: Sequence[str] = (),
    template_path: str | os.PathLike | None = None,
) -> str:
    """Fill the model-card template and return the Markdown text (YAML front matter included).

    Parameters
    ----------
    model_config : PreTrainedConfig or dict
        The config of the model (``model.config``); gives the architecture lines and ``id2label``.
    metrics : dict or None
        ``{split: {metric: value}}`` or a flat Trainer dict (``eval_accuracy``, ``test_macro_f1``, or
        unprefixed names, which count for ``metrics_split``). Values in [0, 1] for accuracy/F1.
    dataset_description : str
        One or more sentences on the training data: real Gravity Spy (version, split) or simulated
        (simulator version, seed, samples per class).
    training_args : dict, TrainingArguments or None
        Hyper-parameters; the ones readers care about (learning rate, epochs, batch size, ...) are listed.
    model_name : str, optional
        Title of the card and name in the model-index; defaults to ``model_id`` or the model type.
    model_id : str, optional
        Hub id (``gravityvit/multiview-b16``) used in the usage examples; defaults to ``model_name``.
    dataset_id, dataset_name, dataset_version, dataset_split : str
        Dataset identity for the table and the model-index (``dataset_version`` is e.g. ``v1d1``).
    simulated : bool
        The model was trained on simulated glitches: adds the tag ``simulated-data`` and the warning
        that simulated data is not real detector data.
    metrics_split : str
        Split that unprefixed metric names belong to.
    per_class_metrics : dict, optional
        ``{class_name: {"f1": ..., "support": ...}}`` shown in the class table; an ``f1_interval``
        ``[low, high]`` is shown as the class's F1 95 % interval.
    metric_intervals : dict, optional
        ``{split: {"accuracy": [low, high], "macro_f1": [low, high], "confidence": 0.95,
        "num_resamples": 1000, "seed": 0, ...}}``: bootstrap intervals (an evaluation report's
        ``intervals``) shown beside the split's metrics, with how they were made.
    num_parameters : int, optional
        Parameter count of the model.
    base_model : str or list of str, optional
        Hub id(s) of the initial weights (e.g. ``timm/vit_base_patch16_224.augreg2_in21k_ft_in1k``).
    license : str
        Hub licence id of the weights.
    extra_tags : sequence of str
        More Hub tags.
    template_path : path, optional
        Jinja2 template; defaults to :func:`resolve_template_path`.

    Returns
    -------
    str
        The model card (README.md content).
    """
    import jinja2
    from huggingface_hub import ModelCardData

    config = _config_dict(model_config)
    id2label = _id2label(config)
    model_name = model_name or model_id or f"gravityvit-{config.get('model_type', 'model')}"
    model_id = model_id or model_name
    dataset_name = dataset_name or (
        "Gravity Spy (simulated)" if simulated else f"Gravity Spy {dataset_version or ''}".strip()
    )
    normalized = normalize_metrics(metrics, default_split=metrics_split)
    tags = list(dict.fromkeys([*DEFAULT_TAGS, *(["simulated-data"] if simulated else []), *extra_tags]))
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag="image-classification",
        license=license,
        tags=tags,
        datasets=[dataset_id],
        base_model=list(base_model) if isinstance(base_model, (list, tuple)) else base_model,
        metrics=sorted({_METRIC_TYPES.get(n, (n, n))[0] for v in normalized.values() for n in v} - {"loss"})
        or None,
        model_name=model_name,
        eval_results=_eval_results(normalized, dataset_id, dataset_name, dataset_version) or None,
    )
    if training_args is not None and not isinstance(training_args, Mapping):
        training_args = training_args.to_dict() if hasattr(training_args, "to_dict") else vars(training_args)
    class_rows, per_class_columns = _class_rows(id2label, per_class_metrics)
    context = {
        "card_data": card_data.to_yaml(),
        "model_name": model_name,
        "model_id": model_id,
        "num_labels": len(id2label),
        "architecture_summary": _architecture_summary(config),
        "durations_text": ", ".join(f"{d:g}" for d in config.get("view_durations_s") or VIEW_DURATIONS_S),
        "simulated": simulated,
        "config_rows": [
            (key, _format_value(config[key])) for key in _CONFIG_FIELDS if config.get(key) is not None
        ],
        "num_parameters": f"{num_parameters:,}" if num_parameters else None,
        "class_rows": class_rows,
        "per_class": bool(per_class_columns),
        "per_class_columns": per_class_columns,
        "dataset_description": dataset_description.strip(),
        "dataset_rows": [
            (key, value)
            for key, value in (
                ("dataset", dataset_id),
                ("name", dataset_name),
                ("version", dataset_version),
                ("training split", dataset_split),
                ("data", "simulated (GravityViT simulator)" if simulated else "real LIGO Omega scans"),
            )
            if value
        ],
        "metric_rows": [
            {
                "split": split,
                "name": _METRIC_TYPES.get(name, (name, name))[1],
                "value": f"{value:.4f}",
                "interval": _format_interval((metric_intervals or {}).get(split, {}).get(name)),
            }
            for split, values in normalized.items()
            for name, value in values.items()
        ],
        "interval_notes": _interval_notes(metric_intervals),
        "training_rows": [
            (key, _format_value(training_args[key]))
            for key in _TRAINING_FIELDS
            if training_args and training_args.get(key) not in (None, "", [])
        ],
    }
    template = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined).from_string(
        resolve_template_path(template_path).read_text(encoding="utf-8")
    )
    # Conditional sections leave runs of blank lines behind; Markdown needs at most one.
    return re.sub(r"\n{3,}", "\n\n", template.render(**context)).lstrip("\n")


def _is_model_card(path: Path) -> bool:
    """Whether ``path`` is a model card rendered from the template (its front matter has our tags)."""
    from gravityvit.file_utils import read_head

    head = read_head(path, 16384).decode("utf-8", "replace")
    front_matter = head.split("\n---", 1)[0] if head.startswith("---") else ""
    return all(f"- {tag}" in front_matter for tag in ("gravity-spy", "glitch-classification"))


# README.md of a model directory, rendered from MODEL_CARD.md.
MODEL_CARD = OutputKind("GravityViT model card", recognise=_is_model_card)


def write_model_card(directory: str | os.PathLike, card: str, filename: str = "README.md") -> Path:
    """Write ``card`` as ``directory/filename`` atomically and return the path.

    An existing file is replaced only when it is a model card rendered by gravityvit.
    """
    target = Path(directory) / filename
    with atomic_path(target, kind=MODEL_CARD) as temporary:
        temporary.write_text(card, encoding="utf-8")
    return target
