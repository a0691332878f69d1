"""The Hugging Face Hub: clear errors for ids that cannot be loaded, and shareable model directories.

``from_pretrained("gravityvit/multiview-b16")`` without a network (or with ``HF_HUB_OFFLINE=1``) and
without a cached copy fails in transformers after a stack of retries with a generic message. Here
the id is checked first, with one short request and no retries, and the error says what to do:
use a local directory, or build an untrained model of that shape from the named configuration.

A *shareable model directory* holds everything a user of the Hub needs: weights (safetensors),
``config.json`` with ``auto_map``, the image processor, the model card (``README.md``), the model
code (for ``trust_remote_code=True``) and the glitch-classification pipeline (``custom_pipelines``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gravityvit.file_utils import MARKER_NAME, OutputKind, atomic_path

# Seconds to wait for the Hub before declaring it unreachable (one attempt, no retries).
PROBE_TIMEOUT_S = 5.0
# Files that make a directory loadable by ``from_pretrained``.
_CONFIG_FILE = "config.json"
_REPO_ID_PATTERN = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
# A model directory written by gravityvit (shareable directory, converted checkpoint).
MODEL_DIRECTORY = OutputKind("GravityViT model directory", directory=True)


class HubUnavailableError(OSError):
    """A Hub id cannot be loaded: not reachable (or offline) and not in the local cache, or unknown."""


class ModelLoadError(OSError):
    """A model cannot be loaded from its files; the message names the file and says what is wrong."""


# Model types of this package (configs and models registered with the Auto classes).
MODEL_TYPES: tuple[str, ...] = ("gravityvit", "gravityspy_cnn")
# Weight files of a model directory, in the order transformers looks for them.
_WEIGHT_FILES: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def check_model_directory(directory: str | os.PathLike, *, trust_remote_code: bool = False) -> Path:
    """Check a local model directory's ``config.json`` and weights before loading; return the weights file.

    Raises
    ------
    ModelLoadError
        Naming the file: no or unreadable ``config.json``, a ``model_type`` that is not one of
        ``MODEL_TYPES`` (unless remote code is trusted and the config maps it), or no weights file.
    """
    import json

    directory = Path(directory).expanduser()
    config_path = directory / _CONFIG_FILE
    if not config_path.is_file():
        raise ModelLoadError(f"{config_path}: not found; a model directory needs its config.json")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ModelLoadError(f"{config_path}: not a readable JSON config ({error})") from error
    model_type = config.get("model_type") if isinstance(config, dict) else None
    remote = trust_remote_code and isinstance(config, dict) and "auto_map" in config
    if model_type not in MODEL_TYPES and not remote:
        raise ModelLoadError(
            f"{config_path}: model_type {model_type!r} is not a glitch classifier of this package "
            f"(expected one of {list(MODEL_TYPES)}); is this the right model directory?"
        )
    weights = next((directory / name for name in _WEIGHT_FILES if (directory / name).is_file()), None)
    if weights is None:
        raise ModelLoadError(f"{directory}: no weights file (expected one of {list(_WEIGHT_FILES)})")
    return weights


def is_local_path(name_or_path: str | os.PathLike) -> bool:
    """Return whether ``name_or_path`` names something on disk rather than a Hub id."""
    text = str(name_or_path)
    return Path(text).exists() or text.startswith((".", "/", "~")) or os.sep in text.replace("/", "", 1)


def _named_config_hint(repo_id: str) -> str:
    """Suggest the untrained named configuration when ``repo_id`` is one of ours."""
    try:
        from gravityvit.named_configs import NAMED_CONFIGS  # type: ignore[attr-defined]

        known = repo_id in NAMED_CONFIGS
    except Exception:  # the model package may be absent in a remote-code environment
        known = repo_id.startswith("gravityvit/")
    if not known:
        return "use a local model directory"
    return (
        f"use a local directory, or gravityvit.get_named_config({repo_id!r}) for an untrained model of that "
        "shape (random weights)"
    )


def _cached_snapshot(repo_id: str, repo_type: str, revision: str | None, cache_dir: str | None) -> str | None:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(
            repo_id, repo_type=repo_type, revision=revision, cache_dir=cache_dir, local_files_only=True
        )
    except Exception:
        return None


def _probe(repo_id: str, repo_type: str, revision: str | None, token: str | bool | None) -> str | None:
    """Ask the Hub once whether ``repo_id`` exists; return None when it does, else the reason it failed."""
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers, get_session

    url = f"{constants.ENDPOINT}/api/{repo_type}s/{repo_id}/revision/{revision or 'main'}"
    try:
        response = get_session().get(url, headers=build_hf_headers(token=token), timeout=PROBE_TIMEOUT_S)
    except Exception as error:  # connection refused, DNS, timeout: the Hub is out of reach
        return f"not reachable at {constants.ENDPOINT} ({type(error).__name__})"
    if response.status_code in (401, 403, 404):
        return f"not found on {constants.ENDPOINT} (HTTP {response.status_code}: unknown, private or gated)"
    if response.status_code >= 400:
        return f"not available from {constants.ENDPOINT} (HTTP {response.status_code})"
    return None


def check_hub_access(
    name_or_path: str | os.PathLike,
    *,
    repo_type: str = "model",
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | None = None,
) -> str:
    """Make sure ``name_or_path`` can be loaded; return where it will come from.

    Returns ``"local"`` for a directory, ``"cache"`` when the Hub is offline or unreachable but a
    cached snapshot exists (load it with ``local_files_only=True``), ``"hub"`` when the Hub answers.

    Raises
    ------
    HubUnavailableError
        When the id is neither reachable nor cached, or the Hub does not know it; the message names
        the id, the reason (offline / HF_HUB_OFFLINE=1 / unreachable endpoint / not found) and the
        way out.
    FileNotFoundError
        For a local path that does not exist.
    """
    text = str(name_or_path)
    if Path(text).expanduser().is_dir():
        return "local"
    if is_local_path(text) or not _REPO_ID_PATTERN.match(text):
        raise FileNotFoundError(f"{text} is not a directory and not a Hub id (owner/name)")
    from huggingface_hub import constants

    offline = (
        constants.is_offline_mode() if hasattr(constants, "is_offline_mode") else constants.HF_HUB_OFFLINE
    )
    if offline:
        if _cached_snapshot(text, repo_type, revision, cache_dir):
            return "cache"
        raise HubUnavailableError(
            f"{text} is not reachable (offline / HF_HUB_OFFLINE=1) and not in the local cache; "
            f"{_named_config_hint(text) if repo_type == 'model' else 'use a local dataset directory'}"
        )
    reason = _probe(text, repo_type, revision, token)
    if reason is None:
        return "hub"
    if reason.startswith("not reachable") and _cached_snapshot(text, repo_type, revision, cache_dir):
        return "cache"
    hint = _named_config_hint(text) if repo_type == "model" else "use a local dataset directory"
    raise HubUnavailableError(f"{text} is {reason} and not in the local cache; {hint}")


@contextlib.contextmanager
def hub_errors(name_or_path: str | os.PathLike) -> Iterator[None]:
    """Turn the Hub/transformers loading errors raised inside the block into a ``HubUnavailableError``."""
    try:
        yield
    except HubUnavailableError:
        raise
    except (OSError, ConnectionError) as error:
        text = str(name_or_path)
        if Path(text).exists() or not _REPO_ID_PATTERN.match(text):
            raise
        raise HubUnavailableError(
            f"{text} could not be loaded from the Hub or the local cache ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}); {_named_config_hint(text)}"
        ) from error


def pretrained_kwargs(name_or_path: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
    """Check access to ``name_or_path`` and return ``from_pretrained`` kwargs (cache-only when unreachable)."""
    source = check_hub_access(
        name_or_path,
        revision=kwargs.get("revision"),
        token=kwargs.get("token"),
        cache_dir=kwargs.get("cache_dir"),
    )
    if source == "cache":
        kwargs["local_files_only"] = True
    return kwargs


def load_model_and_processor(
    name_or_path: str | os.PathLike, *, trust_remote_code: bool = False, **kwargs: Any
) -> tuple[Any, Any]:
    """Load a classifier and its image processor through the Auto classes, with clear Hub errors.

    Returns ``(model, image_processor)``; the model is in eval mode.
    """
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    kwargs = pretrained_kwargs(name_or_path, **kwargs)
    local = Path(str(name_or_path)).expanduser().is_dir()
    source = (
        check_model_directory(name_or_path, trust_remote_code=trust_remote_code) if local else name_or_path
    )
    with hub_errors(name_or_path):
        try:
            model = AutoModelForImageClassification.from_pretrained(
                str(name_or_path), trust_remote_code=trust_remote_code, **kwargs
            )
        except (HubUnavailableError, ModelLoadError):
            raise
        except Exception as error:  # safetensors, torch.load and transformers raise many types
            if not local:
                raise
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise ModelLoadError(
                f"{source}: cannot load the weights ({type(error).__name__}: {first_line})"
            ) from error
        try:
            processor = AutoImageProcessor.from_pretrained(
                str(name_or_path), trust_remote_code=trust_remote_code, **kwargs
            )
        except OSError:
            # A checkpoint saved without its processor (Trainer without processing_class): the
            # processor follows from the config (input size, view durations, normalisation).
            if not hasattr(model.config, "view_durations_s"):
                raise
            processing = _gravityvit_processor_class()
            processor = processing.from_config(model.config)
    return model.eval(), processor


def _gravityvit_processor_class() -> Any:
    from gravityvit.image_processing_gravityvit import GravityViTImageProcessor

    return GravityViTImageProcessor


def _write_model_directory(
    directory: Path, model: Any, image_processor: Any | None, model_card: str | None, with_pipeline: bool
) -> None:
    if with_pipeline and image_processor is not None:
        # Saving through the pipeline also records ``custom_pipelines`` in config.json and copies the
        # pipeline code, so pipeline("glitch-classification", trust_remote_code=True) works anywhere.
        from gravityvit.pipelines import GlitchClassificationPipeline

        missing = object()
        previous = model.config.__dict__.get("custom_pipelines", missing)
        try:
            # device=model.device: building the pipeline must not move (or otherwise change) the model.
            pipe = GlitchClassificationPipeline(
                model=model, image_processor=image_processor, device=model.device
            )
            pipe.save_pretrained(directory, safe_serialization=True)
        finally:
            # Pipeline.save_pretrained writes the entry into the model's config; leave the config as it
            # was, so a later plain save_pretrained does not point at pipeline code it does not copy.
            if previous is missing:
                model.config.__dict__.pop("custom_pipelines", None)
            else:
                model.config.custom_pipelines = previous
    else:
        model.save_pretrained(directory, safe_serialization=True)
        if image_processor is not None:
            image_processor.save_pretrained(directory)
    if model_card is not None:
        (directory / "README.md").write_text(model_card, encoding="utf-8")


def save_shareable_model(
    model: Any,
    output_dir: str | os.PathLike,
    *,
    image_processor: Any | None = None,
    model_card: str | None = None,
    with_pipeline: bool = True,
    overwrite: bool = False,
    inputs: tuple[str | os.PathLike, ...] = (),
) -> Path:
    """Write a complete, Hub-ready model directory atomically.

    Parameters
    ----------
    model : PreTrainedModel
        A GravityViT or CNN-baseline classifier (its code is saved beside the weights).
    output_dir : path
        Target directory; written to a temporary sibling and renamed into place when complete.
    image_processor : GravityViTImageProcessor, optional
        Saved as ``preprocessor_config.json`` (with its ``auto_map`` for remote code).
    model_card : str, optional
        README.md content, e.g. from :func:`gravityvit.modelcard.render_model_card`.
    with_pipeline : bool
        Also save the glitch-classification pipeline code and ``custom_pipelines`` entry.
    overwrite : bool
        Replace an earlier model directory written by gravityvit at ``output_dir`` (anything else
        there is refused with ``OutputError``).
    inputs : paths
        Files the model was read from; none may lie inside ``output_dir``.

    Returns
    -------
    Path
        ``output_dir``.
    """
    output_dir = Path(output_dir)
    with atomic_path(output_dir, kind=MODEL_DIRECTORY, overwrite=overwrite, inputs=inputs) as temporary:
        _write_model_directory(temporary, model, image_processor, model_card, with_pipeline)
    return output_dir


def push_model_to_hub(
    model: Any,
    repo_id: str,
    *,
    image_processor: Any | None = None,
    model_card: str | None = None,
    commit_message: str = "Upload GravityViT model",
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
) -> Any:
    """Upload model, processor, model card, model code and pipeline code to ``repo_id`` in one commit.

    The directory of :func:`save_shareable_model` is built in a temporary folder and every file
    becomes one ``CommitOperationAdd`` of a single ``HfApi.create_commit``.

    Returns
    -------
    huggingface_hub.CommitInfo
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="gravityvit-push-") as tmp:
        folder = save_shareable_model(
            model, Path(tmp) / "model", image_processor=image_processor, model_card=model_card
        )
        operations = [
            CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=str(path))
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != MARKER_NAME  # the marker is for the local disk only
        ]
        api.create_repo(repo_id, private=private, exist_ok=True)
        return api.create_commit(
            repo_id=repo_id, operations=operations, commit_message=commit_message, revision=revision
        )
