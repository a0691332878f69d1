"""Configuration of the Gravity Spy merged-view CNN baseline."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedConfig

from .gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S, VIEW_SHAPE
from .losses import check_loss_settings, check_trust_settings


class GravitySpyCNNConfig(PreTrainedConfig):
    r"""Configuration of ``GravitySpyCNNForGlitchClassification``, the Gravity Spy production classifier
    (Bahaadini et al. 2018): the four views tiled 2x2 into one "merged view" image, four
    convolution blocks (conv, ReLU, 2x2 max-pool), a dense layer with dropout and a softmax.

    It takes the same processor outputs as GravityViT (``pixel_values`` (B, 4, 3, H, W) and
    ``view_mask``), so the baseline trains and is evaluated through the same processor, datasets
    and Trainer path. Building a model from it gives random weights.

    Args:
        image_size (`int` or `(int, int)`, *optional*, defaults to `(140, 170)`):
            Size of each view in pixels (height, width); the merged view is twice as high and wide.
            The default keeps Gravity Spy's native 140x170 views (merged view 280x340).
        num_views (`int`, *optional*, defaults to 4):
            Must be 4: the 2x2 mosaic needs four slots (missing views are zeros).
        view_durations_s (`list[float]`, *optional*, defaults to `(0.5, 1.0, 2.0, 4.0)`):
            Durations of the four slots in seconds; tiled 0.5 s, 1 s on top, 2 s, 4 s below.
        conv_channels (`list[int]`, *optional*, defaults to `(16, 32, 64, 64)`):
            Output channels of the convolution blocks.
        kernel_size (`int`, *optional*, defaults to 5):
            Square convolution kernel size ("same" padding).
        dense_size (`int`, *optional*, defaults to 256):
            Width of the dense layer before the classifier.
        dropout (`float`, *optional*, defaults to 0.5):
            Dropout before the classifier.
        label_smoothing (`float`, *optional*, defaults to 0.0):
            Label smoothing of the loss (0: plain cross-entropy, as in production).
        focal_gamma (`float`, *optional*, defaults to 0.0):
            Focal-loss exponent; 0 gives cross-entropy.
        class_weights (`list[float]`, *optional*):
            Per-class loss weights, one per label.
        image_mean (`list[float]`, *optional*, defaults to `(0, 0, 0)`):
            Processor normalisation mean: the CNN sees raw [0, 1] views, as in production.
        image_std (`list[float]`, *optional*, defaults to `(1, 1, 1)`):
            Processor normalisation std.
        id2label (`dict[int, str]`, *optional*):
            Class names by index; defaults to the 22 Gravity Spy classes.
        logit_temperature (`float`, *optional*, defaults to 1.0):
            Temperature that divides the classifier's logits before the softmax (temperature
            scaling, Guo et al. 2017). ``examples/train.py`` fits it on the validation split at the end
            of training (``gravityvit calibrate`` fits it for an existing model) so that the scores are
            calibrated probabilities; it changes no predicted label. The models return the divided
            logits; their loss uses the undivided ones.
        unknown_threshold (`float`, *optional*):
            Threshold of the unknown-glitch score (``gravityvit.inference.unknown``: the energy
            ``-logsumexp`` of the temperature-scaled logits): a sample scoring above it is flagged
            ``is_unknown``. Fitted with the temperature so that 95 % of the validation samples pass.
            ``None`` (not fitted) reports no flag.

    Raises:
        ValueError: at construction for ``num_views != 4``, mismatched durations, a class_weights
            length other than num_labels, non-positive sizes or out-of-range rates, or an image too
            small for four 2x2 poolings.
    """

    model_type = "gravityspy_cnn"

    image_size: int | list[int] | tuple[int, int] = VIEW_SHAPE
    num_views: int = 4
    view_durations_s: list[float] | tuple[float, ...] = VIEW_DURATIONS_S
    conv_channels: list[int] | tuple[int, ...] = (16, 32, 64, 64)
    kernel_size: int = 5
    dense_size: int = 256
    dropout: float = 0.5
    label_smoothing: float = 0.0
    focal_gamma: float = 0.0
    class_weights: list[float] | None = None
    image_mean: list[float] | tuple[float, ...] = (0.0, 0.0, 0.0)
    image_std: list[float] | tuple[float, ...] = (1.0, 1.0, 1.0)
    logit_temperature: float = 1.0
    unknown_threshold: float | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(enumerate(CLASS_NAMES))
            self.label2id = {name: index for index, name in enumerate(CLASS_NAMES)}
        super().__post_init__(**kwargs)
        if self.id2label is not None and self.label2id is None:
            self.label2id = {name: int(index) for index, name in self.id2label.items()}
        self._validate()

    def _validate(self) -> None:
        height, width = self.image_size_hw
        self.image_size = self.image_size if isinstance(self.image_size, int) else [height, width]
        if self.num_views != 4:
            raise ValueError(
                f"the merged-view CNN tiles 2x2 views: num_views must be 4; got {self.num_views}"
            )
        self.view_durations_s = [float(d) for d in self.view_durations_s]
        if len(self.view_durations_s) != self.num_views:
            raise ValueError(
                f"view_durations_s must have {self.num_views} entries; got {self.view_durations_s}"
            )
        self.conv_channels = [int(c) for c in self.conv_channels]
        if not self.conv_channels or min(self.conv_channels) < 1:
            raise ValueError(f"conv_channels must be positive ints; got {self.conv_channels}")
        for name in ("kernel_size", "dense_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        min_size = 2 ** len(self.conv_channels)
        if min(2 * height, 2 * width) < min_size:
            raise ValueError(
                f"image_size {self.image_size} is too small for {len(self.conv_channels)} poolings"
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1); got {self.dropout}")
        self.class_weights = check_loss_settings(
            self.label_smoothing, self.focal_gamma, self.class_weights, self.num_labels
        )
        self.logit_temperature, self.unknown_threshold = check_trust_settings(
            self.logit_temperature, self.unknown_threshold
        )
        self.image_mean = [float(m) for m in self.image_mean]
        self.image_std = [float(s) for s in self.image_std]
        if len(self.image_mean) != 3 or len(self.image_std) != 3 or min(self.image_std) <= 0:
            raise ValueError(
                f"image_mean / image_std need 3 values (std > 0); got {self.image_mean}, {self.image_std}"
            )

    @property
    def image_size_hw(self) -> tuple[int, int]:
        """Size of one view as (height, width) pixels."""
        if isinstance(self.image_size, int) and not isinstance(self.image_size, bool):
            return (self.image_size, self.image_size)
        if isinstance(self.image_size, (list, tuple)) and len(self.image_size) == 2:
            return (int(self.image_size[0]), int(self.image_size[1]))
        raise ValueError(f"image_size must be an int or a (height, width) pair; got {self.image_size!r}")


__all__ = ["GravitySpyCNNConfig"]
