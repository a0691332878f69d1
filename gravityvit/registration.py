"""Registration of the GravityViT model families with transformers, done when transformers is used.

``import gravityvit`` imports neither torch nor transformers, so that ``gravityvit --help`` starts in
well under a second. The Auto classes and the ``glitch-classification`` pipeline task still need to
know the package's classes before a saved model is loaded, so the registration runs as soon as it
can be needed:

- when transformers' Auto classes (``transformers.models.auto``) or its pipelines
  (``transformers.pipelines``) are imported,
- when a GravityViT configuration, model or image-processor module is imported,

whichever comes first, and right away if one of them was imported before ``gravityvit``. It waits
until the import that triggered it is complete (no ``transformers`` or ``gravityvit`` module is
half-imported), because it imports both. :func:`register_auto_classes` and
:func:`register_pipeline_task` can also be called directly; both are idempotent.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any

# Modules whose import means the Auto classes may be asked for a GravityViT model.
AUTO_TRIGGERS: tuple[str, ...] = (
    "transformers.models.auto",
    "transformers.pipelines",
    "gravityvit.configuration_gravityvit",
    "gravityvit.configuration_gravityspy_cnn",
    "gravityvit.modeling_gravityvit",
    "gravityvit.modeling_gravityspy_cnn",
    "gravityvit.image_processing_gravityvit",
)
# Modules whose import means ``pipeline("glitch-classification")`` may be called.
PIPELINE_TRIGGERS: tuple[str, ...] = ("transformers.pipelines", "gravityvit.pipelines")
# Packages whose modules are watched: the registration imports from both.
WATCHED_PACKAGES: tuple[str, ...] = ("transformers", "gravityvit")

_state = {"auto": False, "pipeline": False, "running": False}
_lock = threading.RLock()
_local = threading.local()


def register_auto_classes() -> None:
    """Register both model families with the transformers Auto classes (idempotent).

    ``AutoConfig``, ``AutoModel``, ``AutoModelForImageClassification`` and ``AutoImageProcessor`` learn
    the ``gravityvit`` and ``gravityspy_cnn`` model types, and the classes are marked for
    ``save_pretrained`` to write ``auto_map`` and copy the model code, so that a saved directory also
    loads with ``trust_remote_code=True`` where gravityvit is not installed.
    """
    from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageClassification

    from .configuration_gravityspy_cnn import GravitySpyCNNConfig
    from .configuration_gravityvit import GravityViTConfig
    from .image_processing_gravityvit import GravityViTImageProcessor
    from .modeling_gravityspy_cnn import GravitySpyCNNForGlitchClassification
    from .modeling_gravityvit import GravityViTForGlitchClassification, GravityViTModel

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
    _state["auto"] = True


def register_pipeline_task() -> None:
    """Register the ``glitch-classification`` pipeline task (importing ``gravityvit.pipelines`` does it)."""
    from .pipelines import register_pipelines

    register_pipelines()
    _state["pipeline"] = True


def _loaded(names: Sequence[str]) -> bool:
    return any(name in sys.modules for name in names)


def _register_what_is_needed() -> None:
    """Run the registrations whose trigger modules are imported; stop watching once both are done."""
    with _lock:
        if _state["running"]:
            return
        _state["running"] = True
        try:
            if not _state["auto"] and _loaded(AUTO_TRIGGERS + PIPELINE_TRIGGERS):
                register_auto_classes()
            if not _state["pipeline"] and _loaded(PIPELINE_TRIGGERS):
                register_pipeline_task()
        finally:
            _state["running"] = False
        if _state["auto"] and _state["pipeline"]:
            _uninstall()


def _is_watched(fullname: str) -> bool:
    return any(fullname == package or fullname.startswith(package + ".") for package in WATCHED_PACKAGES)


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it lets the other finders find a watched module and, once the outermost
    watched import is complete, runs the registrations its imports call for."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_watched(fullname):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    _watch_execution(spec.loader)
                return spec
        return None


def _watch_execution(loader: Any) -> None:
    """Wrap this loader instance's ``exec_module`` to count nested watched imports."""
    if getattr(loader, "_gravityvit_watched", False):
        return
    exec_module = loader.exec_module

    def watched_exec_module(module: ModuleType) -> None:
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            exec_module(module)
        finally:
            _local.depth -= 1
            # The loader is the module's __loader__ from now on: leave it as the import system made it.
            del loader.exec_module, loader._gravityvit_watched
        if _local.depth == 0:
            _register_what_is_needed()

    loader.exec_module = watched_exec_module
    loader._gravityvit_watched = True


_finder = _RegisterAfterImport()


def _uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)


def install() -> None:
    """Register now if a trigger module is already imported, else when one is (called by ``import gravityvit``)."""
    if _loaded(AUTO_TRIGGERS + PIPELINE_TRIGGERS):
        _register_what_is_needed()
    if not (_state["auto"] and _state["pipeline"]) and _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
