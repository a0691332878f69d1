"""Tiny glitch datasets and model settings for the training tests (seconds on 2 CPU cores)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gravityvit.gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S, VIEW_SHAPE

# A tiny GravityViT built from a named configuration: 1 block, width 32, 32x32 inputs, 8x8 patches.
TINY_MODEL = "gravityvit/multiview-ti16"
TINY_OVERRIDES = {
    "image_size": 32,
    "backbone_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8},
    "fusion_num_heads": 2,
    "fusion_num_queries": 1,
    "head_hidden_size": 32,
    "drop_path_rate": 0.0,
}


def synthetic_views(label: int, rng: np.random.Generator) -> np.ndarray:
    """Four (140, 170) views of a class-coded glitch: a bright band whose row depends on the class."""
    views = rng.uniform(0.0, 0.2, size=(len(VIEW_DURATIONS_S), *VIEW_SHAPE)).astype(np.float32)
    row = 3 + 6 * label
    for index, duration_s in enumerate(VIEW_DURATIONS_S):
        half_width = max(2, int(0.1 / duration_s * VIEW_SHAPE[1]))
        centre = VIEW_SHAPE[1] // 2
        views[index, row : row + 4, centre - half_width : centre + half_width] = 0.9
    return views


def write_tiny_dataset(
    directory: Path,
    per_split: dict[str, int] | None = None,
    seed: int = 0,
    classes=CLASS_NAMES,
    label_set=None,
) -> Path:
    """Write an HDF5 file of synthetic samples and convert it to Arrow in ``directory / "arrow"``.

    ``label_set`` is the converter's (v1 by default); a class outside v1 gets the band of its place
    in ``classes``.
    """
    from gravityvit.data.arrow import convert_to_arrow
    from gravityvit.data.hdf5 import GravitySpySample, write_gravityspy_hdf5

    per_split = per_split or {"train": 2, "validation": 1, "test": 1}
    rng = np.random.default_rng(seed)
    samples = []
    for split, count in per_split.items():
        for label, name in enumerate(classes):
            for k in range(count):
                samples.append(
                    GravitySpySample(
                        gravityspy_id=f"{split[:2]}{label:02d}x{k:03d}",
                        label=name,
                        sample_type=split,
                        views=synthetic_views(
                            CLASS_NAMES.index(name) if name in CLASS_NAMES else list(classes).index(name), rng
                        ),
                        ifo="H1" if k % 2 == 0 else "L1",
                    )
                )
    directory.mkdir(parents=True, exist_ok=True)
    h5_path = directory / "tiny.h5"
    write_gravityspy_hdf5(h5_path, samples)
    convert_to_arrow(h5_path, directory / "arrow", num_proc=1, label_set=label_set)
    return directory / "arrow"


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A converted dataset: 22 classes x (2 train, 1 validation, 1 test) synthetic samples."""
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny_dataset"))


def tiny_train_args(dataset: Path, output_dir: Path, *extra: str, epochs: int = 2) -> list[str]:
    """Command-line arguments of examples/train.py for a tiny, fast CPU run."""
    return [
        "--dataset",
        str(dataset),
        "--model",
        TINY_MODEL,
        "--config_overrides",
        json.dumps(TINY_OVERRIDES),
        "--output_dir",
        str(output_dir),
        "--num_train_epochs",
        str(epochs),
        "--per_device_train_batch_size",
        "16",
        "--per_device_eval_batch_size",
        "32",
        "--learning_rate",
        "3e-3",
        "--warmup_epochs",
        "0",
        "--use_cpu",
        "--seed",
        "0",
        "--disable_tqdm",
        "true",
        "--dataloader_num_workers",
        "0",
        # MLflow and TensorBoard are installed with the tracking extra; only the tracking tests use them.
        "--report_to",
        "none",
        *extra,
    ]
