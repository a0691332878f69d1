"""Functions shared by the inference tests (pipelines, predict CLI, hub, checkpoint conversion).

Tiny models built in code (one ViT block of width 32 on 32x32 inputs; a 2-channel CNN) and synthetic
Gravity Spy inputs: 800x600 RGBA PNGs named like the real ones, and views in [0, 1].
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gravityvit import (
    GravitySpyCNNConfig,
    GravitySpyCNNForGlitchClassification,
    GravityViTConfig,
    GravityViTForGlitchClassification,
    GravityViTImageProcessor,
)
from gravityvit.gravity_spy import KAGGLE_PNG_SIZE, PNG_SIZE, VIEW_DURATIONS_S, VIEW_SHAPE, duration_label
from gravityvit.hub import save_shareable_model

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKBONE_KWARGS = {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 16}


def tiny_gravityvit() -> tuple[GravityViTForGlitchClassification, GravityViTImageProcessor]:
    """A seeded tiny GravityViT (cross-attention fusion) and its processor."""
    config = GravityViTConfig(
        backbone="vit_tiny_patch16_224",
        backbone_kwargs=BACKBONE_KWARGS,
        image_size=32,
        fusion_num_heads=2,
        fusion_num_queries=2,
        head_hidden_size=16,
        drop_path_rate=0.0,
        head_dropout=0.0,
    )
    torch.manual_seed(0)
    return GravityViTForGlitchClassification(config).eval(), GravityViTImageProcessor.from_config(config)


def tiny_cnn() -> tuple[GravitySpyCNNForGlitchClassification, GravityViTImageProcessor]:
    """A seeded tiny Gravity Spy CNN baseline and its processor."""
    config = GravitySpyCNNConfig(image_size=[32, 32], conv_channels=[2, 2, 2, 2], kernel_size=3, dense_size=8)
    torch.manual_seed(0)
    return GravitySpyCNNForGlitchClassification(config).eval(), GravityViTImageProcessor.from_config(config)


def save_tiny(directory: Path, kind: str = "gravityvit", with_pipeline: bool = True) -> Path:
    """Save a tiny model as a shareable directory (weights, processor, card, model and pipeline code)."""
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    return save_shareable_model(
        model,
        directory,
        image_processor=processor,
        model_card=f"# tiny {kind}\n",
        with_pipeline=with_pipeline,
    )


def random_views(seed: int) -> np.ndarray:
    """Four (140, 170) float32 views in [0, 1]."""
    return np.random.default_rng(seed).random((len(VIEW_DURATIONS_S), *VIEW_SHAPE), dtype=np.float32)


def write_png_sample(folder: Path, gravityspy_id: str, seed: int, ifo: str = "H1") -> list[Path]:
    """Write four synthetic 800x600 RGBA Gravity Spy PNGs of one sample; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for duration in VIEW_DURATIONS_S:
        pixels = rng.integers(0, 256, (PNG_SIZE[1], PNG_SIZE[0], 4), dtype=np.uint8)
        pixels[..., 3] = 255
        path = folder / f"{ifo}_{gravityspy_id}_spectrogram_{duration_label(duration)}.png"
        Image.fromarray(pixels, mode="RGBA").save(path, compress_level=0)
        paths.append(path)
    return paths


def write_kaggle_sample(
    folder: Path,
    gravityspy_id: str,
    durations: tuple[str, ...] | list[str] = ("0.5", "1.0", "2.0", "4.0"),
    *,
    seed: int = 0,
    ifo: str = "H1",
) -> dict[float, Path]:
    """Write random 569x479 RGBA Kaggle crops of one sample for ``durations``; return {duration: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = {}
    for duration in durations:
        pixels = rng.integers(0, 256, (KAGGLE_PNG_SIZE[1], KAGGLE_PNG_SIZE[0], 4), dtype=np.uint8)
        pixels[..., 3] = 255
        path = folder / f"{ifo}_{gravityspy_id}_spectrogram_{duration}.png"
        Image.fromarray(pixels, mode="RGBA").save(path, compress_level=0)
        paths[float(duration)] = path
    return paths


@torch.no_grad()
def direct_prediction(model, processor, sample) -> tuple[np.ndarray, np.ndarray]:
    """Softmax scores (C,) and view weights (V,) of one sample by a direct processor + model call."""
    inputs = processor(sample, return_tensors="pt")
    outputs = model(**inputs)
    return torch.softmax(outputs.logits[0].float(), -1).numpy(), outputs.view_weights[0].float().numpy()


def scores_of(result_top_k: list[dict]) -> dict[str, float]:
    """{label: score} of a pipeline's ranked list."""
    return {entry["label"]: entry["score"] for entry in result_top_k}


def run_python(
    code: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter of this venv; raise with its output when it fails."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO_ROOT,
    )
    if result.returncode != 0:
        raise AssertionError(f"subprocess failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
