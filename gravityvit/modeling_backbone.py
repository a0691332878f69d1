"""The timm backbone of GravityViT: building it, its convolutional stem, and what the config derives from it.

``GravityViTConfig`` holds plain fields; this module, on the model side, turns them into a timm model
and reads back what the configuration leaves unset (``hidden_size``, ``image_mean``, ``image_std``)
or must agree with (the patch size dividing ``image_size``).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import partial
from typing import Any

import timm
import torch
from timm.layers import HybridEmbed
from timm.models.vision_transformer_hybrid import ConvStem

from .configuration_common import image_size_hw
from .configuration_gravityvit import conv_stem_patch_size


def conv_stem_embed_layer(channels: Sequence[int], strides: Sequence[int] | None = None) -> partial:
    """A timm ``embed_layer`` that replaces a ViT's linear patch embedding by a convolutional stem.

    One convolution per entry of ``channels`` (BatchNorm and GELU between them, as timm's
    ``ConvStem``); the last entry is the token width. By default each is a 3x3 stride-2 convolution,
    so ``n`` entries make ``2**n``-pixel patches. A stride ``s`` above 2 in ``strides`` makes that
    layer an ``s x s`` patchify convolution without overlap or padding, which reads a high-resolution
    input for the cost of a low-resolution one.
    Early convolutions give a ViT trained from scratch the locality prior it otherwise learns from
    data, which makes it learn several times faster on small datasets (Xiao et al. 2021, "Early
    convolutions help transformers see better").
    """
    channels = tuple(int(c) for c in channels)
    strides = tuple(int(s) for s in strides) if strides else (2,) * len(channels)
    kernel_sizes = tuple(s if s > 2 else 3 for s in strides)
    paddings = tuple(0 if s > 2 else "" for s in strides)

    def build(in_chans: int = 3, device=None, dtype=None, **embed_kwargs: Any) -> HybridEmbed:
        stem = ConvStem(
            in_chans=in_chans,
            depth=len(channels),
            channels=channels,
            stride=strides,
            kernel_size=kernel_sizes,
            padding=paddings,
            act_layer=torch.nn.GELU,
            device=device,
            dtype=dtype,
        )
        # The stem's last convolution already outputs the token width: no extra 1x1 projection.
        embed_kwargs["patch_size"] = 1
        return HybridEmbed(stem, in_chans=in_chans, proj=False, device=device, dtype=dtype, **embed_kwargs)

    return build


def _create_model(
    backbone: str, image_size: tuple[int, int], drop_path_rate: float, kwargs: dict[str, Any]
) -> torch.nn.Module:
    try:
        return timm.create_model(
            backbone, num_classes=0, img_size=image_size, drop_path_rate=drop_path_rate, **kwargs
        )
    except TypeError as error:
        # Convolutional backbones take any input size and have no img_size argument.
        if "img_size" not in str(error):
            raise
        return timm.create_model(backbone, num_classes=0, drop_path_rate=drop_path_rate, **kwargs)


def create_timm_backbone(
    backbone: str,
    image_size: int | list[int] | tuple[int, int],
    backbone_kwargs: dict[str, Any] | None = None,
    drop_path_rate: float = 0.0,
    conv_stem_channels: Sequence[int] | None = None,
    conv_stem_strides: Sequence[int] | None = None,
    **extra_kwargs: Any,
) -> torch.nn.Module:
    """Build the timm backbone of a GravityViT model: random init, no classifier head.

    Args:
        backbone (`str`): timm model name, e.g. ``vit_base_patch16_224``.
        image_size (`int` or `(int, int)`): input size in pixels, passed as ``img_size`` to backbones
            that take one.
        backbone_kwargs (`dict`, *optional*): further keyword arguments for ``timm.create_model``
            (depth, embed_dim, num_heads, ...).
        drop_path_rate (`float`): stochastic depth rate of the backbone blocks.
        conv_stem_channels (`Sequence[int]`, *optional*): replace the ViT's patch embedding by a
            convolutional stem with these output channels (``conv_stem_embed_layer``); the last must
            equal the ViT's ``embed_dim``.
        conv_stem_strides (`Sequence[int]`, *optional*): the stride of each stem convolution (default 2).
        **extra_kwargs: passed on to ``timm.create_model`` (the weight loader uses ``pretrained`` and
            ``pretrained_cfg_overlay``).

    Returns:
        `torch.nn.Module`: the timm model with ``num_classes=0``.

    Raises:
        ValueError: when timm does not know the backbone (with the closest names) or cannot build it
            with these arguments.
    """
    if not isinstance(backbone, str) or not timm.is_model(backbone):
        close = difflib.get_close_matches(str(backbone), timm.list_models(), n=5)
        hint = f"; did you mean one of {close}?" if close else ""
        raise ValueError(f"unknown timm backbone {backbone!r}{hint}")
    kwargs = dict(backbone_kwargs or {})
    kwargs.update(extra_kwargs)
    kwargs.setdefault("pretrained", False)
    if conv_stem_channels:
        kwargs["embed_layer"] = conv_stem_embed_layer(conv_stem_channels, conv_stem_strides)
    try:
        return _create_model(backbone, image_size_hw(image_size), drop_path_rate, kwargs)
    except (TypeError, ValueError, AssertionError, RuntimeError) as error:
        stem = f" and conv_stem_channels={list(conv_stem_channels)}" if conv_stem_channels else ""
        raise ValueError(
            f"timm could not build backbone {backbone!r} with backbone_kwargs={backbone_kwargs or {}}"
            f"{stem}: {error}"
        ) from error


def create_config_backbone(config: Any) -> torch.nn.Module:
    """Build the timm backbone of a ``GravityViTConfig``: what ``GravityViTModel`` holds, random init.

    The one place that turns the configuration's backbone fields (``backbone``, ``image_size``,
    ``backbone_kwargs``, ``drop_path_rate``, ``conv_stem_channels``, ``conv_stem_strides``) into a timm
    model, so that the model and anything that must match it (the benchmarks' baselines) build the same
    network.
    """
    return create_timm_backbone(
        config.backbone,
        config.image_size,
        config.backbone_kwargs,
        drop_path_rate=config.drop_path_rate,
        conv_stem_channels=config.conv_stem_channels,
        conv_stem_strides=config.conv_stem_strides,
    )


def describe_backbone(
    model: torch.nn.Module,
    conv_stem_channels: Sequence[int] | None = None,
    conv_stem_strides: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Return the ``hidden_size``, ``patch_size`` and pretrained ``mean`` / ``std`` of a built timm backbone.

    ``patch_size`` is the token size in input pixels, ``[height, width]``, or None for backbones
    without a patch embedding (convolutional networks).
    """
    patch_size = None
    patch_embed = getattr(model, "patch_embed", None)
    if patch_embed is not None and getattr(patch_embed, "patch_size", None) is not None:
        # A convolutional stem's tokens are (its stride) x (timm's patch size on its feature map) pixels.
        stem_stride = conv_stem_patch_size(list(conv_stem_channels or []), conv_stem_strides)
        patch_size = [int(p) * stem_stride for p in patch_embed.patch_size]
    cfg = dict(getattr(model, "pretrained_cfg", None) or {})
    return {
        "hidden_size": int(model.num_features),
        "patch_size": patch_size,
        "mean": [float(m) for m in cfg.get("mean", timm.data.IMAGENET_DEFAULT_MEAN)],
        "std": [float(s) for s in cfg.get("std", timm.data.IMAGENET_DEFAULT_STD)],
    }


def resolve_backbone_fields(config: Any, backbone: torch.nn.Module | None = None) -> Any:
    """Check ``config`` against its timm backbone and fill the fields derived from it, in place.

    Fills ``hidden_size``, ``image_mean`` and ``image_std`` where they are unset; checks that a set
    ``hidden_size`` matches the backbone, that the patch size divides ``image_size`` and that the
    fusion heads divide the hidden size. Without ``backbone`` it is built on the meta device (no
    memory, about 0.2 s), e.g. for an image processor made from a configuration before its model.

    Args:
        config (`GravityViTConfig`): the configuration; changed in place and returned.
        backbone (`torch.nn.Module`, *optional*): the backbone built from ``config``.

    Raises:
        ValueError: when the backbone cannot be built or does not fit the configuration.
    """
    if backbone is None:
        with torch.device("meta"):
            backbone = create_timm_backbone(
                config.backbone,
                config.image_size,
                config.backbone_kwargs,
                conv_stem_channels=config.conv_stem_channels,
                conv_stem_strides=config.conv_stem_strides,
            )
    described = describe_backbone(backbone, config.conv_stem_channels, config.conv_stem_strides)
    if config.hidden_size is not None and int(config.hidden_size) != described["hidden_size"]:
        raise ValueError(
            f"hidden_size={config.hidden_size} does not match backbone {config.backbone!r} "
            f"(hidden size {described['hidden_size']}); leave hidden_size unset"
        )
    if described["patch_size"] is not None:
        height, width = image_size_hw(config.image_size)
        patch_h, patch_w = described["patch_size"]
        if height % patch_h or width % patch_w:
            raise ValueError(
                f"image_size {config.image_size} must be a multiple of the backbone's patch size "
                f"{described['patch_size']}"
            )
    config.check_fusion_heads(described["hidden_size"])
    config.hidden_size = described["hidden_size"]
    if config.image_mean is None:
        config.image_mean = described["mean"]
    if config.image_std is None:
        config.image_std = described["std"]
    return config


__all__ = [
    "conv_stem_embed_layer",
    "create_config_backbone",
    "create_timm_backbone",
    "describe_backbone",
    "resolve_backbone_fields",
]
