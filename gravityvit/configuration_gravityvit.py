"""GravityViT model configuration.

Plain, JSON-serialisable fields only: this module imports neither torch nor timm. What depends on
the timm backbone (its token width, its normalisation, its patch size) is derived and checked when
the model is built (``modeling_backbone.create_config_backbone``, ``resolve_backbone_fields``), or
stored explicitly, as in the named configurations.
"""

from __future__ import annotations

import math
from typing import Any

from .configuration_common import GlitchClassifierConfig, check_int, check_rate, image_size_hw

FUSION_KINDS: tuple[str, ...] = ("cross_attention", "mean", "concat")
# Arguments the model sets itself when it builds the backbone; backbone_kwargs may not override them.
_RESERVED_BACKBONE_KWARGS = (
    "pretrained",
    "num_classes",
    "img_size",
    "drop_path_rate",
    "pretrained_cfg_overlay",
)


class GravityViTConfig(GlitchClassifierConfig):
    r"""Configuration of a GravityViT glitch classifier: a shared timm backbone over the Omega-scan views,
    a learned duration embedding per view, a fusion module and an MLP head.

    The configuration holds plain fields only: reading or writing it imports neither torch nor timm.
    Building a model from a configuration gives random weights (the backbone too); load ImageNet
    backbone weights with ``GravityViTForGlitchClassification.load_backbone_weights(path)`` or the
    ``conversion_scripts/convert_timm_to_gravityvit.py`` script.

    Args:
        backbone (`str`, *optional*, defaults to `"vit_base_patch16_224"`):
            Name of the timm model shared by all views (``timm.list_models()``). Built with
            ``pretrained=False, num_classes=0, img_size=image_size``.
        backbone_kwargs (`dict`, *optional*):
            Further keyword arguments for ``timm.create_model``, e.g. ``{"depth": 2, "embed_dim": 64,
            "num_heads": 2, "patch_size": 8}`` for tiny test models. May not hold ``pretrained``,
            ``num_classes``, ``img_size`` or ``drop_path_rate`` (set from this config).
        conv_stem_channels (`list[int]`, *optional*):
            Replace the ViT's linear patch embedding by a convolutional stem: one 3x3 stride-2
            convolution (BatchNorm, GELU) per entry, so ``n`` entries make ``2**n``-pixel patches; the
            last entry must equal the ViT's ``embed_dim``. A ViT trained from scratch on a small
            dataset learns several times faster with it (the CPU demo model uses ``[24, 48, 96]``);
            ImageNet patch-embedding weights do not fit it. ``None`` keeps timm's patch embedding.
        conv_stem_strides (`list[int]`, *optional*):
            Stride of each stem convolution, one per entry of ``conv_stem_channels`` (default: all 2).
            A stride above 2 makes that convolution a non-overlapping ``s x s`` patchify layer (kernel
            ``s``, no padding): ``[4, 2, 2]`` turns 112x144 pixels into the same 7 x 9 tokens as
            ``[2, 2, 2]`` does 56x72, at about the same cost, while the first layer still sees every
            pixel of thin lines. The patch size is the product of the strides.
        image_size (`int` or `(int, int)`, *optional*, defaults to 224):
            Input size in pixels, square or (height, width), to which the processor resizes each
            (140, 170) view.
        num_views (`int`, *optional*, defaults to 4):
            Number of Omega-scan views per sample (view slots of ``pixel_values``).
        view_durations_s (`list[float]`, *optional*, defaults to `(0.5, 1.0, 2.0, 4.0)`):
            Omega-scan window duration of each view slot, in seconds; its length is ``num_views``.
        fusion (`str`, *optional*, defaults to `"cross_attention"`):
            How view tokens are fused: ``"cross_attention"`` (learned queries attend over all tokens
            of all present views; the attention mass per view gives ``view_weights``), ``"mean"``
            (masked mean of the pooled view tokens) or ``"concat"`` (pooled view tokens concatenated
            in view order, a learned "missing view" token standing in for masked views, and projected).
        fusion_num_heads (`int`, *optional*, defaults to 8):
            Attention heads of the cross-attention fusion; must divide the backbone's hidden size.
        fusion_depth (`int`, *optional*, defaults to 1):
            Number of cross-attention fusion layers (each: attention, then an MLP, both pre-norm).
        fusion_num_queries (`int`, *optional*, defaults to 4):
            Number of learned query tokens; their outputs are averaged into the pooled representation.
        fusion_mlp_ratio (`float`, *optional*, defaults to 4.0):
            Hidden width of the fusion MLP relative to the hidden size.
        fusion_dropout (`float`, *optional*, defaults to 0.0):
            Dropout on the fusion attention weights and residual branches.
        drop_path_rate (`float`, *optional*, defaults to 0.1):
            Stochastic depth rate of the timm backbone.
        head_hidden_size (`int`, *optional*, defaults to 512):
            Hidden width of the two-layer MLP head; 0 gives a single linear layer.
        head_dropout (`float`, *optional*, defaults to 0.1):
            Dropout before each linear layer of the head.
        label_smoothing (`float`, *optional*, defaults to 0.1):
            Label smoothing of the loss, in [0, 1).
        focal_gamma (`float`, *optional*, defaults to 0.0), class_weights (`list[float]`, *optional*):
            The focal-loss exponent and per-class loss weights, as in ``GlitchClassifierConfig``.
        image_mean (`list[float]`, *optional*):
            Per-channel normalisation mean of the processor; unset, it is the backbone's timm
            ``pretrained_cfg["mean"]``, filled in when the model is built.
        image_std (`list[float]`, *optional*):
            Per-channel normalisation std; unset, the backbone's ``pretrained_cfg["std"]``, filled in
            when the model is built.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Std of the truncated normal initialising the fusion, head and duration embedding.
        hidden_size (`int`, *optional*):
            Width of the backbone's tokens; unset, it is filled in from the backbone when the model is
            built (a given value must match it there).
        label_set (`str` or `list[str]`, *optional*):
            The classes: ``"v1"`` (the 22 classes of the v1 training set, the default), ``"o3"`` (the 23
            of Gravity Spy's O3 model) or a list of class names (see ``GlitchClassifierConfig``).
        id2label (`dict[int, str]`, *optional*):
            Class names by index; defaults to the classes of ``label_set``.
        logit_temperature (`float`, *optional*, defaults to 1.0), unknown_threshold (`float`, *optional*), unknown_score_method (`str`, *optional*, defaults to `"energy"`):
            The calibration fitted at the end of training (see ``GlitchClassifierConfig``).

    Raises:
        ValueError: at construction, for an unknown fusion kind, ``len(view_durations_s) !=
            num_views``, reserved ``backbone_kwargs``, heads that do not divide a given
            ``hidden_size``, a ``class_weights`` length that is not ``num_labels``, or an
            out-of-range number. What depends on the backbone (timm knows it and can build it with
            these arguments, its width, its patch size dividing ``image_size``) is checked when the
            model is built (``GravityViTModel``).

    Example:

    ```python
    >>> from gravityvit import GravityViTConfig, GravityViTForGlitchClassification
    >>> config = GravityViTConfig(backbone="vit_tiny_patch16_224", image_size=112)
    >>> model = GravityViTForGlitchClassification(config)  # random weights
    ```
    """

    model_type = "gravityvit"

    backbone: str = "vit_base_patch16_224"
    backbone_kwargs: dict[str, Any] | None = None
    conv_stem_channels: list[int] | None = None
    conv_stem_strides: list[int] | None = None
    image_size: int | list[int] | tuple[int, int] = 224
    fusion: str = "cross_attention"
    fusion_num_heads: int = 8
    fusion_depth: int = 1
    fusion_num_queries: int = 4
    fusion_mlp_ratio: float = 4.0
    fusion_dropout: float = 0.0
    drop_path_rate: float = 0.1
    head_hidden_size: int = 512
    head_dropout: float = 0.1
    label_smoothing: float = 0.1
    initializer_range: float = 0.02
    hidden_size: int | None = None

    def _check_model_fields(self) -> None:
        """Check the GravityViT fields (the shared ones are checked by ``GlitchClassifierConfig``)."""
        if not isinstance(self.backbone, str) or not self.backbone:
            raise ValueError(f"backbone must be a timm model name; got {self.backbone!r}")
        if self.backbone_kwargs is not None and not isinstance(self.backbone_kwargs, dict):
            raise ValueError(f"backbone_kwargs must be a dict; got {type(self.backbone_kwargs).__name__}")
        reserved = sorted(set(self.backbone_kwargs or {}) & set(_RESERVED_BACKBONE_KWARGS))
        if reserved:
            raise ValueError(
                f"backbone_kwargs may not set {reserved}: use image_size / drop_path_rate, or "
                "load_backbone_weights() for pretrained weights"
            )
        self._check_conv_stem()
        if self.fusion not in FUSION_KINDS:
            raise ValueError(f"unknown fusion {self.fusion!r}; expected one of {FUSION_KINDS}")
        for name in ("fusion_num_heads", "fusion_depth", "fusion_num_queries"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("head_hidden_size", self.head_hidden_size, minimum=0)
        if not self.fusion_mlp_ratio > 0:
            raise ValueError(f"fusion_mlp_ratio must be positive; got {self.fusion_mlp_ratio}")
        for name in ("fusion_dropout", "drop_path_rate", "head_dropout"):
            check_rate(name, getattr(self, name))
        if self.hidden_size is not None:
            check_int("hidden_size", self.hidden_size, minimum=1)
            self.check_fusion_heads(self.hidden_size)

    def check_fusion_heads(self, hidden_size: int) -> None:
        """Raise unless the cross-attention heads divide ``hidden_size``, the backbone's token width."""
        if self.fusion == "cross_attention" and hidden_size % self.fusion_num_heads:
            raise ValueError(
                f"fusion_num_heads={self.fusion_num_heads} must divide the backbone's hidden size "
                f"{hidden_size}"
            )

    def _check_conv_stem(self) -> None:
        if self.conv_stem_channels is None:
            if self.conv_stem_strides is not None:
                raise ValueError("conv_stem_strides needs conv_stem_channels")
            return
        channels = self.conv_stem_channels
        if (
            not isinstance(channels, (list, tuple))
            or not 1 <= len(channels) <= 6
            or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels)
        ):
            raise ValueError(f"conv_stem_channels must be 1 to 6 positive ints; got {channels!r}")
        self.conv_stem_channels = [int(c) for c in channels]
        strides = self.conv_stem_strides
        if strides is not None:
            if (
                not isinstance(strides, (list, tuple))
                or len(strides) != len(channels)
                or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in strides)
            ):
                raise ValueError(
                    f"conv_stem_strides must be one positive int per entry of conv_stem_channels "
                    f"({len(channels)}); got {strides!r}"
                )
            self.conv_stem_strides = [int(s) for s in strides]
        if "patch_size" in (self.backbone_kwargs or {}):
            raise ValueError(
                f"conv_stem_channels={self.conv_stem_channels} sets the patch size "
                f"({conv_stem_patch_size(self.conv_stem_channels, self.conv_stem_strides)} pixels); "
                "remove patch_size from backbone_kwargs"
            )


def conv_stem_patch_size(channels: list[int], strides: list[int] | None = None) -> int:
    """Pixels per token side of a convolutional stem: the product of its strides (2 per layer by default)."""
    return int(math.prod(strides)) if strides else 2 ** len(channels)


__all__ = ["FUSION_KINDS", "GravityViTConfig", "conv_stem_patch_size", "image_size_hw"]
