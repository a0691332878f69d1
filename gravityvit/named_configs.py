"""Named GravityViT and baseline configurations, available offline.

``get_named_config("gravityvit/multiview-b16")`` returns a configuration, never weights: a model built
from it has random weights (the backbone too) until ImageNet backbone weights are loaded
(``model.load_backbone_weights(path)`` or ``conversion_scripts/convert_timm_to_gravityvit.py``) or it
is trained. The names look like Hub ids on purpose, but nothing is downloaded.

What a GravityViT configuration would otherwise take from its timm backbone when the model is built
(``hidden_size``, ``image_mean``, ``image_std``) is stored here explicitly (``NamedConfig.derived``),
so a named configuration is complete without torch or timm. Those values follow the backbone: they
are left out when the overrides change it (``backbone``, ``backbone_kwargs``, ``conv_stem_channels``,
``conv_stem_strides``),
and the model then derives them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedConfig

from .configuration_gravityspy_cnn import GravitySpyCNNConfig
from .configuration_gravityvit import GravityViTConfig

# Overriding one of these changes the backbone, and with it the values stored in NamedConfig.derived.
BACKBONE_FIELDS: tuple[str, ...] = ("backbone", "backbone_kwargs", "conv_stem_channels", "conv_stem_strides")


@dataclass(frozen=True)
class NamedConfig:
    """A named configuration: its config class, arguments and a one-line description.

    ``derived`` holds the fields that follow from the timm backbone of ``kwargs`` (what
    ``modeling_backbone.resolve_backbone_fields`` would fill in), stored so that the configuration is
    complete without building the backbone.
    """

    config_class: type[PreTrainedConfig]
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    derived: dict[str, Any] = field(default_factory=dict)


NAMED_CONFIGS: dict[str, NamedConfig] = {
    "gravityvit/multiview-b16": NamedConfig(
        GravityViTConfig,
        {"backbone": "vit_base_patch16_224", "image_size": 224, "fusion_num_heads": 8},
        "ViT-B/16 at 224x224 over the 4 views, cross-attention fusion (86 M backbone parameters).",
        {"hidden_size": 768, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    ),
    "gravityvit/multiview-s16": NamedConfig(
        GravityViTConfig,
        {
            "backbone": "vit_small_patch16_224",
            "image_size": 224,
            "fusion_num_heads": 6,
            "head_hidden_size": 384,
        },
        "ViT-S/16 at 224x224 over the 4 views, cross-attention fusion (22 M backbone parameters).",
        {"hidden_size": 384, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    ),
    "gravityvit/multiview-ti16": NamedConfig(
        GravityViTConfig,
        {
            "backbone": "vit_tiny_patch16_224",
            "image_size": 224,
            "fusion_num_heads": 4,
            "head_hidden_size": 256,
        },
        "ViT-Ti/16 at 224x224 over the 4 views, cross-attention fusion (5.5 M backbone parameters).",
        {"hidden_size": 192, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    ),
    "gravityvit/singleview-b16": NamedConfig(
        GravityViTConfig,
        {
            "backbone": "vit_base_patch16_224",
            "image_size": 224,
            "num_views": 1,
            "view_durations_s": [1.0],
            "fusion": "mean",
            "head_hidden_size": 0,
        },
        "The single-view baseline: a plain ViT-B/16 (class token, linear head) on the 1 s view only.",
        {"hidden_size": 768, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    ),
    "gravityvit/multiview-demo": NamedConfig(
        GravityViTConfig,
        {
            "backbone": "vit_tiny_patch16_224",
            # 2 blocks of width 96, average-pooled tokens without a class token; a convolutional stem
            # instead of the linear patch embedding: a 4x4 patchify convolution, then two 3x3
            # stride-2 convolutions: 16x16-pixel tokens, 4 x 5 per view at 64x80 pixels. At equal
            # training time, 64x80 beats 112x144 and 144x176: more epochs are worth more than the
            # pixels on this task (docs/model.md, "Input resolution").
            "backbone_kwargs": {
                "depth": 2,
                "embed_dim": 96,
                "num_heads": 3,
                "global_pool": "avg",
                "class_token": False,
            },
            "conv_stem_channels": [24, 48, 96],
            "conv_stem_strides": [4, 2, 2],
            "image_size": [64, 80],
            "drop_path_rate": 0.0,
            "fusion_num_heads": 3,
            "fusion_num_queries": 1,
            "head_hidden_size": 96,
            # Standardise the dark Omega-scan views (pixel mean ~0.16, std ~0.1) rather than with
            # ImageNet's 0.5 / 0.5: a backbone trained from scratch learns faster on unit-scale inputs.
            "image_mean": [0.16, 0.16, 0.16],
            "image_std": [0.1, 0.1, 0.1],
        },
        "CPU demo (make demo): a 2-block, width-96 ViT with a convolutional stem (16x16-pixel tokens) at "
        "64x80 pixels over the 4 views, cross-attention fusion (0.40 M parameters); trains from "
        "scratch in minutes on 2 cores.",
        {"hidden_size": 96},
    ),
    "gravityspy/cnn-baseline": NamedConfig(
        GravitySpyCNNConfig,
        {},
        "The Gravity Spy production merged-view CNN (Bahaadini et al. 2018) on native 140x170 views.",
    ),
}


def list_named_configs() -> list[str]:
    """Names accepted by ``get_named_config``, sorted."""
    return sorted(NAMED_CONFIGS)


def get_named_config(name: str, **overrides: Any) -> PreTrainedConfig:
    """Return a fresh configuration of the given name (no weights, no network).

    Parameters
    ----------
    name : str
        One of ``list_named_configs()``, e.g. ``"gravityvit/multiview-b16"``.
    **overrides
        Config fields to change, e.g. ``image_size=384`` or ``class_weights=[...]``.

    Raises
    ------
    KeyError
        For an unknown name (the message lists the known ones).
    ValueError
        When an override is invalid (raised by the config).
    """
    if name not in NAMED_CONFIGS:
        raise KeyError(f"unknown named configuration {name!r}; available: {list_named_configs()}")
    named = NAMED_CONFIGS[name]
    derived = {} if set(overrides) & set(BACKBONE_FIELDS) else named.derived
    kwargs = {**named.kwargs, **derived, **overrides}
    if "conv_stem_channels" in overrides and "conv_stem_strides" not in overrides:
        # The strides belong to the named stem: other channels (or none) start from the default strides.
        kwargs.pop("conv_stem_strides", None)
    return named.config_class(**kwargs)


__all__ = ["BACKBONE_FIELDS", "NAMED_CONFIGS", "NamedConfig", "get_named_config", "list_named_configs"]
