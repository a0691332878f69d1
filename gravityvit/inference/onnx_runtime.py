"""ONNX export of a glitch classifier, and inference with ONNX Runtime.

``export_onnx`` writes a GravityViT (or CNN-baseline) classifier as one ONNX graph with a dynamic
batch: inputs ``pixel_values`` (batch, views, 3, height, width) float32 and ``view_mask`` (batch,
views) bool, outputs ``logits`` (batch, num_labels), ``view_weights`` (batch, views) and
``unknown_score`` (batch,), the same tensors the torch model returns (logits already divided by the
config's ``logit_temperature``; the unknown score of the config's ``unknown_score_method``, float64).
The graph is checked against the torch model before it is kept: a model whose export is not
faithful raises ``OnnxExportError`` instead of leaving a file that predicts something else.

``OnnxGlitchClassifier`` runs such a file with ONNX Runtime behind the torch model's interface
(``config``, ``forward(pixel_values, view_mask)`` -> ``GlitchClassifierOutput``), so the
glitch-classification pipeline and ``gravityvit predict --backend onnx`` use it unchanged: same
preprocessing, same scores, unknown-glitch flags and CSV/JSON.

The export traces the model with torch's TorchScript-based exporter (``dynamo=False``; the dynamo
exporter needs ``onnxscript``). Tracing records the branch each Python ``if`` took on the example
inputs, so the example batch has a masked view: the traced graph then skips absent views as the
model does, and gives the same results for any mask, including all views present.

Needs the ``onnx`` extra: ``pip install 'gravityvit[onnx]'`` (``onnx`` and ``onnxruntime``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gravityvit.file_utils import OutputKind, atomic_path

INPUT_NAMES: tuple[str, str] = ("pixel_values", "view_mask")
OUTPUT_NAMES: tuple[str, str] = ("logits", "view_weights")
# The third output of graphs exported with the unknown score (files exported before have two outputs).
SCORE_OUTPUT_NAME = "unknown_score"
DEFAULT_OPSET = 17
# Largest difference from the torch model that an export may show on the check inputs.
EXPORT_TOLERANCE = 1e-4
# The file name ``gravityvit predict --backend onnx`` looks for inside the model directory.
ONNX_FILE_NAME = "model.onnx"
# Keys of the ONNX file's metadata (``metadata_props``) written by ``export_onnx``.
_META_FORMAT = "gravityvit.format"
_META_TEMPERATURE = "gravityvit.logit_temperature"
_META_LABELS = "gravityvit.id2label"
_META_WEIGHTS = "gravityvit.weights_sha256"
_META_MODEL_TYPE = "gravityvit.model_type"
_META_SCORE_METHOD = "gravityvit.unknown_score_method"
_FORMAT_VERSION = "1"
_INSTALL_HINT = "install the onnx extra: pip install 'gravityvit[onnx]' (onnx and onnxruntime)"
# Weight files hashed into the fingerprint of a model directory (shards are found via the index).
_WEIGHT_FILES: tuple[str, ...] = ("model.safetensors", "pytorch_model.bin")
_WEIGHT_INDEXES: tuple[str, ...] = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


class OnnxExportError(RuntimeError):
    """The model cannot be exported to ONNX, or the exported graph disagrees with the torch model."""


class OnnxModelError(OSError):
    """An ONNX file cannot serve a model directory: missing, unreadable, or exported from other weights."""


def _is_onnx_file(path: Path) -> bool:
    """A recogniser: an ONNX file written by ``export_onnx`` (its metadata names the format)."""
    try:
        import onnx

        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        return False
    return any(prop.key == _META_FORMAT for prop in model.metadata_props)


ONNX_MODEL = OutputKind("GravityViT ONNX model", recognise=_is_onnx_file)


def require_onnx_runtime() -> None:
    """Raise ``ImportError`` with the install command when ``onnx`` or ``onnxruntime`` is missing."""
    missing = []
    for module in ("onnx", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(f"{' and '.join(missing)} not installed; {_INSTALL_HINT}")


def weights_fingerprint(directory: str | os.PathLike) -> str | None:
    """SHA-256 of the weight files of a model directory (shards included), or None when it has none.

    Recorded in the ONNX file at export and checked when the file is loaded, so that an ONNX file is
    never run for a directory whose weights have changed since (e.g. after ``gravityvit add-class``).
    """
    directory = Path(directory)
    files: list[Path] = [directory / name for name in _WEIGHT_FILES if (directory / name).is_file()]
    for index_name in _WEIGHT_INDEXES:
        index = directory / index_name
        if index.is_file():
            shards = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {}).values()
            files.extend(directory / shard for shard in sorted(set(shards)))
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------------


class _ClassifierGraph(nn.Module):
    """The classifier with the ONNX graph's signature: (pixel_values, view_mask) -> (logits, view_weights,
    unknown_score)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor, view_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(pixel_values=pixel_values, view_mask=view_mask, return_dict=True)
        return _output_tensors(outputs)


def _output_tensors(outputs: Any) -> tuple[torch.Tensor, ...]:
    """``(logits, view_weights[, unknown_score])`` of a model output, the order of the graph's outputs."""
    score = getattr(outputs, "unknown_score", None)
    values = (outputs.logits, outputs.view_weights)
    return values if score is None else (*values, score)


def example_inputs(config: Any, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised-looking random views and a mask for ``config``'s layout; the first sample lacks its second view.

    With one view per sample there is nothing to mask and every view is present.
    """
    num_views = int(config.num_views)
    height, width = config.image_size_hw
    generator = torch.Generator().manual_seed(seed)
    pixel_values = torch.randn(batch, num_views, 3, height, width, generator=generator).clamp(-3.0, 3.0)
    view_mask = torch.ones(batch, num_views, dtype=torch.bool)
    if num_views > 1:
        view_mask[0, 1] = False
        pixel_values[0, 1] = 0.0  # the processor gives zeros for absent views
    return pixel_values, view_mask


def _check_inputs(config: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Inputs the exported graph is compared on: one sample, and mixed masks down to a single view."""
    checks = [example_inputs(config, batch=1, seed=1)]
    pixel_values, view_mask = example_inputs(config, batch=3, seed=2)
    if config.num_views > 1:
        view_mask[0] = True
        view_mask[1] = False
        view_mask[1, -1] = True  # one present view only
        view_mask[2, 0] = False
        pixel_values[~view_mask] = 0.0
    checks.append((pixel_values, view_mask))
    return checks


def _describe(model: nn.Module) -> str:
    config = model.config
    backbone = getattr(config, "backbone", None)
    fusion = getattr(config, "fusion", None)
    details = ", ".join(
        f"{name} {value!r}"
        for name, value in (("backbone", backbone), ("fusion", fusion))
        if value is not None
    )
    return f"{type(model).__name__}" + (f" ({details})" if details else "")


def _run_torch(model: nn.Module, pixel_values: torch.Tensor, view_mask: torch.Tensor) -> list[np.ndarray]:
    with torch.inference_mode():
        outputs = model(pixel_values=pixel_values, view_mask=view_mask, return_dict=True)
    return [tensor.numpy() for tensor in _output_tensors(outputs)]


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    graph.doc_string = (
        "GravityViT glitch classifier: pixel_values, view_mask -> logits, view_weights, unknown_score"
    )
    onnx.save(graph, str(path))


def export_onnx(
    model: nn.Module,
    output: str | os.PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    fingerprint: str | None = None,
    tolerance: float = EXPORT_TOLERANCE,
) -> dict[str, float]:
    """Export a glitch classifier to ``output`` (written atomically) and check it against the model.

    Parameters
    ----------
    model : GravityViTForGlitchClassification or GravitySpyCNNForGlitchClassification
        The classifier (any model whose ``forward(pixel_values, view_mask)`` gives ``logits`` and
        ``view_weights`` and whose config has ``num_views`` and ``image_size_hw``); set to eval mode.
    output : path
        The ``.onnx`` file; an existing file is replaced only if it is an earlier export.
    opset : int
        ONNX opset of the graph.
    fingerprint : str, optional
        ``weights_fingerprint`` of the model directory the weights came from, recorded so that the
        file is refused for other weights.
    tolerance : float
        Largest absolute difference of logits or view weights from the torch model allowed on the
        check inputs (one sample; three samples with one, three and four views).

    Returns
    -------
    dict
        ``max_logit_difference``, ``max_view_weight_difference`` and
        ``max_unknown_score_difference`` (relative: ``|difference| / (1 + |score|)``) on the check
        inputs.

    Raises
    ------
    OnnxExportError
        When torch cannot export the model or ONNX Runtime's results differ from the model's; the
        message names the model and the cause. Nothing is written then.
    ImportError
        Without ``onnx`` / ``onnxruntime``.
    """
    require_onnx_runtime()
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "num_views") or not hasattr(config, "image_size_hw"):
        raise OnnxExportError(
            f"{type(model).__name__} is not a glitch classifier of this package (its config needs num_views "
            "and image_size_hw); only GravityViT and CNN-baseline classifiers are exported"
        )
    if any(
        p.dtype != torch.float32 or p.device.type != "cpu"
        for p in model.parameters()
        if p.is_floating_point()
    ):
        # The graph takes float32 views and runs on ONNX Runtime's CPU provider, which has no bfloat16
        # or float16 convolutions: export a float32 CPU copy (the caller's model stays as it is).
        model = copy.deepcopy(model).to("cpu", torch.float32)
    model.eval()
    # The wrapper is put in eval mode too: the exporter restores the wrapper's mode afterwards, which
    # would otherwise switch the model to training (dropout on) for the comparison below.
    graph = _ClassifierGraph(model).eval()
    output_names = list(OUTPUT_NAMES)
    if hasattr(model, "unknown_statistics"):
        output_names.append(SCORE_OUTPUT_NAME)
    dynamic_axes = {name: {0: "batch"} for name in (*INPUT_NAMES, *output_names)}
    metadata = {
        _META_FORMAT: _FORMAT_VERSION,
        _META_MODEL_TYPE: str(getattr(config, "model_type", "")),
        _META_TEMPERATURE: repr(float(getattr(config, "logit_temperature", 1.0) or 1.0)),
        _META_LABELS: json.dumps({str(k): v for k, v in config.id2label.items()}, sort_keys=True),
    }
    if SCORE_OUTPUT_NAME in output_names:
        from gravityvit.inference.unknown import effective_unknown_score_method

        metadata[_META_SCORE_METHOD] = effective_unknown_score_method(model)
    if fingerprint is not None:
        metadata[_META_WEIGHTS] = fingerprint
    with atomic_path(output, kind=ONNX_MODEL) as temporary:
        try:
            with warnings.catch_warnings():
                # The input checks of the model's forward are Python conditions: the tracer warns that
                # they become constants, which is what the example inputs are chosen for.
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    graph,
                    example_inputs(config),
                    str(temporary),
                    input_names=list(INPUT_NAMES),
                    output_names=output_names,
                    dynamic_axes=dynamic_axes,
                    opset_version=opset,
                    dynamo=False,
                )
        except Exception as error:
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise OnnxExportError(
                f"cannot export {_describe(model)} to ONNX (opset {opset}): {type(error).__name__}: {first_line}"
            ) from error
        _set_metadata(temporary, metadata)
        differences = _compare(model, temporary, tolerance)
    return differences


def _compare(model: nn.Module, path: Path, tolerance: float) -> dict[str, float]:
    """Run the exported graph and the model on the check inputs; raise when they differ beyond ``tolerance``."""
    try:
        session = _session(path, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise OnnxExportError(f"ONNX Runtime cannot load the graph of {_describe(model)}: {error}") from error
    names = [node.name for node in session.get_outputs()]
    worst = {"max_logit_difference": 0.0, "max_view_weight_difference": 0.0}
    if SCORE_OUTPUT_NAME in names:
        worst["max_unknown_score_difference"] = 0.0
    for pixel_values, view_mask in _check_inputs(model.config):
        expected = _run_torch(model, pixel_values, view_mask)
        try:
            got = session.run(names, {"pixel_values": pixel_values.numpy(), "view_mask": view_mask.numpy()})
        except Exception as error:
            raise OnnxExportError(
                f"the ONNX graph of {_describe(model)} does not run in ONNX Runtime for a batch of "
                f"{len(view_mask)} with view mask {view_mask.int().tolist()}: {error}"
            ) from error
        for key, expected_array, got_array in zip(worst, expected, got):
            if got_array.shape != expected_array.shape:
                raise OnnxExportError(
                    f"the ONNX graph of {_describe(model)} gives {names[list(worst).index(key)]} of shape "
                    f"{got_array.shape}, the model {expected_array.shape}"
                )
            difference = np.abs(got_array.astype(np.float64) - expected_array)
            if key == "max_unknown_score_difference":
                # Distances reach hundreds: compare them relative to their size.
                difference = difference / (1.0 + np.abs(expected_array))
            worst[key] = max(worst[key], float(np.max(difference)))
    if max(worst.values()) > tolerance or not all(np.isfinite(list(worst.values()))):
        raise OnnxExportError(
            f"the ONNX graph of {_describe(model)} disagrees with the model: logits differ by up to "
            f"{worst['max_logit_difference']:.3g}, view weights by {worst['max_view_weight_difference']:.3g} and "
            f"unknown scores by {worst.get('max_unknown_score_difference', 0.0):.3g} (allowed {tolerance:g}); the "
            "model has operations the exporter does not trace faithfully"
        )
    return worst


# ---------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------


def _session(path: str | os.PathLike, providers: list[str], num_threads: int | None = None) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: ORT warns about nodes it leaves to the CPU provider
    if num_threads is not None:
        options.intra_op_num_threads = int(num_threads)
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)


def onnx_providers(device: str | None) -> list[str]:
    """ONNX Runtime execution providers for a ``--device`` value: CUDA for cuda (when installed), else CPU."""
    import onnxruntime

    available = onnxruntime.get_available_providers()
    device = (device or "auto").lower()
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        if "CUDAExecutionProvider" in available:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if device != "auto":
            raise OnnxModelError(
                f"--device {device}: this onnxruntime has no CUDA provider (available: {available}); install "
                "onnxruntime-gpu, or use --device cpu"
            )
    elif device not in ("auto", "cpu"):
        raise OnnxModelError(f"--device {device}: the ONNX backend runs on cpu or cuda")
    return ["CPUExecutionProvider"]


class OnnxGlitchClassifier(nn.Module):
    """An exported classifier run by ONNX Runtime, with the torch classifier's interface.

    ``forward(pixel_values, view_mask)`` returns a ``GlitchClassifierOutput`` with ``logits`` and
    ``view_weights`` on the CPU, as the torch model does in eval mode. Build it with
    ``from_pretrained(model_dir)``; it reads ``model_dir/model.onnx`` unless another file is given.

    The config's ``logit_temperature`` applies even when it changed after the export: the file
    records the temperature its logits were divided by, and the logits are rescaled to the config's.
    ``unknown_score`` is the graph's relative Mahalanobis score when it was exported with one, else
    the energy of the rescaled logits (as the torch model computes it).
    """

    def __init__(
        self, session: Any, config: Any, exported_temperature: float = 1.0, score_method: str = "energy"
    ) -> None:
        super().__init__()
        self.session = session
        self.config = config
        temperature = float(getattr(config, "logit_temperature", 1.0) or 1.0)
        # The graph's logits are raw / exported_temperature; the config wants raw / temperature.
        self.logit_scale = exported_temperature / temperature
        self.providers = list(session.get_providers())
        outputs = [node.name for node in session.get_outputs()]
        # The graph's score is used only for the feature-space score; the energy follows the logits.
        self.read_score = score_method == "relative_mahalanobis" and SCORE_OUTPUT_NAME in outputs
        self.output_names = [*OUTPUT_NAMES, SCORE_OUTPUT_NAME] if self.read_score else list(OUTPUT_NAMES)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")  # inputs and outputs live on the CPU, whatever the provider

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    @classmethod
    def from_pretrained(
        cls,
        model_dir: str | os.PathLike,
        onnx_file: str | os.PathLike | None = None,
        *,
        device: str | None = "cpu",
        num_threads: int | None = None,
        trust_remote_code: bool = False,
    ) -> tuple[OnnxGlitchClassifier, Any]:
        """Load the ONNX file of a local model directory and the directory's image processor.

        Returns ``(classifier, image_processor)``.

        Raises
        ------
        OnnxModelError
            Naming the file: no model directory or ONNX file, an ONNX file without the expected inputs
            and outputs, or one exported from other weights or labels than the directory holds.
        """
        require_onnx_runtime()
        from transformers import AutoConfig

        from gravityvit.hub import ModelLoadError, check_model_directory

        directory = Path(model_dir).expanduser()
        if not directory.is_dir():
            raise OnnxModelError(
                f"{model_dir}: the ONNX backend needs a local model directory holding {ONNX_FILE_NAME} "
                "(write it with gravityvit export-onnx)"
            )
        try:
            check_model_directory(directory, trust_remote_code=trust_remote_code)
        except ModelLoadError as error:
            raise OnnxModelError(str(error)) from error
        path = Path(onnx_file) if onnx_file is not None else directory / ONNX_FILE_NAME
        if not path.is_file():
            raise OnnxModelError(
                f"{path}: not found; export the model first: gravityvit export-onnx --model {model_dir} "
                f"--output {directory / ONNX_FILE_NAME}"
            )
        config = AutoConfig.from_pretrained(str(directory), trust_remote_code=trust_remote_code)
        try:
            session = _session(path, onnx_providers(device), num_threads)
        except OnnxModelError:
            raise
        except Exception as error:
            raise OnnxModelError(f"{path}: not a readable ONNX model ({error})") from error
        metadata = session.get_modelmeta().custom_metadata_map
        _check_session(path, session, metadata, config, directory)
        processor = _load_processor(directory, config, trust_remote_code)
        classifier = cls(
            session,
            config,
            float(metadata.get(_META_TEMPERATURE, "1.0")),
            metadata.get(_META_SCORE_METHOD, "energy"),
        )
        return classifier, processor

    def forward(
        self, pixel_values: torch.Tensor, view_mask: torch.Tensor | None = None, **kwargs: Any
    ) -> Any:
        """Classify a batch: ``pixel_values`` (B, V, 3, H, W) and ``view_mask`` (B, V) bool (default all present)."""
        from gravityvit.modeling_gravityvit import GlitchClassifierOutput
        from gravityvit.modeling_unknown import energy_score

        if kwargs.get("labels") is not None:
            raise ValueError("the ONNX backend classifies only; it computes no loss (labels given)")
        if pixel_values.ndim != 5:
            raise ValueError(
                f"pixel_values must have shape (batch, views, 3, height, width); got {tuple(pixel_values.shape)}"
            )
        if view_mask is None:
            view_mask = torch.ones(pixel_values.shape[:2], dtype=torch.bool)
        results = self.session.run(
            self.output_names,
            {
                "pixel_values": pixel_values.detach().to("cpu", torch.float32).numpy(),
                "view_mask": view_mask.detach().to("cpu", torch.bool).numpy(),
            },
        )
        logits = torch.from_numpy(results[0])
        if self.logit_scale != 1.0:
            logits = logits * self.logit_scale
        score = torch.from_numpy(results[2]).double() if self.read_score else energy_score(logits)
        return GlitchClassifierOutput(
            logits=logits, view_weights=torch.from_numpy(results[1]), unknown_score=score
        )


def _load_processor(directory: Path, config: Any, trust_remote_code: bool) -> Any:
    """The directory's image processor; from the config for a checkpoint saved without one (as the hub loader does)."""
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(str(directory), trust_remote_code=trust_remote_code)
    except OSError:
        from gravityvit.image_processing_gravityvit import GravityViTImageProcessor

        return GravityViTImageProcessor.from_config(config)


def _check_session(path: Path, session: Any, metadata: dict[str, str], config: Any, directory: Path) -> None:
    """Refuse an ONNX file that does not fit the model directory (inputs, labels, weights)."""
    inputs = [node.name for node in session.get_inputs()]
    outputs = [node.name for node in session.get_outputs()]
    if inputs != list(INPUT_NAMES) or outputs[: len(OUTPUT_NAMES)] != list(OUTPUT_NAMES):
        raise OnnxModelError(
            f"{path}: inputs {inputs} and outputs {outputs}; expected inputs {list(INPUT_NAMES)} and outputs "
            f"{list(OUTPUT_NAMES)} (a file written by gravityvit export-onnx)"
        )
    labels = metadata.get(_META_LABELS)
    expected_labels = json.dumps({str(k): v for k, v in config.id2label.items()}, sort_keys=True)
    if labels is not None and labels != expected_labels:
        raise OnnxModelError(
            f"{path} was exported for other classes than {directory / 'config.json'} lists; export the model "
            "again with gravityvit export-onnx"
        )
    exported_method = metadata.get(_META_SCORE_METHOD)
    configured_method = getattr(config, "unknown_score_method", "energy")
    if exported_method is not None and exported_method != configured_method:
        raise OnnxModelError(
            f"{path} computes the {exported_method} unknown score, {directory / 'config.json'} asks for "
            f"{configured_method}; export the model again with gravityvit export-onnx"
        )
    exported_weights = metadata.get(_META_WEIGHTS)
    if exported_weights is not None and exported_weights != weights_fingerprint(directory):
        raise OnnxModelError(
            f"{path} was exported from other weights than {directory} holds now; export the model again "
            "with gravityvit export-onnx"
        )


__all__ = [
    "ONNX_FILE_NAME",
    "OnnxExportError",
    "OnnxGlitchClassifier",
    "OnnxModelError",
    "example_inputs",
    "export_onnx",
    "onnx_providers",
    "require_onnx_runtime",
    "weights_fingerprint",
]
