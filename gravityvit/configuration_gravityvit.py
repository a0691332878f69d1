"""GravityViT model configuration."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Sequence
from functools import partial
from typing import Any

import timm
import torch
from timm.layers import HybridEmbed
from timm.models.vision_transformer_hybrid import ConvStem
from transformers import PreTrainedConfig

from .gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S
from .losses import check_loss_settings, check_trust_settings

FUSION_KINDS: tuple[str, ...] = ("cross_attention", "mean", "concat")
# Arguments the model sets itself when it builds the backbone; backbone_kwargs may not override them.
_RESERVED_BACKBONE_KWARGS = (
    "pretrained",
    "num_classes",
    "img_size",
    "drop_path_rate",
    "pretrained_cfg_overlay",
)


def image_size_hw(image_size: int | list[int] | tuple[int, int]) -> tuple[int, int]:
    """Return ``image_size`` (an int or a (height, width) pair) as a (height, width) tuple of pixels."""
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        return (image_size, image_size)
    if isinstance(image_size, (list, tuple)) and len(image_size) == 2:
        return (int(image_size[0]), int(image_size[1]))
    raise ValueError(f"image_size must be an int or a (height, width) pair; got {image_size!r}")


def conv_stem_embed_layer(channels: Sequence[int]) -> partial:
    """A timm ``embed_layer`` that replaces a ViT's linear patch embedding by a convolutional stem.

    One 3x3 stride-2 convolution per entry of ``channels`` (BatchNorm and GELU between them, as timm's
    ``ConvStem``), so ``n`` entries make ``2**n``-pixel patches and the last entry is the token width.
    Early convolutions give a ViT trained from scratch the locality prior it otherwise learns from
    data, which makes it learn several times faster on small datasets (Xiao et al. 2021, "Early
    convolutions help transformers see better").
    """
    channels = tuple(int(c) for c in channels)

    def build(in_chans: int = 3, device=None, dtype=None, **embed_kwargs: Any) -> HybridEmbed:
        stem = ConvStem(
            in_chans=in_chans,
            depth=len(channels),
            channels=channels,
            stride=(2,) * len(channels),
            kernel_size=3,
            act_layer=torch.nn.GELU,
            device=device,
            dtype=dtype,
        )
        # The stem's last convolution already outputs the token width: no extra 1x1 projection.
        embed_kwargs["patch_size"] = 1
        return HybridEmbed(stem, in_chans=in_chans, proj=False, device=device, dtype=dtype, **embed_kwargs)

    return build


def create_timm_backbone(
    backbone: str,
    image_size: int | list[int] | tuple[int, int],
    backbone_kwargs: dict[str, Any] | None = None,
    drop_path_rate: float = 0.0,
    conv_stem_channels: Sequence[int] | None = None,
    **extra_kwargs: Any,
) -> torch.nn.Module:
    """Build the timm backbone of a GravityViT model: random init, no classifier head.

    Args:
        backbone (`str`):
            timm model name, e.g. ``vit_base_patch16_224``.
        image_size (`int` or `(int, int)`):
            Input size in pixels, passed as ``img_size`` to backbones that take one.
        backbone_kwargs (`dict`, *optional*):
            Further keyword arguments for ``timm.create_model`` (depth, embed_dim, num_heads, ...).
        drop_path_rate (`float`):
            Stochastic depth rate of the backbone blocks.
        conv_stem_channels (`Sequence[int]`, *optional*):
            Replace the ViT's patch embedding by a convolutional stem with these output channels
            (``conv_stem_embed_layer``); the last must equal the ViT's ``embed_dim``.
        **extra_kwargs:
            Passed on to ``timm.create_model`` (the weight loader uses ``pretrained`` and
            ``pretrained_cfg_overlay``).

    Returns:
        `torch.nn.Module`: The timm model with ``num_classes=0``.
    """
    kwargs = dict(backbone_kwargs or {})
    kwargs.update(extra_kwargs)
    kwargs.setdefault("pretrained", False)
    if conv_stem_channels:
        kwargs["embed_layer"] = conv_stem_embed_layer(conv_stem_channels)
    try:
        return timm.create_model(
            backbone,
            num_classes=0,
            img_size=image_size_hw(image_size),
            drop_path_rate=drop_path_rate,
            **kwargs,
        )
    except TypeError as error:
        # Convolutional backbones take any input size and have no img_size argument.
        if "img_size" not in str(error):
            raise
        return timm.create_model(backbone, num_classes=0, drop_path_rate=drop_path_rate, **kwargs)


@functools.lru_cache(maxsize=32)
def _describe_backbone(
    backbone: str, image_size_json: str, backbone_kwargs_json: str, conv_stem_json: str
) -> dict[str, Any]:
    """Build the backbone on the meta device (no memory, ~0.2 s) and report what the config needs."""
    kwargs = json.loads(backbone_kwargs_json)
    conv_stem_channels = json.loads(conv_stem_json)
    try:
        with torch.device("meta"):
            model = create_timm_backbone(
                backbone, json.loads(image_size_json), kwargs, conv_stem_channels=conv_stem_channels
            )
    except Exception as error:
        stem = f" and conv_stem_channels={conv_stem_channels}" if conv_stem_channels else ""
        raise ValueError(
            f"timm could not build backbone {backbone!r} with backbone_kwargs={kwargs}{stem}: {error}"
        ) from error
    patch_size = None
    patch_embed = getattr(model, "patch_embed", None)
    if patch_embed is not None and getattr(patch_embed, "patch_size", None) is not None:
        # A convolutional stem's tokens are (its stride) x (timm's patch size on its feature map) pixels.
        stem_stride = 2 ** len(conv_stem_channels or [])
        patch_size = [int(p) * stem_stride for p in patch_embed.patch_size]
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    return {
        "hidden_size": int(model.num_features),
        "patch_size": patch_size,
        "mean": list(cfg.get("mean", timm.data.IMAGENET_DEFAULT_MEAN)),
        "std": list(cfg.get("std", timm.data.IMAGENET_DEFAULT_STD)),
    }


def describe_backbone(
    backbone: str,
    image_size: int | list[int] | tuple[int, int],
    backbone_kwargs: dict[str, Any] | None,
    conv_stem_channels: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Return ``hidden_size``, ``patch_size`` and the pretrained ``mean`` / ``std`` of a timm backbone.

    Raises:
        ValueError: When timm does not know the backbone or cannot build it with these arguments.
    """
    if not isinstance(backbone, str) or not timm.is_model(backbone):
        close = difflib.get_close_matches(str(backbone), timm.list_models(), n=5)
        hint = f"; did you mean one of {close}?" if close else ""
        raise ValueError(f"unknown timm backbone {backbone!r}{hint}")
    return dict(
        _describe_backbone(
            backbone,
            json.dumps(list(image_size_hw(image_size))),
            json.dumps(backbone_kwargs or {}, sort_keys=True),
            json.dumps(list(conv_stem_channels or [])),
        )
    )


class GravityViTConfig(PreTrainedConfig):
    r"""Configuration of a GravityViT glitch classifier: a shared timm backbone over the Omega-scan views,
    a learned duration embedding per view, a fusion module and an MLP head.

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
            Label smoothing of the cross-entropy / focal loss, in [0, 1).
        focal_gamma (`float`, *optional*, defaults to 0.0):
            Focal-loss exponent; 0 gives plain cross-entropy.
        class_weights (`list[float]`, *optional*):
            Per-class loss weights (one per label, non-negative), e.g. inverse class frequencies.
        image_mean (`list[float]`, *optional*):
            Per-channel normalisation mean of the processor; defaults to the backbone's timm
            ``pretrained_cfg["mean"]``.
        image_std (`list[float]`, *optional*):
            Per-channel normalisation std; defaults to the backbone's ``pretrained_cfg["std"]``.
        initializer_range (`float`, *optional*, defaults to 0.02):
            Std of the truncated normal initialising the fusion, head and duration embedding.
        hidden_size (`int`, *optional*):
            Width of the backbone's tokens; derived from the backbone at construction (a given value
            must match it).
        id2label (`dict[int, str]`, *optional*):
            Class names by index; defaults to the 22 Gravity Spy classes in ``CLASS_NAMES`` order.
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
        ValueError: at construction, for an unknown backbone or one timm cannot build with these
            arguments, an unknown fusion kind, ``len(view_durations_s) != num_views``, heads that do
            not divide the hidden size, an image size the patch size does not divide, a
            ``class_weights`` length that is not ``num_labels``, or an out-of-range number.

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
    image_size: int | list[int] | tuple[int, int] = 224
    num_views: int = 4
    view_durations_s: list[float] | tuple[float, ...] = VIEW_DURATIONS_S
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
    focal_gamma: float = 0.0
    class_weights: list[float] | None = None
    image_mean: list[float] | None = None
    image_std: list[float] | None = None
    initializer_range: float = 0.02
    hidden_size: int | None = None
    logit_temperature: float = 1.0
    unknown_threshold: float | None = None

    def __post_init__(self, **kwargs: Any) -> None:
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label = dict(enumerate(CLASS_NAMES))
            self.label2id = {name: index for index, name in enumerate(CLASS_NAMES)}
        super().__post_init__(**kwargs)
        if self.id2label is not None and self.label2id is None:
            self.label2id = {name: int(index) for index, name in self.id2label.items()}
        self._validate_and_resolve()

    def _validate_and_resolve(self) -> None:
        """Check every field and fill the backbone-derived ones (hidden_size, image_mean/std)."""
        if self.backbone_kwargs is not None and not isinstance(self.backbone_kwargs, dict):
            raise ValueError(f"backbone_kwargs must be a dict; got {type(self.backbone_kwargs).__name__}")
        reserved = sorted(set(self.backbone_kwargs or {}) & set(_RESERVED_BACKBONE_KWARGS))
        if reserved:
            raise ValueError(
                f"backbone_kwargs may not set {reserved}: use image_size / drop_path_rate, or "
                "load_backbone_weights() for pretrained weights"
            )
        self._check_conv_stem()
        height, width = image_size_hw(self.image_size)
        if height <= 0 or width <= 0:
            raise ValueError(f"image_size must be positive; got {self.image_size!r}")
        self.image_size = self.image_size if isinstance(self.image_size, int) else [height, width]
        _check_int("num_views", self.num_views, minimum=1)
        self.view_durations_s = [float(d) for d in self.view_durations_s]
        if len(self.view_durations_s) != self.num_views:
            raise ValueError(
                f"view_durations_s must give one duration per view (num_views={self.num_views}); "
                f"got {len(self.view_durations_s)}: {self.view_durations_s}"
            )
        if any(d <= 0 for d in self.view_durations_s) or len(set(self.view_durations_s)) != self.num_views:
            raise ValueError(
                f"view_durations_s must be distinct positive seconds; got {self.view_durations_s}"
            )
        if self.fusion not in FUSION_KINDS:
            raise ValueError(f"unknown fusion {self.fusion!r}; expected one of {FUSION_KINDS}")
        for name in ("fusion_num_heads", "fusion_depth", "fusion_num_queries"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("head_hidden_size", self.head_hidden_size, minimum=0)
        if not self.fusion_mlp_ratio > 0:
            raise ValueError(f"fusion_mlp_ratio must be positive; got {self.fusion_mlp_ratio}")
        for name in ("fusion_dropout", "drop_path_rate", "head_dropout"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1); got {value}")
        self.class_weights = check_loss_settings(
            self.label_smoothing, self.focal_gamma, self.class_weights, self.num_labels
        )
        self.logit_temperature, self.unknown_threshold = check_trust_settings(
            self.logit_temperature, self.unknown_threshold
        )

        described = describe_backbone(
            self.backbone, self.image_size, self.backbone_kwargs, self.conv_stem_channels
        )
        if self.hidden_size is not None and int(self.hidden_size) != described["hidden_size"]:
            raise ValueError(
                f"hidden_size={self.hidden_size} does not match backbone {self.backbone!r} "
                f"(hidden size {described['hidden_size']}); leave hidden_size unset"
            )
        self.hidden_size = described["hidden_size"]
        if described["patch_size"] is not None:
            patch_h, patch_w = described["patch_size"]
            if height % patch_h or width % patch_w:
                raise ValueError(
                    f"image_size {self.image_size} must be a multiple of the backbone's patch size "
                    f"{described['patch_size']}"
                )
        if self.fusion == "cross_attention" and self.hidden_size % self.fusion_num_heads:
            raise ValueError(
                f"fusion_num_heads={self.fusion_num_heads} must divide the backbone's hidden size "
                f"{self.hidden_size}"
            )
        self.image_mean = _check_channels("image_mean", self.image_mean, described["mean"])
        self.image_std = _check_channels("image_std", self.image_std, described["std"])
        if any(s <= 0 for s in self.image_std):
            raise ValueError(f"image_std must be positive; got {self.image_std}")

    def _check_conv_stem(self) -> None:
        if self.conv_stem_channels is None:
            return
        channels = self.conv_stem_channels
        if (
            not isinstance(channels, (list, tuple))
            or not 1 <= len(channels) <= 6
            or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels)
        ):
            raise ValueError(f"conv_stem_channels must be 1 to 6 positive ints; got {channels!r}")
        self.conv_stem_channels = [int(c) for c in channels]
        if "patch_size" in (self.backbone_kwargs or {}):
            raise ValueError(
                f"conv_stem_channels={self.conv_stem_channels} sets the patch size "
                f"({2 ** len(channels)} pixels); remove patch_size from backbone_kwargs"
            )

    @property
    def image_size_hw(self) -> tuple[int, int]:
        """The input size as (height, width) pixels."""
        return image_size_hw(self.image_size)


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")


def _check_channels(name: str, value: Any, default: list[float]) -> list[float]:
    values = [float(v) for v in (default if value is None else value)]
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 values (one per RGB channel); got {values}")
    return values


__all__ = [
    "FUSION_KINDS",
    "GravityViTConfig",
    "conv_stem_embed_layer",
    "create_timm_backbone",
    "describe_backbone",
    "image_size_hw",
]
