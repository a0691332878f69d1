"""Configuration of the Gravity Spy merged-view CNN baseline."""

from __future__ import annotations

from .configuration_common import GlitchClassifierConfig, check_rate
from .gravity_spy import VIEW_SHAPE


class GravitySpyCNNConfig(GlitchClassifierConfig):
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
        label_set, id2label, logit_temperature, unknown_threshold, unknown_score_method:
            The classes and the calibration fitted at the end of training, as in
            ``GlitchClassifierConfig`` (``label_set`` defaults to ``"v1"``, the 22 classes).

    Raises:
        ValueError: at construction for ``num_views != 4``, mismatched durations, a class_weights
            length other than num_labels, non-positive sizes or out-of-range rates, or an image too
            small for four 2x2 poolings.
    """

    model_type = "gravityspy_cnn"

    image_size: int | list[int] | tuple[int, int] = VIEW_SHAPE
    conv_channels: list[int] | tuple[int, ...] = (16, 32, 64, 64)
    kernel_size: int = 5
    dense_size: int = 256
    dropout: float = 0.5
    image_mean: list[float] | tuple[float, ...] | None = (0.0, 0.0, 0.0)
    image_std: list[float] | tuple[float, ...] | None = (1.0, 1.0, 1.0)

    def _check_model_fields(self) -> None:
        """Check the CNN's own fields (the shared ones are checked by ``GlitchClassifierConfig``)."""
        if self.num_views != 4:
            raise ValueError(
                f"the merged-view CNN tiles 2x2 views: num_views must be 4; got {self.num_views}"
            )
        if self.image_mean is None or self.image_std is None:
            raise ValueError("the CNN needs image_mean and image_std (3 values each)")
        self.conv_channels = [int(c) for c in self.conv_channels]
        if not self.conv_channels or min(self.conv_channels) < 1:
            raise ValueError(f"conv_channels must be positive ints; got {self.conv_channels}")
        for name in ("kernel_size", "dense_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        height, width = self.image_size_hw
        min_size = 2 ** len(self.conv_channels)
        if min(2 * height, 2 * width) < min_size:
            raise ValueError(
                f"image_size {self.image_size} is too small for {len(self.conv_channels)} poolings"
            )
        check_rate("dropout", self.dropout)


__all__ = ["GravitySpyCNNConfig"]
