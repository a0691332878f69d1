"""Classification losses shared by the GravityViT and Gravity Spy CNN models.

Both models compute their loss here from their config (``label_smoothing``, ``focal_gamma``,
``class_weights``) rather than through ``PreTrainedModel.loss_function``, whose fallback for unknown
model classes is a causal-LM loss.

Imports only torch: copied beside the model code by ``save_pretrained`` for ``trust_remote_code``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # label value skipped by the loss, as in torch and the HF Trainer


def glitch_classification_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    label_smoothing: float = 0.0,
    focal_gamma: float = 0.0,
    class_weights: Sequence[float] | torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean cross-entropy (``focal_gamma == 0``) or focal loss of ``logits`` against integer ``labels``.

    Parameters
    ----------
    logits : torch.Tensor
        Unnormalised class scores, shape (batch, num_labels).
    labels : torch.Tensor
        Class indices, shape (batch,); entries equal to -100 are ignored.
    label_smoothing : float
        Mass in [0, 1) spread uniformly over all classes in the target distribution.
    focal_gamma : float
        Focusing exponent of the focal loss (Lin et al. 2017); 0 gives plain cross-entropy. Each
        class term of the smoothed cross-entropy is scaled by ``(1 - p_class) ** focal_gamma``, so
        confidently classified samples contribute less and rare, hard classes more.
    class_weights : sequence of float or torch.Tensor, optional
        Per-class weights, length num_labels. As in ``torch.nn.functional.cross_entropy``, the
        batch mean divides by the summed weights of the true labels.

    Returns
    -------
    torch.Tensor
        The scalar loss (0 with a gradient when every label is ignored).

    Raises
    ------
    ValueError
        When the shapes of ``logits``, ``labels`` and ``class_weights`` do not agree or a label is
        out of range.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (batch, num_labels); got {tuple(logits.shape)}")
    num_labels = logits.shape[-1]
    labels = labels.reshape(-1).to(device=logits.device, dtype=torch.long)
    if labels.shape[0] != logits.shape[0]:
        raise ValueError(f"labels must have shape (batch,) = ({logits.shape[0]},); got {tuple(labels.shape)}")
    valid = labels != IGNORE_INDEX
    if bool(((labels[valid] < 0) | (labels[valid] >= num_labels)).any()):
        raise ValueError(f"labels must lie in [0, {num_labels}) or be -100; got {labels.tolist()}")
    weight = None
    if class_weights is not None:
        weight = torch.as_tensor(class_weights, dtype=torch.float32, device=logits.device)
        if weight.shape != (num_labels,):
            raise ValueError(f"class_weights must have {num_labels} entries; got {tuple(weight.shape)}")
    # Losses are computed in float32: label smoothing over 22 classes underflows in half precision.
    logits = logits.float()
    if not focal_gamma:
        return F.cross_entropy(
            logits, labels, weight=weight, ignore_index=IGNORE_INDEX, label_smoothing=label_smoothing
        )
    if not bool(valid.any()):
        return logits.sum() * 0.0
    logits, labels = logits[valid], labels[valid]
    log_probs = F.log_softmax(logits, dim=-1)
    targets = F.one_hot(labels, num_labels).float() * (1.0 - label_smoothing) + label_smoothing / num_labels
    modulation = (1.0 - log_probs.exp()).clamp(min=0.0).pow(focal_gamma)
    if weight is None:
        weight = torch.ones(num_labels, device=logits.device)
    per_sample = -(targets * modulation * log_probs * weight).sum(dim=-1)
    return per_sample.sum() / weight[labels].sum()


def scale_logits(logits: torch.Tensor, config: Any) -> torch.Tensor:
    """Divide ``logits`` by the config's ``logit_temperature`` (1.0, or fitted on validation data).

    Temperature scaling changes no prediction, only how confident the softmax scores are.
    """
    temperature = float(getattr(config, "logit_temperature", 1.0) or 1.0)
    return logits if temperature == 1.0 else logits / temperature


def config_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config: Any) -> torch.Tensor:
    """``glitch_classification_loss`` with the loss settings of a model config.

    Parameters
    ----------
    logits : torch.Tensor
        Unnormalised class scores, shape (batch, num_labels).
    labels : torch.Tensor
        Class indices, shape (batch,); -100 is ignored.
    config : GravityViTConfig or GravitySpyCNNConfig
        Any config with ``label_smoothing``, ``focal_gamma`` and ``class_weights``.

    Returns
    -------
    torch.Tensor
        The scalar loss.
    """
    return glitch_classification_loss(
        logits,
        labels,
        label_smoothing=config.label_smoothing,
        focal_gamma=config.focal_gamma,
        class_weights=config.class_weights,
    )
