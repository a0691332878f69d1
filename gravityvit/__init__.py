"""GravityViT: multi-view Vision Transformer classifier of LIGO glitches (22 Gravity Spy classes).

Importing the package registers its model families with the transformers Auto classes
(``AutoConfig``, ``AutoModel``, ``AutoModelForImageClassification``, ``AutoImageProcessor``), and
marks the classes for ``save_pretrained`` to write ``auto_map`` and copy the model code, so that a
saved directory also loads with ``trust_remote_code=True`` where gravityvit is not installed.

Imports stay light on purpose (torch, timm, transformers, numpy, PIL): datasets, gwpy and matplotlib
are imported by the modules that need them.
"""

from __future__ import annotations

from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageClassification,
)

from .configuration_gravityspy_cnn import GravitySpyCNNConfig
from .configuration_gravityvit import FUSION_KINDS, GravityViTConfig
from .gravity_spy import (
    CLASS_NAMES,
    HDF5_VIEW_KEYS,
    IMAGE_COLUMNS,
    VIEW_DURATIONS_S,
    VIEW_SHAPE,
)
from .image_processing_gravityvit import GravityViTImageProcessor
from .losses import glitch_classification_loss
from .modeling_gravityspy_cnn import GravitySpyCNNForGlitchClassification
from .modeling_gravityvit import (
    GlitchClassifierOutput,
    GravityViTForGlitchClassification,
    GravityViTModel,
    GravityViTModelOutput,
    GravityViTPreTrainedModel,
)
from .named_configs import get_named_config, list_named_configs

__version__ = "0.1.0"


def _register_auto_classes() -> None:
    """Register both model families with the Auto classes (idempotent: safe on re-import)."""
    AutoConfig.register(GravityViTConfig.model_type, GravityViTConfig, exist_ok=True)
    AutoConfig.register(GravitySpyCNNConfig.model_type, GravitySpyCNNConfig, exist_ok=True)
    AutoModel.register(GravityViTConfig, GravityViTModel, exist_ok=True)
    AutoModelForImageClassification.register(
        GravityViTConfig, GravityViTForGlitchClassification, exist_ok=True
    )
    AutoModelForImageClassification.register(
        GravitySpyCNNConfig, GravitySpyCNNForGlitchClassification, exist_ok=True
    )
    # One processor serves both families and both backends (it does its own torch resizing).
    backends = {"torchvision": GravityViTImageProcessor, "pil": GravityViTImageProcessor}
    AutoImageProcessor.register(GravityViTConfig, image_processor_classes=backends, exist_ok=True)
    AutoImageProcessor.register(GravitySpyCNNConfig, image_processor_classes=backends, exist_ok=True)
    # save_pretrained writes auto_map and copies these modules (and their relative imports).
    GravityViTConfig.register_for_auto_class("AutoConfig")
    GravitySpyCNNConfig.register_for_auto_class("AutoConfig")
    GravityViTModel.register_for_auto_class("AutoModel")
    GravityViTForGlitchClassification.register_for_auto_class("AutoModelForImageClassification")
    GravitySpyCNNForGlitchClassification.register_for_auto_class("AutoModelForImageClassification")
    GravityViTImageProcessor.register_for_auto_class("AutoImageProcessor")


_register_auto_classes()

# Registers the "glitch-classification" pipeline task (after the Auto classes it loads through).
from .pipelines import GlitchClassificationPipeline  # noqa: E402

__all__ = [
    "CLASS_NAMES",
    "FUSION_KINDS",
    "HDF5_VIEW_KEYS",
    "IMAGE_COLUMNS",
    "VIEW_DURATIONS_S",
    "VIEW_SHAPE",
    "GlitchClassificationPipeline",
    "GlitchClassifierOutput",
    "GravitySpyCNNConfig",
    "GravitySpyCNNForGlitchClassification",
    "GravityViTConfig",
    "GravityViTForGlitchClassification",
    "GravityViTImageProcessor",
    "GravityViTModel",
    "GravityViTModelOutput",
    "GravityViTPreTrainedModel",
    "get_named_config",
    "glitch_classification_loss",
    "list_named_configs",
]
