"""GravityViT: multi-view Vision Transformer classifier of LIGO glitches (Gravity Spy's 22 v1 classes
or the 23 of its O3 model, or any label set).

``import gravityvit`` is light: it imports neither torch nor transformers. Every public name below is
imported from its submodule on first use (PEP 562 ``__getattr__``), so ``gravityvit --help`` and the
command line's argument checks start in a fraction of a second.

The model families are registered with the transformers Auto classes (``AutoConfig``, ``AutoModel``,
``AutoModelForImageClassification``, ``AutoImageProcessor``) and the ``glitch-classification``
pipeline task is registered as soon as transformers' Auto classes or pipelines, or one of the
package's model modules, are imported (see ``gravityvit.registration``). ``import gravityvit`` before
``AutoModelForImageClassification.from_pretrained(...)`` or ``pipeline("glitch-classification", ...)``
is therefore enough, as it always was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy_exports import export_table, lazy_exports
from .registration import install as _install_registration

__version__ = "0.1.0"

# Public names by the submodule of gravityvit that defines them.
_EXPORTS: dict[str, str] = export_table(
    """
    # gravity_spy.py: the data contract
    gravity_spy: CLASS_NAMES HDF5_VIEW_KEYS IMAGE_COLUMNS LABEL_SETS O3_CLASS_NAMES resolve_label_set
    gravity_spy: VIEW_DURATIONS_S VIEW_SHAPE
    # the GravityViT model family
    configuration_gravityvit: FUSION_KINDS GravityViTConfig
    modeling_gravityvit: GlitchClassifierOutput GravityViTForGlitchClassification GravityViTModel
    modeling_gravityvit: GravityViTModelOutput GravityViTPreTrainedModel
    image_processing_gravityvit: GravityViTImageProcessor
    # the Gravity Spy CNN baseline
    configuration_gravityspy_cnn: GravitySpyCNNConfig
    modeling_gravityspy_cnn: GravitySpyCNNForGlitchClassification
    # losses, named configurations, the pipeline
    losses: glitch_classification_loss
    named_configs: get_named_config list_named_configs
    pipelines: GlitchClassificationPipeline
    """
)

__all__ = [
    "CLASS_NAMES",
    "FUSION_KINDS",
    "HDF5_VIEW_KEYS",
    "IMAGE_COLUMNS",
    "LABEL_SETS",
    "O3_CLASS_NAMES",
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
    "resolve_label_set",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from .configuration_gravityspy_cnn import GravitySpyCNNConfig
    from .configuration_gravityvit import FUSION_KINDS, GravityViTConfig
    from .gravity_spy import (
        CLASS_NAMES,
        HDF5_VIEW_KEYS,
        IMAGE_COLUMNS,
        LABEL_SETS,
        O3_CLASS_NAMES,
        VIEW_DURATIONS_S,
        VIEW_SHAPE,
        resolve_label_set,
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
    from .pipelines import GlitchClassificationPipeline

_install_registration()
