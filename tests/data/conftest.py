"""Fixtures shared by the data tests: random valid samples and small HDF5 files."""

from __future__ import annotations

import numpy as np
import pytest

from gravityvit.data.hdf5 import GravitySpyHDF5Writer, GravitySpySample
from gravityvit.gravity_spy import CLASS_NAMES, SPLITS


def make_sample(
    index: int, *, label: str | None = None, sample_type: str | None = None, seed: int = 0
) -> GravitySpySample:
    """A valid sample with random views; id, label and split derived from ``index``."""
    rng = np.random.default_rng(seed * 100_003 + index)
    views = rng.random((4, 140, 170), dtype=np.float32)
    views[:, 0, 0] = 0.0  # the exact ends of the range must survive every round trip
    views[:, 0, 1] = 1.0
    return GravitySpySample(
        gravityspy_id=f"id{index:08d}",
        label=label or CLASS_NAMES[index % len(CLASS_NAMES)],
        sample_type=sample_type or SPLITS[index % len(SPLITS)],
        views=views,
        ifo=("H1", "L1")[index % 2],
        metadata={
            "snr": 7.5 + index,
            "peak_frequency": 100.0 + index,
            "duration": 0.25,
            "event_time": 1_126_259_462 + index,
        },
    )


@pytest.fixture
def small_hdf5(tmp_path):
    """A 12-sample file with its metadata CSV: (h5_path, csv_path, samples)."""
    samples = [make_sample(i) for i in range(12)]
    h5_path, csv_path = tmp_path / "small.h5", tmp_path / "small_metadata.csv"
    with GravitySpyHDF5Writer(h5_path, metadata_csv=csv_path) as writer:
        for sample in samples:
            writer.write(sample)
    return h5_path, csv_path, samples
