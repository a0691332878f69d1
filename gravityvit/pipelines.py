"""Inference pipelines: ``pipeline("glitch-classification")`` and the input grouping shared with the CLI.

``pipeline("image-classification", model=...)`` (the stock transformers pipeline) already works on a
GravityViT or CNN-baseline checkpoint for one image: the image processor turns a rendered 800x600
Gravity Spy PNG into one view (the others masked) and a 2x2 merged-view mosaic into four views.

``pipeline("glitch-classification", model=...)`` takes what a glitch really is, all of its views: a
dict of views by duration, the PNGs of Gravity Spy samples or a folder of them, a Gravity Spy HDF5
file, an Arrow dataset, strain with GPS times, or one array, image or path (the forms are listed in
``pipeline_inputs``); or a list of these, classified in batches (``batch_size``) on any device
(``device="cpu"``, ``"cuda"``, ``"mps"`` or ``"auto"``).

Each sample gives ``{"sample_id", "label", "score", "top_k": [{"label", "score"}, ...],
"view_weights": {"0.5": w, "1.0": w, ...}, "unknown_score", "is_unknown"}``. Scores are softmax
probabilities of the logits divided by the config's ``logit_temperature`` (calibrated when the model
was); ``unknown_score`` is the model's unknown-glitch score (the config's ``unknown_score_method``:
the energy ``-logsumexp`` of those logits, or the relative Mahalanobis distance of the pooled feature
to the class statistics saved with the model) and ``is_unknown`` whether it exceeds the config's
``unknown_threshold`` (None when the model has none). The inputs are turned
into samples by ``pipeline_inputs.expand_inputs`` (also importable from here), which ``gravityvit
predict`` uses too, so the CLI and the pipeline group inputs identically.

This module is saved beside the model code (``custom_pipelines`` in config.json) so the pipeline
loads with ``trust_remote_code=True`` where gravityvit is not installed; it therefore imports only
its input module and the Gravity Spy contract module relatively.
"""

from __future__ import annotations

import importlib
import os
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForImageClassification, Pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .gravity_spy import VIEW_DURATIONS_S, duration_label
from .pipeline_inputs import (  # noqa: F401  (the input names are also importable from here)
    HDF5_SUFFIXES,
    IMAGE_SUFFIXES,
    GlitchSample,
    InputError,
    expand_inputs,
    load_sample,
    open_image,
)

TASK = "glitch-classification"


# ---------------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------------


def _is_single_sample(inputs: Any) -> bool:
    """Whether ``inputs`` is one sample by its form (a folder or HDF5 file is many, even when it holds one)."""
    if isinstance(inputs, list):
        return False
    if isinstance(inputs, (str, os.PathLike)):
        path = Path(inputs)
        return path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir()
    if isinstance(inputs, Mapping) and "strain" in inputs:
        return isinstance(inputs.get("gps"), (int, float, str))
    return True


def resolve_device(device: str | int | torch.device | None) -> str | int | torch.device | None:
    """Map ``"auto"`` to the best available device (cuda, then mps, then cpu); pass others through."""
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class GlitchClassificationPipeline(Pipeline):
    """Classify glitches from all their Omega-scan views; return top-k classes and view weights.

    Load it with ``pipeline("glitch-classification", model=DIR_OR_ID)`` (after ``import gravityvit``),
    or with ``trust_remote_code=True`` from a directory saved by ``gravityvit.hub.save_shareable_model``.

    Call it with one input or a list (see the module docstring); ``top_k`` (default 5) sets how many
    classes each result lists, ``batch_size`` how many samples go through the model at once.

    Returns, per sample, ``{"sample_id": str, "label": str, "score": float, "top_k": [{"label": str,
    "score": float}, ...], "view_weights": {"0.5": float, ...}, "unknown_score": float, "is_unknown":
    bool or None}``: softmax scores over the classes of ``id2label`` (of the temperature-scaled
    logits), the fusion's weight of each view duration (zero for a missing view), and the
    unknown-glitch score and flag (``gravityvit.inference.unknown``). One input
    that is a single sample gives one dict; a list or a multi-sample input (folder, HDF5, ...) a list;
    a generator of inputs an iterator (streaming, for long inputs).
    """

    _load_processor = False
    _load_image_processor = True
    _load_feature_extractor = False
    _load_tokenizer = False
    _load_video_processor = False

    def __init__(self, *args: Any, device: str | int | torch.device | None = None, **kwargs: Any) -> None:
        super().__init__(*args, device=resolve_device(device), **kwargs)
        if self.image_processor is None:
            raise ValueError("the glitch-classification pipeline needs the model's image processor")

    def _sanitize_parameters(self, top_k: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"unexpected arguments for the glitch-classification pipeline: {sorted(kwargs)}")
        postprocess_params = {}
        if top_k is not None:
            if int(top_k) < 1:
                raise ValueError(f"top_k must be at least 1; got {top_k}")
            postprocess_params["top_k"] = int(top_k)
        return {}, {}, postprocess_params

    def __call__(
        self, inputs: Any, **kwargs: Any
    ) -> dict[str, Any] | list[dict[str, Any]] | Iterator[dict[str, Any]]:
        """Classify ``inputs``; see the class docstring. A generator of inputs gives an iterator of results."""
        if isinstance(inputs, types.GeneratorType):
            stream = (sample for item in inputs for sample in expand_inputs(item))
            return super().__call__(stream, **kwargs)
        samples = list(expand_inputs(inputs))
        if not samples:
            raise InputError(str(inputs), "no sample found in the input")
        outputs = super().__call__(samples, **kwargs)
        return outputs[0] if _is_single_sample(inputs) and len(outputs) == 1 else outputs

    def preprocess(self, sample: GlitchSample) -> dict[str, Any]:
        """Read one sample into its views (1, V, 140, 170) float32 and view mask (1, V).

        Resizing and normalisation run once per batch in ``_forward``, not here per sample.
        """
        data = load_sample(sample)
        try:
            views, view_mask = self.image_processor.to_views(data)
        except (ValueError, OSError) as error:
            raise InputError(sample.source, str(error)) from error
        return {
            "views": torch.from_numpy(views),
            "view_mask": torch.from_numpy(view_mask),
            "sample_id": sample.sample_id,
        }

    @staticmethod
    def collate(prepared: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Stack the outputs of ``preprocess`` into one batch for ``forward`` (what ``batch_size`` does)."""
        return {
            "views": torch.cat([p["views"] for p in prepared]),
            "view_mask": torch.cat([p["view_mask"] for p in prepared]),
            "sample_id": [p["sample_id"] for p in prepared],
        }

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        sample_id = model_inputs.pop("sample_id")
        # One vectorised resize + normalisation for the whole batch, on the model's device; the
        # views were checked by ``to_views`` in ``preprocess``.
        features = self.image_processor.preprocess_views(
            model_inputs["views"], model_inputs["view_mask"], validate=False
        )
        pixel_values, view_mask = features["pixel_values"], features["view_mask"]
        if self.dtype is not None and pixel_values.dtype != self.dtype:
            pixel_values = pixel_values.to(self.dtype)
        outputs = self.model(pixel_values=pixel_values, view_mask=view_mask)
        view_weights = getattr(outputs, "view_weights", None)
        if view_weights is None:  # a model without fusion weights: spread over the present views
            mask = view_mask.float()
            view_weights = mask / mask.sum(-1, keepdim=True).clamp(min=1.0)
        result = {"logits": outputs.logits, "view_weights": view_weights, "sample_id": sample_id}
        unknown_score = getattr(outputs, "unknown_score", None)
        if unknown_score is not None:
            result["unknown_score"] = unknown_score
        return result

    def postprocess(self, model_outputs: dict[str, Any], top_k: int = 5) -> dict[str, Any]:
        """Rank the classes of one sample; raise ``InputError`` when the model gave NaN or inf."""
        logits = model_outputs["logits"][0].float()
        if not bool(torch.isfinite(logits).all()):
            # Never a prediction: NaN scores come from corrupt weights or inputs, not from a glitch.
            sample_id = model_outputs["sample_id"]
            raise InputError(
                str(sample_id[0] if isinstance(sample_id, list) else sample_id),
                "the model gave NaN or infinite scores (corrupt weights or input); no prediction",
            )
        scores = torch.softmax(logits, dim=-1)
        top_k = min(top_k, scores.numel())
        values, indices = torch.topk(scores, top_k)
        id2label = self.model.config.id2label
        ranked = [{"label": id2label[int(i)], "score": float(v)} for v, i in zip(values, indices)]
        durations = getattr(self.model.config, "view_durations_s", VIEW_DURATIONS_S)
        weights = model_outputs["view_weights"][0].float().tolist()
        sample_id = model_outputs["sample_id"]
        if "unknown_score" in model_outputs:
            unknown_score = float(model_outputs["unknown_score"].reshape(-1)[0])
        else:
            # A model that returns no score (older code): the energy of the temperature-scaled logits.
            unknown_score = float(-torch.logsumexp(logits.double(), dim=-1))
        threshold = getattr(self.model.config, "unknown_threshold", None)
        return {
            "sample_id": sample_id[0] if isinstance(sample_id, list) else sample_id,
            "label": ranked[0]["label"],
            "score": ranked[0]["score"],
            "top_k": ranked,
            "view_weights": {duration_label(d): float(w) for d, w in zip(durations, weights)},
            "unknown_score": unknown_score,
            "is_unknown": None if threshold is None else bool(unknown_score > float(threshold)),
        }


def _register_no_video_processor() -> None:
    """Tell AutoVideoProcessor that our configs have no video processor.

    Every stock pipeline tries to load a video processor; for a directory whose image processor has
    an ``auto_map`` (ours: remote code), transformers derives a remote "VideoProcessor" class from it
    and, without ``trust_remote_code``, asks on the terminal whether to run custom code (15 s). An
    empty local registration answers "none" at once.
    """
    from transformers import AutoVideoProcessor

    for module_name, class_name in (
        ("gravityvit.configuration_gravityvit", "GravityViTConfig"),
        ("gravityvit.configuration_gravityspy_cnn", "GravitySpyCNNConfig"),
    ):
        try:
            config_class = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):  # remote-code environment: nothing local to register
            continue
        AutoVideoProcessor.register(config_class, video_processor_classes={}, exist_ok=True)


def register_pipelines() -> None:
    """Register ``glitch-classification`` with transformers' pipeline registry (idempotent)."""
    _register_no_video_processor()
    current = PIPELINE_REGISTRY.supported_tasks.get(TASK, {}).get("impl")
    # The copy of this module that remote code loads must not replace the installed package's class.
    if current is not None and current.__name__ == GlitchClassificationPipeline.__name__:
        return
    PIPELINE_REGISTRY.register_pipeline(
        TASK,
        pipeline_class=GlitchClassificationPipeline,
        pt_model=AutoModelForImageClassification,
        type="image",
    )


register_pipelines()
