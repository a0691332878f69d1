"""The unknown-glitch score that the classifiers return with their logits.

Two scores, chosen by the config's ``unknown_score_method``; higher means "more unlike every
trained class":

- ``"energy"`` (Liu et al. 2020): ``-logsumexp(logits / T)`` of the temperature-scaled logits;
- ``"relative_mahalanobis"`` (Ren et al. 2021, "A simple fix to Mahalanobis distance for improving
  near-OOD detection"): on the pooled feature ``z`` that the classification head reads,
  ``min_k [MD_k(z) - MD_0(z)]`` where ``MD_k(z) = (z - mu_k)^T P (z - mu_k)`` is the squared
  Mahalanobis distance to class ``k``'s mean under the precision ``P`` shared by all classes, and
  ``MD_0`` the distance to the mean of all training features under their own precision. Subtracting
  ``MD_0`` removes what every glitch image has in common, so the score measures how far a sample
  lies from the classes relative to how far it lies from the data as a whole.

The class statistics are buffers of :class:`GlitchFeatureStatistics` (saved in ``model.safetensors``
with the weights, so ``save_pretrained``, the Hub and remote code carry them); they are zeros until
:func:`gravityvit.inference.unknown.fit_feature_statistics` fits them on the training split at the
end of training (or ``gravityvit calibrate``). A model without statistics returns the energy score.

Imports only torch and the config module: this module is saved beside the model code for ``trust_remote_code``.
"""

from __future__ import annotations

import torch
from torch import nn

from .configuration_common import UNKNOWN_SCORE_METHODS

# The buffers of GlitchFeatureStatistics, as fitted and saved.
STATISTICS_BUFFERS: tuple[str, ...] = (
    "class_means",
    "class_counts",
    "precision",
    "background_mean",
    "background_precision",
)


def energy_score(logits: torch.Tensor) -> torch.Tensor:
    """``-logsumexp`` over the last axis of (temperature-scaled) ``logits``, float64 where the device has it."""
    return -torch.logsumexp(logits.detach().to(_score_dtype(logits)), dim=-1)


def _score_dtype(tensor: torch.Tensor) -> torch.dtype:
    # Distances of a few hundred with differences of a few units: float64, except on MPS (no float64).
    return torch.float32 if tensor.device.type == "mps" else torch.float64


class GlitchFeatureStatistics(nn.Module):
    """Class statistics of the pooled features and the unknown-glitch score computed from them.

    Buffers (persistent, zeros until fitted):

    - ``class_means`` `(num_labels, hidden_size)`: the mean feature of each class;
    - ``class_counts`` `(num_labels,)`: how many features each mean was taken over; a class without
      any (absent from the training split) takes no part in the score;
    - ``precision`` `(hidden_size, hidden_size)`: inverse of the covariance shared by the classes
      (each feature centred on its class mean);
    - ``background_mean`` `(hidden_size,)` and ``background_precision`` `(hidden_size, hidden_size)`:
      mean and inverse covariance of all training features together.
    """

    def __init__(self, num_labels: int, hidden_size: int) -> None:
        super().__init__()
        self.register_buffer("class_means", torch.zeros(num_labels, hidden_size))
        self.register_buffer("class_counts", torch.zeros(num_labels))
        self.register_buffer("precision", torch.zeros(hidden_size, hidden_size))
        self.register_buffer("background_mean", torch.zeros(hidden_size))
        self.register_buffer("background_precision", torch.zeros(hidden_size, hidden_size))

    def is_fitted(self) -> bool:
        """Whether statistics were fitted (an unfitted precision is all zeros)."""
        return bool(self.background_precision.any())

    def relative_mahalanobis(self, features: torch.Tensor) -> torch.Tensor:
        """``min_k [MD_k(z) - MD_0(z)]`` of each feature row ``z`` of ``features`` (B, D); returns (B,)."""
        dtype = _score_dtype(features)
        z = features.detach().to(dtype)
        # (B, K, D): the offset from every class mean; distances from the offsets, not expanded
        # quadratic forms, so no large terms cancel.
        offsets = z[:, None, :] - self.class_means.to(dtype)[None]
        class_distances = ((offsets @ self.precision.to(dtype)) * offsets).sum(-1)
        class_distances = class_distances.masked_fill(self.class_counts[None] <= 0, float("inf"))
        background = z - self.background_mean.to(dtype)
        background_distance = ((background @ self.background_precision.to(dtype)) * background).sum(-1)
        return (class_distances - background_distance[:, None]).min(dim=-1).values

    def forward(
        self, logits: torch.Tensor, features: torch.Tensor, method: str = "energy"
    ) -> torch.Tensor | None:
        """The unknown score (B,) of a batch: ``method`` from ``UNKNOWN_SCORE_METHODS``.

        ``logits`` are the temperature-scaled logits, ``features`` the pooled features the head
        read. ``"relative_mahalanobis"`` without fitted statistics falls back to the energy score.
        None in training mode: a training step has no use for it, and ``is_fitted`` would make every
        step wait for the device.
        """
        if self.training:
            return None
        if method == "relative_mahalanobis" and self.is_fitted():
            return self.relative_mahalanobis(features)
        return energy_score(logits)

    @torch.no_grad()
    def load_statistics(self, statistics: dict[str, object]) -> None:
        """Copy fitted statistics (arrays or tensors named like ``STATISTICS_BUFFERS``) into the buffers.

        ``class_means`` and ``class_counts`` may have another number of rows than before (a class
        was added); the rest keep their shapes.

        Raises:
            ValueError: naming the statistic of the wrong shape or with NaN or infinite values.
        """
        hidden_size = self.precision.shape[0]
        values = {
            name: torch.as_tensor(
                statistics[name], dtype=getattr(self, name).dtype, device=self.precision.device
            )
            for name in STATISTICS_BUFFERS
        }
        num_labels = values["class_means"].shape[0] if values["class_means"].ndim == 2 else -1
        expected = {
            "class_means": (num_labels, hidden_size),
            "class_counts": (num_labels,),
            "precision": (hidden_size, hidden_size),
            "background_mean": (hidden_size,),
            "background_precision": (hidden_size, hidden_size),
        }
        for name, value in values.items():
            if num_labels < 1 or tuple(value.shape) != expected[name]:
                raise ValueError(
                    f"{name} must have shape {expected[name]} (num_labels, hidden_size {hidden_size}); got "
                    f"{tuple(value.shape)}"
                )
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{name} holds NaN or infinite values")
        for name, value in values.items():
            setattr(self, name, value.clone())


__all__ = ["STATISTICS_BUFFERS", "UNKNOWN_SCORE_METHODS", "GlitchFeatureStatistics", "energy_score"]
