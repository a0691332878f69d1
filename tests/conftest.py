"""Shared fixtures. Tests never touch a network: the Hub is offline for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest

REAL_SAMPLES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "real_samples" / "gravityspy"


@pytest.fixture(scope="session")
def real_samples_dir() -> Path:
    """The real Gravity Spy PNGs beside the checkout (never committed); tests skip without them."""
    directory = Path(os.environ.get("GRAVITYVIT_REAL_SAMPLES", REAL_SAMPLES_DIR))
    if not directory.is_dir():
        pytest.skip(f"real Gravity Spy samples not found at {directory}")
    return directory
