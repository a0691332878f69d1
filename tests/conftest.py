"""Shared fixtures. Tests never touch a network: the Hub is offline for the whole test run."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

from gravityvit.inference.real_samples import real_samples_root as configured_real_samples_root


# Real Gravity Spy samples are never committed. GRAVITYVIT_REAL_SAMPLES names the folder that holds
# them: ``gravityspy/<Class>/`` (800x600 renderings) and ``kaggle/<Class>/`` (Kaggle crops). Tests
# that need them skip when it is absent.
def _real_samples_folder(name: str) -> Path:
    directory = configured_real_samples_root() / name
    if not directory.is_dir():
        pytest.skip(f"real Gravity Spy samples not found at {directory} (set GRAVITYVIT_REAL_SAMPLES)")
    return directory


@pytest.fixture(scope="session")
def real_samples_dir() -> Path:
    """The 800x600 real Gravity Spy PNGs, ``<Class>/<ifo>_<id>_spectrogram_<d>.png``."""
    return _real_samples_folder("gravityspy")


@pytest.fixture(scope="session")
def kaggle_samples_dir() -> Path:
    """The real samples as 569x479 Kaggle crops, over all 22 classes."""
    return _real_samples_folder("kaggle")


@pytest.fixture(scope="session")
def real_samples_root() -> Path:
    """The folder of real samples, holding ``gravityspy/`` and ``kaggle/``."""
    directory = configured_real_samples_root()
    if not directory.is_dir():
        pytest.skip(f"real Gravity Spy samples not found at {directory} (set GRAVITYVIT_REAL_SAMPLES)")
    return directory
