"""What the glitch classifier configurations (GravityViT, Gravity Spy CNN) have in common.

Both classify Gravity Spy classes from the same processor outputs, so they share the view layout
(``image_size``, ``num_views``, ``view_durations_s``), the normalisation (``image_mean``,
``image_std``), the loss settings and the classes (``label_set`` / ``id2label``: the 22 v1 classes by
default); the fields and their checks live here, once.

A configuration holds plain, JSON-serialisable fields only: this module imports neither torch nor
timm, so reading a ``config.json`` needs neither. It is copied beside the model code by
``save_pretrained`` for ``trust_remote_code``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from transformers import PreTrainedConfig

from .gravity_spy import VIEW_DURATIONS_S, label_set_name, resolve_label_set

# The unknown-glitch scores a classifier can return (``modeling_unknown``).
UNKNOWN_SCORE_METHODS: tuple[str, ...] = ("energy", "relative_mahalanobis")


def image_size_hw(image_size: int | list[int] | tuple[int, int]) -> tuple[int, int]:
    """Return ``image_size`` (an int or a (height, width) pair) as a (height, width) tuple of pixels."""
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        return (image_size, image_size)
    if isinstance(image_size, (list, tuple)) and len(image_size) == 2:
        return (int(image_size[0]), int(image_size[1]))
    raise ValueError(f"image_size must be an int or a (height, width) pair; got {image_size!r}")


def check_loss_settings(
    label_smoothing: float,
    focal_gamma: float,
    class_weights: Sequence[float] | None,
    num_labels: int,
) -> list[float] | None:
    """Validate the loss fields of a model config and return ``class_weights`` as floats.

    Args:
        label_smoothing (`float`): must lie in [0, 1).
        focal_gamma (`float`): must be >= 0 (0 = cross-entropy).
        class_weights (`Sequence[float]`, *optional*): one non-negative weight per label, with a
            positive sum.
        num_labels (`int`): number of classes of the config.

    Returns:
        `list[float]` or `None`: ``class_weights`` as a list of floats (None when unset), ready to
        store in the config.

    Raises:
        ValueError: naming the offending field.
    """
    if not 0.0 <= float(label_smoothing) < 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1); got {label_smoothing}")
    if not float(focal_gamma) >= 0.0:
        raise ValueError(f"focal_gamma must be >= 0 (0 = cross-entropy); got {focal_gamma}")
    if class_weights is None:
        return None
    weights = [float(w) for w in class_weights]
    if len(weights) != num_labels:
        raise ValueError(
            f"class_weights must have one weight per label (num_labels={num_labels}); got {len(weights)}"
        )
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("class_weights must be non-negative with a positive sum")
    return weights


def check_trust_settings(
    logit_temperature: float, unknown_threshold: float | None
) -> tuple[float, float | None]:
    """Validate the calibration fields of a model config.

    Returns:
        `(float, float | None)`: ``logit_temperature`` (finite, > 0) and ``unknown_threshold``
        (finite or None) as floats.

    Raises:
        ValueError: naming the offending field.
    """
    if isinstance(logit_temperature, bool) or not isinstance(logit_temperature, (int, float)):
        raise ValueError(f"logit_temperature must be a positive number; got {logit_temperature!r}")
    if not math.isfinite(logit_temperature) or logit_temperature <= 0:
        raise ValueError(f"logit_temperature must be a finite number > 0; got {logit_temperature}")
    if unknown_threshold is not None:
        if isinstance(unknown_threshold, bool) or not isinstance(unknown_threshold, (int, float)):
            raise ValueError(f"unknown_threshold must be a number or None; got {unknown_threshold!r}")
        if not math.isfinite(unknown_threshold):
            raise ValueError(f"unknown_threshold must be finite; got {unknown_threshold}")
        unknown_threshold = float(unknown_threshold)
    return float(logit_temperature), unknown_threshold


def check_unknown_score_method(method: str) -> str:
    """Raise a ValueError unless ``method`` is one of ``UNKNOWN_SCORE_METHODS``; return it."""
    if method not in UNKNOWN_SCORE_METHODS:
        raise ValueError(f"unknown_score_method must be one of {UNKNOWN_SCORE_METHODS}; got {method!r}")
    return method


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


def check_rate(name: str, value: Any) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` lies in [0, 1) (a dropout or a smoothing)."""
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must lie in [0, 1); got {value}")


def check_channels(name: str, values: Sequence[float]) -> list[float]:
    """``values`` as 3 floats, one per RGB channel; a ValueError naming ``name`` otherwise."""
    values = [float(v) for v in values]
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 values (one per RGB channel); got {values}")
    return values


class GlitchClassifierConfig(PreTrainedConfig):
    r"""Base of the glitch classifier configurations: the fields and checks both model families share.

    Args:
        image_size (`int` or `(int, int)`):
            Size of each view at the model's input, in pixels: square or (height, width).
        num_views (`int`, *optional*, defaults to 4):
            Number of Omega-scan views per sample (view slots of ``pixel_values``).
        view_durations_s (`list[float]`, *optional*, defaults to `(0.5, 1.0, 2.0, 4.0)`):
            Omega-scan window duration of each view slot, in seconds: ``num_views`` distinct positive
            values.
        label_smoothing (`float`, *optional*, defaults to 0.0):
            Label smoothing of the cross-entropy / focal loss, in [0, 1).
        focal_gamma (`float`, *optional*, defaults to 0.0):
            Focal-loss exponent; 0 gives plain cross-entropy.
        class_weights (`list[float]`, *optional*):
            Per-class loss weights (one per label, non-negative), e.g. inverse class frequencies.
        image_mean (`list[float]`, *optional*):
            Per-channel normalisation mean of the processor (3 values).
        image_std (`list[float]`, *optional*):
            Per-channel normalisation std of the processor (3 positive values).
        label_set (`str` or `list[str]`, *optional*):
            The classes, when ``id2label`` is not given: a named set of ``gravity_spy.LABEL_SETS``
            (``"v1"``: the 22 classes of the v1 training set, the default; ``"o3"``: the 23 classes of
            Gravity Spy's O3 model) or a list of class names in label order. Given with ``id2label``,
            it must name the same classes in the same order. After construction it always describes
            ``id2label``: the set's name, or the list of names for a custom set; assigning it (also
            through ``from_pretrained(..., label_set="o3")``) replaces ``id2label`` and ``label2id``.
        id2label (`dict[int, str]`, *optional*):
            Class names by index; defaults to the classes of ``label_set``.
        logit_temperature (`float`, *optional*, defaults to 1.0):
            Temperature that divides the classifier's logits before the softmax (temperature
            scaling, Guo et al. 2017). Training fits it on the validation split at the end
            (``gravityvit calibrate`` fits it for an existing model) so that the scores are
            calibrated probabilities; it changes no predicted label. The models return the divided
            logits; their loss uses the undivided ones.
        unknown_threshold (`float`, *optional*):
            Threshold of the unknown-glitch score (``unknown_score`` of the model's output): a sample
            scoring above it is flagged ``is_unknown``. Fitted with the temperature so that 95 % of
            the validation samples pass. ``None`` (not fitted) reports no flag.
        unknown_score_method (`str`, *optional*, defaults to `"energy"`):
            The unknown-glitch score (``modeling_unknown``): ``"energy"``, ``-logsumexp`` of the
            temperature-scaled logits, or ``"relative_mahalanobis"``, the relative Mahalanobis
            distance of the pooled feature to class statistics fitted on the training split and saved
            with the weights. Training fits the statistics and sets ``"relative_mahalanobis"``; a
            model without statistics returns the energy score.

    Raises:
        ValueError: at construction, for a field out of range (the message names it).
    """

    image_size: int | list[int] | tuple[int, int] = 224
    num_views: int = 4
    view_durations_s: list[float] | tuple[float, ...] = VIEW_DURATIONS_S
    label_smoothing: float = 0.0
    focal_gamma: float = 0.0
    class_weights: list[float] | None = None
    image_mean: list[float] | tuple[float, ...] | None = None
    image_std: list[float] | tuple[float, ...] | None = None
    logit_temperature: float = 1.0
    unknown_threshold: float | None = None
    unknown_score_method: str = "energy"
    label_set: str | list[str] | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        if self.label_set is not None:
            names = resolve_label_set(self.label_set)
            if self.id2label is not None and _names_by_id(self.id2label) != list(names):
                raise ValueError(
                    f"label_set {self.label_set!r} and id2label name different classes: label_set has "
                    f"{list(names)}, id2label {_names_by_id(self.id2label)}; give one of them"
                )
        if self.id2label is None and kwargs.get("num_labels") is None:
            names = resolve_label_set(self.label_set)
            self.id2label = dict(enumerate(names))
            self.label2id = {name: index for index, name in enumerate(names)}
        super().__post_init__(**kwargs)
        if self.id2label is not None and self.label2id is None:
            self.label2id = {name: int(index) for index, name in self.id2label.items()}
        self._sync_label_set()
        self._check_common_fields()
        self._check_model_fields()

    def _check_common_fields(self) -> None:
        """Check and normalise the shared fields (lists of floats, image size as int or [h, w])."""
        height, width = image_size_hw(self.image_size)
        if height <= 0 or width <= 0:
            raise ValueError(f"image_size must be positive; got {self.image_size!r}")
        self.image_size = self.image_size if isinstance(self.image_size, int) else [height, width]
        check_int("num_views", self.num_views, minimum=1)
        self.view_durations_s = [float(d) for d in self.view_durations_s]
        if len(self.view_durations_s) != self.num_views:
            raise ValueError(
                f"view_durations_s must have {self.num_views} entries, one duration per view "
                f"(num_views={self.num_views}); got {len(self.view_durations_s)}: {self.view_durations_s}"
            )
        if any(d <= 0 for d in self.view_durations_s) or len(set(self.view_durations_s)) != self.num_views:
            raise ValueError(
                f"view_durations_s must be distinct positive seconds; got {self.view_durations_s}"
            )
        self.class_weights = check_loss_settings(
            self.label_smoothing, self.focal_gamma, self.class_weights, self.num_labels
        )
        self.logit_temperature, self.unknown_threshold = check_trust_settings(
            self.logit_temperature, self.unknown_threshold
        )
        check_unknown_score_method(self.unknown_score_method)
        if self.image_mean is not None:
            self.image_mean = check_channels("image_mean", self.image_mean)
        if self.image_std is not None:
            self.image_std = check_channels("image_std", self.image_std)
            if any(s <= 0 for s in self.image_std):
                raise ValueError(f"image_std must be positive; got {self.image_std}")

    def _check_model_fields(self) -> None:
        """Check the fields of one model family (overridden by each configuration)."""

    def __setattr__(self, key: str, value: Any) -> None:
        # Once built, a config keeps label_set and id2label in agreement: assigning the label set
        # (from_pretrained(..., label_set="o3") assigns) replaces the classes; assigning id2label
        # (adding a class) renames the set.
        if key not in ("label_set", "id2label") or not self.__dict__.get("_post_init_done"):
            super().__setattr__(key, value)
            return
        if key == "label_set":
            names = resolve_label_set(value)
            super().__setattr__("id2label", dict(enumerate(names)))
            super().__setattr__("label2id", {name: index for index, name in enumerate(names)})
        else:
            super().__setattr__("id2label", None if value is None else {int(k): v for k, v in value.items()})
        self._sync_label_set()

    def _sync_label_set(self) -> None:
        """Set ``label_set`` from ``id2label``: a named set's name, else the list of class names."""
        if self.id2label is None:
            described = None
        else:
            names = _names_by_id(self.id2label)
            described = label_set_name(names) or names
        self.__dict__["label_set"] = described

    @property
    def image_size_hw(self) -> tuple[int, int]:
        """Size of one view at the model's input as (height, width) pixels."""
        return image_size_hw(self.image_size)


def _names_by_id(id2label: dict) -> list[str]:
    """The class names of an ``id2label`` mapping (int or JSON string keys) in label order."""
    return [str(id2label[key]) for key in sorted(id2label, key=int)]


__all__ = [
    "UNKNOWN_SCORE_METHODS",
    "GlitchClassifierConfig",
    "check_channels",
    "check_int",
    "check_loss_settings",
    "check_rate",
    "check_trust_settings",
    "check_unknown_score_method",
    "image_size_hw",
]
