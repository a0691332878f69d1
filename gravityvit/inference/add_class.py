"""Add a glitch class to a trained model from a few labelled examples, without the training data.

The new class is a prototype on the frozen features that the classifier's last linear layer reads
(weight imprinting, Qi et al. 2018, "Low-shot learning with imprinted weights"):

1. every example goes through the frozen model; the input of the last ``nn.Linear`` is its feature;
2. the new row of that layer is the mean of the L2-normalised example features, normalised and
   scaled to the mean norm of the existing rows, so its logits are on the old classes' scale;
3. its bias is set so that 90 % of the examples score above their best old class (the examples
   are all we know of the class, and the old rows, biases and every other weight stay unchanged);
4. when the model holds the class statistics of the unknown score (class means and the shared
   covariance of the pooled features, fitted on the training split), the old classes are known
   too, without their data: features drawn from those Gaussians are sent through the rest of the
   head as *anchors*, and the new row and bias are refined by a class-balanced logistic fit of the
   examples against the anchors (the old rows fixed, a penalty holding the row near the
   prototype). The prototype's bias alone lets the new class take the old classes' samples that
   lie towards it; the anchors say where they lie.

The old classes' logits are bit-for-bit what they were; only samples that look like the examples
move to the new class. ``id2label`` grows by one; ``class_weights`` (if any) get the mean weight.
When the model holds the class statistics of the relative Mahalanobis unknown score
(``gravityvit.modeling_unknown``), the new class's mean is the mean of its examples' pooled features
and the shared covariance stays, so samples like the examples score lower (nearer a class) than before.

``gravityvit add-class --model DIR --name NAME --examples FOLDER --output DIR2`` and
:func:`add_class_to_directory` write a new model directory (weights, processor, code, and the model
card with a note of the added class) atomically; nothing is written on error.
"""

from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gravityvit.modeling_unknown import STATISTICS_BUFFERS

logger = logging.getLogger(__name__)

MIN_EXAMPLES = 2
# Fraction of the examples the new class must win (the bias is set at this quantile of their margins).
EXAMPLE_RECALL = 0.9
# Anchor features drawn per old class, and the penalty holding the refined row near the prototype
# (relative to the squared norm of the old rows).
ANCHORS_PER_CLASS = 256
ROW_PENALTY = 1.0
_CLASS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


class AddClassError(ValueError):
    """Bad input to :func:`add_class`: the message names the model, the class or the example at fault."""


def _head_layers(model: nn.Module) -> nn.Sequential | None:
    """The GravityViT head's layers (ending in the final linear layer); None for the CNN."""
    layers = getattr(getattr(model, "head", None), "layers", None)
    return layers if isinstance(layers, nn.Sequential) else None


def final_linear(model: nn.Module) -> nn.Linear:
    """The linear layer that produces the logits: the GravityViT head's last layer or the CNN's classifier."""
    layers = _head_layers(model)
    layer = layers[-1] if layers is not None else getattr(model, "classifier", None)
    if not isinstance(layer, nn.Linear):
        raise AddClassError(
            f"{type(model).__name__}: cannot find the final linear layer (head.layers[-1] or classifier)"
        )
    return layer


def _replace_final_linear(model: nn.Module, layer: nn.Linear) -> None:
    layers = _head_layers(model)
    if layers is not None:
        layers[-1] = layer
    else:
        model.classifier = layer


@torch.no_grad()
def example_features(
    model: nn.Module, image_processor: Any, examples: Sequence[Any], batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Frozen features (the final linear layer's inputs), undivided logits and pooled features of
    ``GlitchSample``s.

    Returns
    -------
    features : np.ndarray
        float64 (N, in_features).
    logits : np.ndarray
        float64 (N, num_labels), before the temperature.
    pooled : np.ndarray or None
        float64 (N, D), the features the unknown score reads (``model.unknown_statistics``'s
        input); None for a model without it.
    """
    from gravityvit.pipelines import GlitchClassificationPipeline

    pipe = GlitchClassificationPipeline(model=model, image_processor=image_processor, device=model.device)
    captured: list[torch.Tensor] = []
    pooled: list[torch.Tensor] = []
    hooks = [
        final_linear(model).register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0].detach()))
    ]
    statistics = getattr(model, "unknown_statistics", None)
    if statistics is not None:
        # Called with (logits, features, method): keep the features.
        hooks.append(
            statistics.register_forward_hook(lambda _m, inputs, _o: pooled.append(inputs[1].detach()))
        )
    logits = []
    try:
        model.eval()
        for start in range(0, len(examples), batch_size):
            prepared = [pipe.preprocess(sample) for sample in examples[start : start + batch_size]]
            outputs = pipe.forward(pipe.collate(prepared))
            logits.append(outputs["logits"].double().cpu())
    finally:
        for hook in hooks:
            hook.remove()
    temperature = float(getattr(model.config, "logit_temperature", 1.0))
    features = torch.cat(captured).double().cpu().numpy()
    pooled_features = torch.cat(pooled).double().cpu().numpy() if pooled else None
    return features, torch.cat(logits).numpy() * temperature, pooled_features


def grow_feature_statistics(model: nn.Module, pooled: np.ndarray | None) -> bool:
    """Append the new class to ``model.unknown_statistics``: its examples' mean pooled feature and count.

    The shared and background covariances stay as they were fitted on the training split. Unfitted
    statistics grow by a zero row (count 0) so that their shape follows ``num_labels``. Returns
    whether the new class got a mean.
    """
    statistics = getattr(model, "unknown_statistics", None)
    if statistics is None:
        return False
    fitted = statistics.is_fitted() and pooled is not None
    hidden_size = statistics.class_means.shape[1]
    mean = pooled.mean(axis=0) if fitted else np.zeros(hidden_size)
    count = float(len(pooled)) if fitted else 0.0
    values = {name: getattr(statistics, name).detach().double().cpu().numpy() for name in STATISTICS_BUFFERS}
    values["class_means"] = np.concatenate([values["class_means"], mean[None]])
    values["class_counts"] = np.concatenate([values["class_counts"], [count]])
    statistics.load_statistics(values)
    return fitted


def imprinted_row(
    features: np.ndarray, logits: np.ndarray, weight: np.ndarray, bias: np.ndarray | None
) -> tuple[np.ndarray, float]:
    """The new class's weight row and bias from its examples (see the module docstring).

    Parameters
    ----------
    features : np.ndarray
        (N, in_features) the examples' inputs to the final layer.
    logits : np.ndarray
        (N, num_labels) their undivided logits under the old classes.
    weight, bias : np.ndarray
        The final layer's (num_labels, in_features) weight and (num_labels,) bias (None: no bias).
    """
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    prototype = (features / np.maximum(norms, 1e-12)).mean(axis=0)
    length = np.linalg.norm(prototype)
    if not np.isfinite(length) or length < 1e-12:
        raise AddClassError("the examples' features cancel out (zero prototype); are the examples blank?")
    row = prototype / length * float(np.linalg.norm(weight, axis=1).mean())
    if bias is None:
        return row, 0.0
    # Margin each example needs to beat its best old class; the bias covers EXAMPLE_RECALL of them.
    needed = logits.max(axis=1) - features @ row
    return row, float(np.quantile(needed, EXAMPLE_RECALL)) + 1e-3


def features_before_final_linear(model: nn.Module) -> nn.Module:
    """The part of the head between the pooled feature (what the unknown statistics read) and the
    final linear layer: the GravityViT head's layers but the last; the identity for the CNN, whose
    classifier reads the dense feature directly."""
    layers = _head_layers(model)
    return layers[:-1] if layers is not None else nn.Identity()


@torch.no_grad()
def anchor_features(
    model: nn.Module, per_class: int = ANCHORS_PER_CLASS, seed: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """Features of the old classes drawn from the model's stored class statistics.

    Each class with training samples gets ``per_class`` pooled features from ``N(mean_k, C)``, ``C``
    the covariance shared by the classes (the inverse of the stored precision), sent through
    :func:`features_before_final_linear` in eval mode.

    Returns
    -------
    (features, labels) or None
        float64 (n, in_features) inputs of the final linear layer and their (n,) class ids; None
        when the model has no fitted statistics.
    """
    statistics = getattr(model, "unknown_statistics", None)
    if statistics is None or not statistics.is_fitted():
        return None
    means = statistics.class_means.detach().double().cpu().numpy()
    counts = statistics.class_counts.detach().double().cpu().numpy()
    precision = statistics.precision.detach().double().cpu().numpy()
    eigenvalues, eigenvectors = np.linalg.eigh((precision + precision.T) / 2)
    # Whitened draws mapped by C^(1/2) = V diag(1/sqrt(lambda)) V^T; a singular direction draws nothing.
    scales = np.where(
        eigenvalues > 1e-12 * eigenvalues.max(), 1 / np.sqrt(np.maximum(eigenvalues, 1e-300)), 0.0
    )
    rng = np.random.default_rng(seed)
    known = np.flatnonzero(counts > 0)
    labels = np.repeat(known, per_class)
    draws = rng.standard_normal((len(labels), len(eigenvalues))) * scales
    pooled = means[labels] + draws @ eigenvectors.T
    head = features_before_final_linear(model)
    was_training = head.training
    head.eval()
    weight = final_linear(model).weight
    features = head(torch.as_tensor(pooled, dtype=weight.dtype, device=weight.device))
    head.train(was_training)
    return features.double().cpu().numpy(), labels


def anchored_row(
    row: np.ndarray,
    row_bias: float,
    features: np.ndarray,
    anchors: tuple[np.ndarray, np.ndarray],
    weight: np.ndarray,
    bias: np.ndarray | None,
    penalty: float = ROW_PENALTY,
) -> tuple[np.ndarray, float]:
    """Refine the imprinted ``row`` and ``row_bias`` of the examples' ``features`` against the old
    classes' anchor features.

    Minimises the class-balanced cross-entropy over all classes (the examples labelled new, each
    anchor its class; every class weighs the same) with the old rows fixed, plus
    ``penalty * |row - prototype|^2 / mean |old row|^2``: with 5-20 examples the prototype's
    direction is the prior, the anchors move it away from where old classes lie.
    """
    anchor_features, anchor_labels = anchors
    old_weight = torch.as_tensor(weight)
    old_bias = torch.zeros(len(weight), dtype=torch.float64) if bias is None else torch.as_tensor(bias)
    examples = torch.as_tensor(features)
    anchor_x = torch.as_tensor(anchor_features)
    anchor_y = torch.as_tensor(anchor_labels)
    old_logits_examples = examples @ old_weight.T + old_bias
    old_logits_anchors = anchor_x @ old_weight.T + old_bias
    prototype = torch.as_tensor(row)
    scale = float((old_weight**2).sum(dim=1).mean())
    new_row = prototype.clone().requires_grad_(True)
    new_bias = torch.tensor(float(row_bias), dtype=torch.float64, requires_grad=bias is not None)
    num_classes = int(torch.unique(anchor_y).numel()) + 1
    new_index = len(weight)

    def loss_fn() -> torch.Tensor:
        logits_examples = torch.cat([old_logits_examples, (examples @ new_row + new_bias)[:, None]], dim=1)
        logits_anchors = torch.cat([old_logits_anchors, (anchor_x @ new_row + new_bias)[:, None]], dim=1)
        targets = torch.full((len(examples),), new_index, dtype=torch.long)
        # Per-class mean losses, averaged over classes: anchors of a class weigh as much as the examples.
        example_loss = nn.functional.cross_entropy(logits_examples, targets)
        anchor_loss = nn.functional.cross_entropy(logits_anchors, anchor_y) * (num_classes - 1)
        return (example_loss + anchor_loss) / num_classes + penalty * (
            (new_row - prototype) ** 2
        ).sum() / scale

    parameters = [new_row, new_bias] if bias is not None else [new_row]
    optimizer = torch.optim.LBFGS(parameters, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    optimizer.step(closure)
    return new_row.detach().numpy(), float(new_bias.detach()) if bias is not None else 0.0


def add_class(
    model: nn.Module,
    image_processor: Any,
    name: str,
    examples: Sequence[Any],
    batch_size: int = 16,
    use_anchors: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """Return a copy of ``model`` with the class ``name`` added from ``examples``.

    Parameters
    ----------
    model : PreTrainedModel
        A trained GravityViT or CNN-baseline classifier (not modified).
    image_processor : GravityViTImageProcessor
        Its processor.
    name : str
        The new class; letters, digits, ``_`` and ``-``; not in ``id2label`` already.
    examples : sequence
        At least 2 samples of the class, in any form ``pipeline("glitch-classification")`` takes
        (paths, folders, dicts of views, arrays, ...); expanded with
        :func:`gravityvit.pipelines.expand_inputs`.
    batch_size : int
        Samples per forward pass.
    use_anchors : bool
        Refine the prototype against anchors drawn from the model's class statistics (step 4 of the
        module docstring) when it has them; False keeps the prototype and its bias (the ablation).

    Returns
    -------
    (model, info)
        The new model (eval mode) and ``{"name", "num_examples", "example_recall", "anchored"}``:
        the fraction of the examples the new model labels ``name``, and whether anchors were used.

    Raises
    ------
    AddClassError
        For an existing or malformed name or fewer than 2 examples.
    gravityvit.pipelines.InputError
        For an example that cannot be read (the message names the file).
    """
    from gravityvit.pipelines import GlitchSample, expand_inputs

    existing = {str(label) for label in model.config.id2label.values()}
    if not isinstance(name, str) or not _CLASS_NAME.match(name):
        raise AddClassError(f"class name {name!r} must be letters, digits, '_' or '-' (e.g. Fast_Scattering)")
    if name in existing:
        raise AddClassError(f"the model already has a class {name!r}; choose another name")
    samples = [s for s in expand_inputs(list(examples) if isinstance(examples, (list, tuple)) else examples)]
    samples = [s for s in samples if isinstance(s, GlitchSample)]
    if len(samples) < MIN_EXAMPLES:
        raise AddClassError(
            f"class {name!r} needs at least {MIN_EXAMPLES} examples to add; got {len(samples)}"
        )
    features, logits, pooled = example_features(model, image_processor, samples, batch_size=batch_size)

    new_model = copy.deepcopy(model).eval()
    old = final_linear(new_model)
    weight = old.weight.detach().double().cpu().numpy()
    bias = None if old.bias is None else old.bias.detach().double().cpu().numpy()
    row, row_bias = imprinted_row(features, logits, weight, bias)
    anchors = anchor_features(new_model) if use_anchors else None
    if anchors is not None:
        row, row_bias = anchored_row(row, row_bias, features, anchors, weight, bias)
    layer = nn.Linear(old.in_features, old.out_features + 1, bias=old.bias is not None)
    layer = layer.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        layer.weight[:-1] = old.weight
        layer.weight[-1] = torch.as_tensor(row, dtype=old.weight.dtype)
        if old.bias is not None:
            layer.bias[:-1] = old.bias
            layer.bias[-1] = row_bias
    _replace_final_linear(new_model, layer)
    grow_feature_statistics(new_model, pooled)

    config = new_model.config
    index = len(config.id2label)
    id2label = {int(k): str(v) for k, v in config.id2label.items()}
    id2label[index] = name
    config.id2label = id2label
    config.label2id = {label: i for i, label in id2label.items()}
    if getattr(config, "class_weights", None) is not None:
        config.class_weights = [*config.class_weights, float(np.mean(config.class_weights))]
    temperature = float(getattr(config, "logit_temperature", 1.0))
    new_logits = np.concatenate([logits, (features @ row + row_bias)[:, None]], axis=1) / temperature
    info = {
        "name": name,
        "num_examples": len(samples),
        "example_recall": float((new_logits.argmax(axis=1) == index).mean()),
        "anchored": anchors is not None,
    }
    logger.info(
        "added class %r (id %d) from %d examples; %.0f %% of them now labelled %r",
        name,
        index,
        info["num_examples"],
        100 * info["example_recall"],
        name,
    )
    return new_model, info


def added_class_note(info: dict[str, Any]) -> str:
    """Markdown lines for the model card: which class was added and from how many examples."""
    method = (
        "a class prototype on the frozen features, fitted against the old classes' stored feature "
        "statistics, appended to the classifier"
        if info.get("anchored")
        else "a class prototype on the frozen features appended to the classifier"
    )
    return (
        f"- `{info['name']}`: added after training from {info['num_examples']} labelled examples with "
        f"`gravityvit add-class` ({method}; "
        f"the other classes' weights are unchanged). {100 * info['example_recall']:.0f} % of the examples "
        f"are labelled `{info['name']}` by this model; its accuracy on the class is not measured here.\n"
    )


def _card_with_note(model_dir: str | os.PathLike, info: dict[str, Any]) -> str:
    """The source model card (or a minimal one) with the added class listed under "Added classes"."""
    card_path = Path(model_dir) / "README.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else f"# {Path(model_dir).name}\n"
    heading = "## Added classes"
    note = added_class_note(info)
    if heading in card:
        head, _, tail = card.partition(heading)
        # Append to the existing list: right after the heading's list, before the next section.
        section, separator, rest = tail.partition("\n## ")
        return f"{head}{heading}{section.rstrip()}\n{note}" + (f"\n## {rest}" if separator else "")
    return f"{card.rstrip()}\n\n{heading}\n\n{note}"


def add_class_to_directory(
    model_dir: str | os.PathLike,
    name: str,
    examples: str | os.PathLike | Sequence[Any],
    output_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    trust_remote_code: bool = False,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Add the class ``name`` to the model in ``model_dir`` from ``examples`` and save it to ``output_dir``.

    ``output_dir`` is written atomically (a temporary sibling renamed into place); on any error nothing
    is written. An existing ``output_dir`` is replaced only with ``overwrite`` and only when it is a
    model directory (holds ``config.json``).

    Returns
    -------
    dict
        :func:`add_class`'s ``info`` plus ``output_dir`` and ``num_labels``.
    """
    from gravityvit.hub import load_model_and_processor, save_shareable_model

    output_dir = Path(output_dir)
    if output_dir.exists():
        if not overwrite:
            raise FileExistsError(f"{output_dir} already exists; choose another --output (or --overwrite)")
        if not (output_dir / "config.json").is_file():
            raise FileExistsError(
                f"{output_dir} exists and is not a model directory; it will not be replaced"
            )
    if isinstance(examples, (str, os.PathLike)):
        folder = Path(examples)
        if not folder.exists():
            raise AddClassError(f"{folder}: examples folder not found")
        examples = [str(folder)]
    model, processor = load_model_and_processor(model_dir, trust_remote_code=trust_remote_code)
    new_model, info = add_class(model, processor, name, examples, batch_size=batch_size)
    card = _card_with_note(model_dir, info)
    save_shareable_model(
        new_model, output_dir, image_processor=processor, model_card=card, overwrite=overwrite
    )
    return {**info, "output_dir": str(output_dir), "num_labels": len(new_model.config.id2label)}


__all__ = [
    "MIN_EXAMPLES",
    "AddClassError",
    "add_class",
    "add_class_to_directory",
    "added_class_note",
    "anchor_features",
    "anchored_row",
    "example_features",
    "final_linear",
    "grow_feature_statistics",
    "imprinted_row",
]
