"""Stability under small time shifts: how often the label changes when the glitch moves by milliseconds.

Omicron trigger times, and so the centre of the Gravity Spy views, are uncertain by a few
milliseconds. A classifier a scientist can trust gives the same label when the glitch sits 1, 5 or
10 ms off centre. :func:`time_shift_stability` measures it on simulated data:

1. simulate 8 s of strain with one glitch per sample, roll it (noise and glitch) by ``shift`` in whole
   samples (the wrapped samples are noise 4 s from the glitch, outside every view) and turn every copy
   into views through the simulator's own front end around the unchanged trigger time
   (``gravityvit.data.simulation.simulate_shifted_views``): the unshifted copy is exactly a sample of
   the simulated datasets, so the flips measure the model, not a change of front end;
2. classify every shifted copy and count, per class and shift, the samples whose label differs from
   the unshifted copy's.

:func:`shifted_views` does the same for any strain through ``omega_scan_views``, the front end of
real data (its whitening ASD estimated from the data).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

DEFAULT_SHIFTS_MS: tuple[float, ...] = (-10.0, -5.0, -1.0, 1.0, 5.0, 10.0)


def shifted_views(strain: Any, event_time: float, shift_s: float) -> np.ndarray:
    """Gravity Spy's views of ``strain`` with its content moved later by ``shift_s`` (whole samples).

    Returns
    -------
    np.ndarray
        float32 (4, 140, 170).
    """
    from gravityvit.data.omega import omega_scan_views, roll_strain

    steps = round(shift_s * float(strain.sample_rate.to("Hz").value))
    return omega_scan_views(roll_strain(strain, steps), event_time)


@torch.no_grad()
def _classify(model: Any, image_processor: Any, views: np.ndarray, batch_size: int) -> np.ndarray:
    """Predicted class ids of (N, V, 140, 170) views, all views present."""
    predicted = []
    device = next(model.parameters()).device
    for start in range(0, len(views), batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(views[start : start + batch_size]))
        mask = torch.ones(chunk.shape[:2], dtype=torch.bool)
        features = image_processor.preprocess_views(chunk, mask, validate=False)
        logits = model(
            pixel_values=features["pixel_values"].to(device), view_mask=features["view_mask"].to(device)
        ).logits
        predicted.append(logits.argmax(-1).cpu().numpy())
    return np.concatenate(predicted)


def time_shift_stability(
    model: Any,
    image_processor: Any,
    *,
    classes: Sequence[str] | None = None,
    samples_per_class: int = 10,
    shifts_ms: Sequence[float] = DEFAULT_SHIFTS_MS,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Label-flip rates per class and shift on simulated glitches (see the module docstring).

    Parameters
    ----------
    model : PreTrainedModel
        The classifier (eval mode is set); its ``id2label`` names the classes.
    image_processor : GravityViTImageProcessor
        Its processor.
    classes : sequence of str, optional
        Classes to simulate (default: those of the model the simulator knows).
    samples_per_class : int
        Simulated glitches per class; each is scanned ``len(shifts_ms) + 1`` times.
    shifts_ms : sequence of float
        Time shifts of the glitch in milliseconds (the sign is the direction).
    seed : int
        Seed of the simulation; sample ``i`` of class ``c`` is reproducible on its own.
    batch_size : int
        Samples per forward pass.

    Returns
    -------
    dict
        ``shifts_ms``, ``samples_per_class``, ``seed``, ``accuracy_unshifted``; ``flip_rate``: per
        ``|shift|`` (``"1ms"``, ...; both signs pooled) the overall fraction of labels changed;
        ``per_class``: ``{class: {"1ms": rate, ..., "accuracy_unshifted": acc}}``.
    """
    from gravityvit.data.simulation import GENERATORS, simulate_shifted_views

    label2id = {str(v): int(k) for k, v in model.config.id2label.items()}
    if classes is None:
        classes = [name for name in label2id if name in GENERATORS]
    unknown = sorted(set(classes) - set(GENERATORS))
    if unknown:
        raise ValueError(f"the simulator has no class {unknown}; expected names from {sorted(GENERATORS)}")
    if samples_per_class < 1:
        raise ValueError(f"samples_per_class must be at least 1; got {samples_per_class}")
    shifts = [0.0, *[float(s) for s in shifts_ms if float(s) != 0.0]]
    model.eval()
    root = np.random.SeedSequence(seed)
    per_class: dict[str, Any] = {}
    flips_by_magnitude: dict[str, list[bool]] = {}
    correct_all: list[bool] = []
    for class_index, name in enumerate(classes):
        views = np.empty((samples_per_class, len(shifts), 4, 140, 170), dtype=np.float32)
        for sample in range(samples_per_class):
            child = np.random.SeedSequence(entropy=root.entropy, spawn_key=(class_index, sample))
            views[sample] = simulate_shifted_views(
                name, np.random.default_rng(child), [shift / 1000.0 for shift in shifts]
            )[0]
        predicted = _classify(model, image_processor, views.reshape(-1, *views.shape[2:]), batch_size)
        predicted = predicted.reshape(samples_per_class, len(shifts))
        correct = predicted[:, 0] == label2id.get(name, -1)
        correct_all.extend(correct.tolist())
        row: dict[str, float] = {"accuracy_unshifted": float(correct.mean())}
        for magnitude in sorted({abs(s) for s in shifts[1:]}):
            columns = [i for i, s in enumerate(shifts) if s != 0 and abs(s) == magnitude]
            flips = predicted[:, columns] != predicted[:, [0]]
            key = f"{magnitude:g}ms"
            row[key] = float(flips.mean())
            flips_by_magnitude.setdefault(key, []).extend(flips.ravel().tolist())
        per_class[name] = row
        logger.info("time shifts, %s: %s", name, row)
    return {
        "shifts_ms": shifts[1:],
        "samples_per_class": samples_per_class,
        "seed": seed,
        "accuracy_unshifted": float(np.mean(correct_all)),
        "flip_rate": {key: float(np.mean(values)) for key, values in flips_by_magnitude.items()},
        "per_class": per_class,
    }


__all__ = ["DEFAULT_SHIFTS_MS", "shifted_views", "time_shift_stability"]
