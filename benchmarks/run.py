"""Speed and memory of every GravityViT stage, each figure a ratio against a baseline of the same run.

Usage::

    python benchmarks/run.py [--quick] [--output results.json] [--only train,inference,...]

Prints a markdown table (and writes the raw numbers as JSON with ``--output``). The machines these
run on are shared and noisy, so every figure is compared with a baseline measured in the same run:
the cases of one measurement are interleaved (round-robin, the order rotated every round), repeated,
and summarised by their median.

Measurements (one function each, see ``MEASUREMENTS``):

- ``startup``: wall time of ``gravityvit --help``, of an argument error and of ``import gravityvit``,
  each a fresh interpreter, against ``python -c pass`` (and against importing the model classes,
  which a command that runs a model pays);
- ``train``: one training step (forward + backward + AdamW) on the same four views per sample, for
  GravityViT, a naive loop calling the timm backbone once per view, transformers'
  ``ViTForImageClassification`` of the same size on the B*4 views, and one timm backbone call on all
  B*4 views (the lower bound: GravityViT should be within 10 % of it, the fusion nearly free);
- ``inference``: samples/s at two batch sizes, direct model call vs image processor + model vs the
  ``glitch-classification`` pipeline (goal: pipeline overhead under 20 %);
- ``onnx``: samples/s of the model exported to ONNX and run by ONNX Runtime (CPU provider) against
  the torch model call, at batch 1 and 64 (``gravityvit predict --backend onnx``);
- ``bulk_predict``: wall time of ``gravityvit predict`` over an HDF5 file with ``--num-processes``
  2 against 1 (the speed-up; start-up and model loading included, as a user sees it);
- ``simulate`` / ``convert``: samples/s of the simulator (vs its strain-only part) and of the HDF5 ->
  Arrow converter (vs reading the HDF5 file), through the Python API and the ``gravityvit`` CLI;
- ``omega``: the Omega scan (strain -> four views) per sample, fast backend against the gwpy
  reference, on simulated (8 s, 8192 Hz) and real-format (64 s, 16384 Hz) strain, in CPU time of
  the process (one thread of work; wall time on a shared machine measures the other jobs);
- ``data``: decoding + augmentation + collation samples/s from the Arrow dataset with DataLoader
  ``num_workers`` 0, 1, 2, against the training step's consumption, and the per-stage cost;
- ``memory``: peak and anonymous resident memory of a subprocess that runs training steps and then
  iterates the whole Arrow dataset through the training data path, against the dataset's size;
- ``scaling``: ``examples/train.py`` epoch time vs dataset size and vs 1 / 2 CPU processes
  (``accelerate launch --cpu``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
NUM_VIEWS = 4


# ---------------------------------------------------------------------------------------------------
# Profiles: what "full" and "--quick" measure
# ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Profile:
    """Sizes of one benchmark run.

    Attributes
    ----------
    name : str
        ``full`` or ``quick`` (or ``tiny`` for the smoke test).
    model : str
        Named configuration of the model measured.
    model_overrides : dict
        Config overrides on top of ``model`` (smaller backbones for quick runs).
    train_batch : int
        Samples (each four views) per training step.
    inference_batches : tuple of int
        The small and the large inference batch.
    repeats, warmup : int
        Timed repetitions (median reported) and untimed warm-up calls per case.
    simulate_samples : int
        Samples simulated (also the templates the Arrow dataset is tiled from).
    dataset_samples : int
        Train-split samples of the Arrow dataset (tiled from the simulated templates).
    loader_samples, loader_batch : int
        Samples per DataLoader epoch in ``data`` and the batch size.
    loader_workers : tuple of int
        DataLoader ``num_workers`` settings compared.
    memory_steps : int
        Training steps run by the memory subprocess before it iterates the whole dataset.
    scaling_sizes : tuple of int
        ``--max_train_samples`` of the scaling runs (1 process); the largest also runs with 2.
    scaling_processes : tuple of int
        Process counts at the largest size.
    inference_inner : int
        Samples classified per timed call at batch 1 (calls too short to time singly).
    onnx_batches : tuple of int
        Batch sizes of the ONNX Runtime vs torch comparison.
    bulk_samples, bulk_processes : int
        Samples classified by ``gravityvit predict`` in ``bulk_predict``, and the process count compared
        with one process.
    startup_model_import : bool
        Whether ``startup`` also times importing the model classes (torch, timm, transformers).
    clock : str
        How ``train`` times its steps: ``wall`` (``time.perf_counter``) or ``cpu``
        (``time.process_time``, the process's CPU time: with one torch thread it leaves out the time
        spent waiting for a core that other jobs hold).
    """

    name: str
    model: str = "gravityvit/multiview-demo"
    model_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_batch: int = 32
    inference_batches: tuple[int, int] = (1, 64)
    repeats: int = 5
    warmup: int = 1
    simulate_samples: int = 44
    dataset_samples: int = 3000
    loader_samples: int = 256
    loader_batch: int = 32
    loader_workers: tuple[int, ...] = (0, 1, 2)
    memory_steps: int = 3
    scaling_sizes: tuple[int, ...] = (64, 128, 256)
    scaling_processes: tuple[int, ...] = (1, 2)
    inference_inner: int = 8
    startup_model_import: bool = True
    clock: str = "wall"
    onnx_batches: tuple[int, ...] = (1, 64)
    bulk_samples: int = 512
    bulk_processes: int = 2


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
# The full suite's model: a 4-block ViT-Ti/16 (width 192) at 112x144, 2.3 M parameters, the largest a
# 2-core CPU trains in minutes. The quick suite measures the `make demo` model as it is.
FULL_MODEL = "gravityvit/multiview-ti16"
FULL_OVERRIDES: dict[str, Any] = {
    "image_size": [112, 144],
    "backbone_kwargs": {"depth": 4},
    "head_hidden_size": 128,
}
# The smoke test's model: one block of width 32 on 32x32 inputs with 8x8 patches.
TINY_OVERRIDES: dict[str, Any] = {
    "image_size": 32,
    "backbone_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8},
    "conv_stem_channels": None,  # a plain patch embedding, whatever the named configuration has
    "fusion_num_heads": 2,
    "fusion_num_queries": 1,
    "head_hidden_size": 32,
}

PROFILES: dict[str, Profile] = {
    "full": Profile("full", model=FULL_MODEL, model_overrides=FULL_OVERRIDES),
    "quick": Profile(
        "quick",
        train_batch=16,
        inference_batches=(1, 16),
        repeats=3,
        simulate_samples=22,
        dataset_samples=800,
        loader_samples=128,
        loader_batch=16,
        memory_steps=2,
        scaling_sizes=(64, 128),
        bulk_samples=256,
    ),
    "tiny": Profile(
        "tiny",
        model_overrides=TINY_OVERRIDES,
        train_batch=2,
        inference_batches=(1, 2),
        repeats=1,
        warmup=0,
        simulate_samples=1,
        dataset_samples=8,
        loader_samples=4,
        loader_batch=2,
        loader_workers=(0, 1),
        memory_steps=1,
        scaling_sizes=(4,),
        scaling_processes=(1,),
        inference_inner=1,
        startup_model_import=False,
        onnx_batches=(1, 2),
        bulk_samples=4,
    ),
}


# ---------------------------------------------------------------------------------------------------
# Results and timing
# ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    """One line of the results table: a measured value and its ratio to the same run's baseline."""

    section: str
    case: str
    value: float
    unit: str
    baseline: str = ""
    ratio: float | None = None
    note: str = ""


@dataclasses.dataclass
class Timing:
    """Seconds per call of one case: the median of its repeats, and all of them."""

    median_s: float
    times_s: list[float]

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the repeats were."""
        return (max(self.times_s) - min(self.times_s)) / self.median_s if self.median_s else 0.0


def time_cases(
    cases: Mapping[str, Callable[[], Any]],
    repeats: int = 5,
    warmup: int = 1,
    inner: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Timing]:
    """Time each case's call: warm-up, then ``repeats`` interleaved rounds; the median per case.

    Parameters
    ----------
    cases : mapping of str to callable
        What to time, by name; each call is one unit of work (a step, a batch, an epoch).
    repeats : int
        Timed rounds; in every round each case runs once, in an order rotated by one per round, so
        that a burst of load from other processes hits all cases alike.
    warmup : int
        Untimed calls of every case first (allocator, kernels, caches).
    inner : int
        Calls per timed sample (for calls too short to time singly); the time is divided by it.
    clock : callable
        The clock read around each sample (``CLOCKS``: wall or process CPU time).

    Returns
    -------
    dict of str to Timing
        Seconds per call.
    """
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(max(1, repeats)):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            start = clock()
            for _ in range(inner):
                cases[name]()
            times[name].append((clock() - start) / inner)
    return {name: Timing(statistics.median(values), values) for name, values in times.items()}


def _noise_note(timings: Mapping[str, Timing]) -> str:
    worst = max(timings.values(), key=lambda t: t.spread)
    return f"{len(worst.times_s)} repeats, worst spread {100 * worst.spread:.0f} %"


def config_overrides(profile: Profile) -> dict[str, Any]:
    """The profile's overrides of its named configuration, ``backbone_kwargs`` merged into the named ones."""
    from gravityvit.named_configs import NAMED_CONFIGS

    overrides = dict(profile.model_overrides)
    if "backbone_kwargs" in overrides:
        named = NAMED_CONFIGS[profile.model].kwargs.get("backbone_kwargs") or {}
        overrides["backbone_kwargs"] = {**named, **overrides["backbone_kwargs"]}
    return overrides


def build_model(profile: Profile, seed: int = 0):
    """The profile's GravityViT (random weights) and its image processor."""
    from gravityvit import GravityViTForGlitchClassification, GravityViTImageProcessor, get_named_config

    config = get_named_config(profile.model, **config_overrides(profile))
    torch.manual_seed(seed)
    return GravityViTForGlitchClassification(config), GravityViTImageProcessor.from_config(config)


def describe_model(model) -> str:
    """One line naming the backbone size, input size and parameter count."""
    config = model.config
    backbone = model.gravityvit.backbone
    return (
        f"{config.backbone} depth {len(backbone.blocks)}, width {backbone.embed_dim}, "
        f"input {tuple(config.image_size) if isinstance(config.image_size, list) else config.image_size}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters"
    )


def random_views(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random views (batch, 4, 140, 170) in [0, 1] and labels (batch,)."""
    from gravityvit.gravity_spy import VIEW_SHAPE

    rng = np.random.default_rng(seed)
    views = rng.uniform(0.0, 1.0, size=(batch, NUM_VIEWS, *VIEW_SHAPE)).astype(np.float32)
    return views, rng.integers(0, 22, size=batch)


# ---------------------------------------------------------------------------------------------------
# Training step
# ---------------------------------------------------------------------------------------------------


def _backbone_dims(backbone) -> dict[str, Any]:
    """The size of a timm ViT, to build a transformers ViT of the same size."""
    # A convolutional stem (HybridEmbed) makes tokens of its stride times timm's patch size.
    ratio = getattr(backbone.patch_embed, "feature_ratio", (1, 1))
    patch = [int(p) * int(r) for p, r in zip(backbone.patch_embed.patch_size, ratio)]
    return {
        "hidden_size": backbone.embed_dim,
        "num_hidden_layers": len(backbone.blocks),
        "num_attention_heads": backbone.blocks[0].attn.num_heads,
        "intermediate_size": backbone.blocks[0].mlp.fc1.out_features,
        "image_size": tuple(backbone.patch_embed.img_size),
        "patch_size": patch[0] if isinstance(patch, (tuple, list)) else patch,
    }


class _StemProjection(torch.nn.Sequential):
    """A convolutional stem in the place of transformers' ViT patch projection."""

    @property
    def weight(self) -> torch.Tensor:
        # ViTModel.forward casts the pixels to the projection's weight dtype.
        return next(self.parameters())


def hf_vit_like(backbone, num_labels: int) -> torch.nn.Module:
    """transformers' ``ViTForImageClassification`` of the timm ViT's size, with the same stem.

    A timm convolutional stem (``HybridEmbed``) replaces the transformers patch projection (a copy of
    the stem's convolutions, whose (N, D, h, w) output the embedding flattens into tokens as it does
    the projection's), so that both models make the same tokens from the same convolutions.
    """
    from timm.layers import HybridEmbed
    from transformers import ViTConfig, ViTForImageClassification

    hf_config = ViTConfig(
        **_backbone_dims(backbone),
        num_labels=num_labels,
        layer_norm_eps=1e-6,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    hf_config._attn_implementation = "sdpa"
    hf_model = ViTForImageClassification(hf_config)
    if isinstance(backbone.patch_embed, HybridEmbed):
        stem = _StemProjection(
            copy.deepcopy(backbone.patch_embed.backbone), copy.deepcopy(backbone.patch_embed.proj)
        )
        hf_model.vit.embeddings.patch_embeddings.projection = stem
    return hf_model


class _PooledClassifier(torch.nn.Module):
    """A timm backbone + linear head: the baselines' classifier on pooled backbone features."""

    def __init__(self, backbone, num_labels: int):
        super().__init__()
        self.backbone = backbone
        self.head = torch.nn.Linear(backbone.num_features, num_labels)

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_head(self.backbone.forward_features(images), pre_logits=True)


def baseline_models(config) -> dict[str, torch.nn.Module]:
    """The training-step baselines of a ``GravityViTConfig``, each with the model's own backbone.

    ``timm_loop_per_view`` and ``timm_one_call_b4`` hold a backbone built by
    ``create_config_backbone``, the function ``GravityViTModel`` builds its backbone with (the
    convolutional stem included), so the baselines cannot drift from the model; ``hf_vit_b4`` is
    transformers' ViT of the same size with the same stem (``hf_vit_like``).
    """
    from gravityvit.modeling_backbone import create_config_backbone

    num_labels = config.num_labels
    one_call = _PooledClassifier(create_config_backbone(config), num_labels)
    return {
        "timm_loop_per_view": _PooledClassifier(create_config_backbone(config), num_labels),
        "hf_vit_b4": hf_vit_like(one_call.backbone, num_labels),
        "timm_one_call_b4": one_call,
    }


def make_train_steps(profile: Profile, seed: int = 0) -> tuple[dict[str, Callable[[], float]], str]:
    """One training step per case, on the same batch of B samples x 4 views; and a model description.

    Cases: ``gravityvit`` (the model with its loss), ``timm_loop_per_view`` (4 backbone calls of B
    images, mean of the pooled views, linear head), ``hf_vit_b4`` (``ViTForImageClassification`` of
    the same size on the B*4 images, labels repeated), ``timm_one_call_b4`` (one backbone call on
    the B*4 images, linear head: the cost of the backbone alone).
    """
    model, processor = build_model(profile, seed)
    config = model.config
    views, labels_np = random_views(profile.train_batch, seed)
    features = processor.preprocess_views(views)
    pixel_values, view_mask = features["pixel_values"], features["view_mask"]
    labels = torch.as_tensor(labels_np)
    flat_pixels = pixel_values.flatten(0, 1)
    flat_labels = labels.repeat_interleave(NUM_VIEWS)

    torch.manual_seed(seed)
    baselines = baseline_models(config)
    loop_model, hf_model, one_call_model = (
        baselines["timm_loop_per_view"],
        baselines["hf_vit_b4"],
        baselines["timm_one_call_b4"],
    )
    models = {"gravityvit": model, **baselines}
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    for m in models.values():
        m.train()
    cross_entropy = torch.nn.functional.cross_entropy

    def step(name: str, loss_of: Callable[[], torch.Tensor]) -> Callable[[], float]:
        optimizer = optimizers[name]

        def run() -> float:
            loss = loss_of()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return float(loss.detach())

        return run

    def loop_loss() -> torch.Tensor:
        pooled = torch.stack([loop_model.pooled(pixel_values[:, v]) for v in range(NUM_VIEWS)], dim=1)
        return cross_entropy(loop_model.head(pooled.mean(dim=1)), labels)

    steps = {
        "gravityvit": step(
            "gravityvit", lambda: model(pixel_values=pixel_values, view_mask=view_mask, labels=labels).loss
        ),
        "timm_loop_per_view": step("timm_loop_per_view", loop_loss),
        "hf_vit_b4": step("hf_vit_b4", lambda: hf_model(pixel_values=flat_pixels, labels=flat_labels).loss),
        "timm_one_call_b4": step(
            "timm_one_call_b4",
            lambda: cross_entropy(one_call_model.head(one_call_model.pooled(flat_pixels)), flat_labels),
        ),
    }
    return steps, describe_model(model)


def bench_train(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Training-step samples/s of GravityViT and the three baselines (see ``make_train_steps``)."""
    steps, description = make_train_steps(profile)
    timings = time_cases(steps, repeats=profile.repeats, warmup=profile.warmup, clock=CLOCKS[profile.clock])
    batch = profile.train_batch
    rate = {name: batch / t.median_s for name, t in timings.items()}
    context["train_samples_per_s"] = rate["gravityvit"]
    context["model_description"] = description
    note = f"B={batch} samples x 4 views; {description}; {_noise_note(timings)}"
    if profile.clock == "cpu":
        note += "; timed by process CPU time"
    rows = [Row("train step", "gravityvit", rate["gravityvit"], "samples/s", note=note)]
    labels = {
        "timm_loop_per_view": "timm backbone called once per view (4 calls)",
        "hf_vit_b4": "transformers ViTForImageClassification on B*4 views",
        "timm_one_call_b4": "one timm backbone call on B*4 views (goal: gravityvit >= 0.9x)",
    }
    for name, label in labels.items():
        rows.append(
            Row(
                "train step",
                f"gravityvit vs {name}",
                rate["gravityvit"] / rate[name],
                "x speed",
                baseline=f"{label}: {rate[name]:.2f} samples/s",
                ratio=rate["gravityvit"] / rate[name],
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------------------------------


def inference_cases(model, processor, pipe, batch: int) -> dict[str, Callable[[], Any]]:
    """The three ways to classify ``batch`` samples: model call, processor + model, pipeline."""
    from gravityvit.gravity_spy import VIEW_DURATIONS_S

    views, _ = random_views(batch, seed=batch)
    samples = [{duration: views[i, v] for v, duration in enumerate(VIEW_DURATIONS_S)} for i in range(batch)]
    features = processor.preprocess_views(views)

    def model_call() -> None:
        with torch.inference_mode():
            model(pixel_values=features["pixel_values"], view_mask=features["view_mask"])

    def processor_and_model() -> None:
        with torch.inference_mode():
            model(**processor.preprocess_views(views))

    def pipeline_call() -> None:
        pipe(samples if batch > 1 else samples[0], batch_size=batch)

    return {"model": model_call, "processor+model": processor_and_model, "pipeline": pipeline_call}


def bench_inference(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Inference samples/s at a small and a large batch: model call, processor + model, pipeline."""
    from gravityvit.pipelines import GlitchClassificationPipeline

    model, processor = build_model(profile)
    model.eval()
    pipe = GlitchClassificationPipeline(model=model, image_processor=processor, device="cpu")
    rows: list[Row] = []
    for batch in profile.inference_batches:
        cases = inference_cases(model, processor, pipe, batch)
        # Single samples are fast: time several calls per sample so the clock's resolution does not matter.
        inner = max(1, profile.inference_inner // batch)
        timings = time_cases(cases, repeats=profile.repeats, warmup=max(1, profile.warmup), inner=inner)
        rate = {name: batch / t.median_s for name, t in timings.items()}
        note = f"{_noise_note(timings)}; pipeline input: dicts of 4 float views by duration"
        rows.append(Row(f"inference b={batch}", "model call", rate["model"], "samples/s", note=note))
        for direct in ("processor+model", "model"):
            overhead = timings["pipeline"].median_s / timings[direct].median_s - 1.0
            rows.append(
                Row(
                    f"inference b={batch}",
                    f"pipeline overhead over {direct}",
                    100 * overhead,
                    "%",
                    baseline=f"{direct}: {rate[direct]:.2f} samples/s; pipeline {rate['pipeline']:.2f}",
                    ratio=1.0 + overhead,
                    note="goal < 20 %" if direct == "processor+model" else "",
                )
            )
    return rows


def _save_benchmark_model(model: Any, processor: Any, workdir: Path) -> Path:
    """Save ``model`` and ``processor`` as a loadable model directory under ``workdir``."""
    from gravityvit.hub import save_shareable_model

    return save_shareable_model(
        model, workdir / "model", image_processor=processor, model_card="# benchmark\n", with_pipeline=False
    )


def bench_onnx(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Samples/s of ONNX Runtime (the exported model, CPU provider) vs the torch model call, per batch size."""
    from gravityvit.inference.onnx_runtime import OnnxGlitchClassifier, export_onnx

    model, processor = build_model(profile)
    model.eval()
    with tempfile.TemporaryDirectory(prefix="gravityvit_onnx_") as workdir:
        directory = _save_benchmark_model(model, processor, Path(workdir))
        export_onnx(model, directory / "model.onnx")
        onnx_model, _ = OnnxGlitchClassifier.from_pretrained(directory)
    rows: list[Row] = []
    for batch in profile.onnx_batches:
        views, _ = random_views(batch, seed=batch)
        features = processor.preprocess_views(views)
        inputs = {"pixel_values": features["pixel_values"], "view_mask": features["view_mask"]}

        def torch_call(inputs=inputs) -> None:
            with torch.inference_mode():
                model(**inputs)

        cases = {"torch": torch_call, "onnxruntime": lambda inputs=inputs: onnx_model(**inputs)}
        inner = max(1, profile.inference_inner // batch)
        timings = time_cases(cases, repeats=profile.repeats, warmup=max(1, profile.warmup), inner=inner)
        rate = {name: batch / t.median_s for name, t in timings.items()}
        rows.append(
            Row(
                f"onnx b={batch}",
                "ONNX Runtime (CPU provider)",
                rate["onnxruntime"],
                "samples/s",
                baseline=f"torch model call: {rate['torch']:.2f} samples/s",
                ratio=rate["onnxruntime"] / rate["torch"],
                note=f"{_noise_note(timings)}; torch threads {torch.get_num_threads()}, ORT default threads",
            )
        )
    return rows


def _same_predictions(first: Path, second: Path, tolerance: float = 1e-5) -> bool:
    """Whether two prediction CSVs hold the same rows: text fields equal, numbers within ``tolerance``.

    Processes that classify different batches (and use fewer threads each) sum in another order, so
    scores may differ in their last digits.
    """
    import csv

    def rows(path: Path) -> list[list[str]]:
        with path.open(newline="") as handle:
            return list(csv.reader(handle))

    a, b = rows(first), rows(second)
    if len(a) != len(b) or any(len(x) != len(y) for x, y in zip(a, b)):
        return False
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            if u == v:
                continue
            try:
                if abs(float(u) - float(v)) > tolerance:
                    return False
            except ValueError:
                return False
    return True


def bench_bulk_predict(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Wall time of ``gravityvit predict`` on an HDF5 file with N processes vs 1 (the speed-up)."""
    from gravityvit.data.hdf5 import GravitySpySample, write_gravityspy_hdf5
    from gravityvit.gravity_spy import CLASS_NAMES

    model, processor = build_model(profile)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="gravityvit_bulk_") as workdir:
        directory = _save_benchmark_model(model, processor, Path(workdir))
        views, _ = random_views(profile.bulk_samples, seed=3)
        h5_path = Path(workdir) / "triggers.h5"
        write_gravityspy_hdf5(
            h5_path,
            [
                GravitySpySample(f"bulk{i:06d}", CLASS_NAMES[i % len(CLASS_NAMES)], "test", views[i])
                for i in range(profile.bulk_samples)
            ],
        )
        seconds: dict[int, list[float]] = {1: [], profile.bulk_processes: []}
        for round_index in range(max(1, profile.repeats - 2)):
            order = list(seconds) if round_index % 2 == 0 else list(seconds)[::-1]
            for processes in order:
                output = Path(workdir) / f"predictions-{processes}.csv"
                elapsed, code, tail = _run_cli(
                    ["predict", "--model", str(directory), str(h5_path), "--output", str(output),
                     "--batch-size", "16", "--device", "cpu", "--num-processes", str(processes)]
                )  # fmt: skip
                if code != 0:
                    raise RuntimeError(
                        f"gravityvit predict --num-processes {processes} failed ({code}): {tail}"
                    )
                seconds[processes].append(elapsed)
        same = _same_predictions(*(Path(workdir) / f"predictions-{p}.csv" for p in seconds))
    one, several = statistics.median(seconds[1]), statistics.median(seconds[profile.bulk_processes])
    rows.append(
        Row(
            f"bulk predict ({profile.bulk_samples} samples)",
            f"--num-processes {profile.bulk_processes}",
            profile.bulk_samples / several,
            "samples/s",
            baseline=f"1 process: {profile.bulk_samples / one:.2f} samples/s ({one:.1f} s)",
            ratio=one / several,
            note=f"wall time of the command, start-up included; {len(seconds[1])} round(s); "
            f"outputs identical (labels, scores within 1e-5): {same}",
        )
    )
    return rows


# ---------------------------------------------------------------------------------------------------
# Simulation and conversion (also makes the Arrow dataset the later measurements read)
# ---------------------------------------------------------------------------------------------------


def simulate_templates(count: int, seed: int = 0) -> tuple[list[tuple[str, np.ndarray]], float, float]:
    """Simulate ``count`` samples (classes in turn): (label, views) pairs, seconds, strain-only seconds."""
    from gravityvit.data.simulation import simulate_sample, simulate_strain
    from gravityvit.gravity_spy import CLASS_NAMES

    templates = []
    # One untimed sample first: imports (gwpy, scipy) and FFT plans are a one-off cost.
    simulate_sample(CLASS_NAMES[0], seed + count + 1)
    start = time.perf_counter()
    for index in range(count):
        label = CLASS_NAMES[index % len(CLASS_NAMES)]
        views, _ = simulate_sample(label, seed + index)
        templates.append((label, np.asarray(views, dtype=np.float32)))
    simulate_s = time.perf_counter() - start
    start = time.perf_counter()
    for index in range(count):
        simulate_strain(CLASS_NAMES[index % len(CLASS_NAMES)], seed + index)
    strain_s = time.perf_counter() - start
    return templates, simulate_s, strain_s


def omega_scan_inputs(count: int, seed: int = 0) -> dict[str, list[tuple[Any, float, float]]]:
    """Strain segments for the Omega-scan benchmark: ``{kind: [(strain, gps, data_span_s), ...]}``.

    ``simulated``: ``count`` simulated 8 s, 8192 Hz segments (classes in turn); ``real-format``:
    64 s of 16384 Hz Gaussian noise with a loud sine-Gaussian, the length and rate of a GWOSC
    segment around a Gravity Spy trigger.
    """
    from gwpy.timeseries import TimeSeries

    from gravityvit.data.simulation import simulate_strain
    from gravityvit.gravity_spy import CLASS_NAMES

    simulated = []
    for index in range(count):
        strain, gps, _ = simulate_strain(CLASS_NAMES[(5 * index) % len(CLASS_NAMES)], seed + index)
        simulated.append((strain, gps, 8.0))
    rate, duration, gps = 16384, 64.0, 1_000_000_032.0
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * duration)) / rate - duration / 2
    width = 8.0 / (2 * np.sqrt(2) * np.pi * 180.0)
    signal = 40.0 * np.exp(-(t**2) / (2 * width**2)) * np.sin(2 * np.pi * 180.0 * t)
    real = TimeSeries(rng.standard_normal(t.size) + signal, sample_rate=rate, t0=gps - duration / 2)
    return {"simulated": simulated, "real-format": [(real, gps, 64.0)]}


def bench_omega(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Omega scan (strain -> four views) per sample: the fast backend against the gwpy reference."""
    from gravityvit.data.omega import omega_scan_views

    rows = []
    count = max(1, profile.simulate_samples // 11)
    for kind, segments in omega_scan_inputs(count).items():
        views = {}

        def scan_all(backend: str, segments=segments, views=views) -> None:
            views[backend] = [
                omega_scan_views(s, gps, data_span_s=span, backend=backend) for s, gps, span in segments
            ]

        timings = time_cases(
            {backend: functools.partial(scan_all, backend) for backend in ("gwpy", "fast")},
            repeats=profile.repeats,
            warmup=max(1, profile.warmup),
            clock=time.process_time,
        )
        difference = max(float(np.abs(a - b).max()) for a, b in zip(views["gwpy"], views["fast"]))
        strain = segments[0][0]
        fast_s = timings["fast"].median_s / len(segments)
        gwpy_s = timings["gwpy"].median_s / len(segments)
        rows.append(
            Row(
                "omega",
                f"Omega scan, {kind} strain ({strain.duration.value:g} s at {strain.sample_rate.value:g} Hz), fast backend",
                1000 * fast_s,
                "CPU ms/sample",
                baseline=f"gwpy backend: {1000 * gwpy_s:.0f} CPU ms/sample",
                ratio=gwpy_s / fast_s,
                note=f"{len(segments)} segment(s), 1 process; max view difference {difference:.4f}; "
                f"{_noise_note(timings)}; goal ratio >= 3",
            )
        )
    return rows


def write_tiled_hdf5(
    path: Path, templates: Sequence[tuple[str, np.ndarray]], train_samples: int, seed: int = 0
) -> int:
    """Write an HDF5 file of ``train_samples`` train samples (plus one validation and test pass).

    Sample i is template ``i % len(templates)`` shifted by a few columns in time, so the file is as
    large and as compressible as a simulated one of that size without simulating every sample.
    """
    from gravityvit.data.hdf5 import GravitySpySample, write_gravityspy_hdf5

    rng = np.random.default_rng(seed)
    counts = {"train": train_samples, "validation": len(templates), "test": len(templates)}

    def samples():
        for split, count in counts.items():
            for index in range(count):
                label, views = templates[index % len(templates)]
                shift = int(rng.integers(-4, 5))
                yield GravitySpySample(
                    gravityspy_id=f"{split[:2]}{index:07d}",
                    label=label,
                    sample_type=split,
                    views=np.roll(views, shift, axis=-1),
                    ifo="H1" if index % 2 else "L1",
                )

    return write_gravityspy_hdf5(path, samples())


def directory_bytes(path: Path) -> int:
    """Total size in bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def _run_cli(args: Sequence[str], timeout_s: float = 900) -> tuple[float, int, str]:
    """Run ``python -m gravityvit.cli ARGS``; return (seconds, exit code, last stderr line)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gravityvit.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
        cwd=REPO_ROOT,
    )
    tail = (done.stderr.strip().splitlines() or [""])[-1][:200]
    return time.perf_counter() - start, done.returncode, tail


# What the start-up cases run, each in a fresh interpreter: ``python ARGS``.
STARTUP_CASES: dict[str, tuple[str, ...]] = {
    "python -c pass": ("-c", "pass"),
    "import gravityvit": ("-c", "import gravityvit"),
    "gravityvit --help": ("-m", "gravityvit.cli", "--help"),
    "gravityvit predict (argument error)": ("-m", "gravityvit.cli", "predict"),
}
# What a command that runs a model imports: torch, timm, transformers and the model classes.
STARTUP_MODEL_IMPORT: tuple[str, ...] = (
    "-c",
    "import gravityvit; gravityvit.GravityViTForGlitchClassification",
)
# The argument error exits with status 2 (argparse's usage error); the other cases with 0.
STARTUP_EXIT_CODES: dict[str, int] = {"gravityvit predict (argument error)": 2}


def _run_python(args: Sequence[str], expected_code: int) -> None:
    done = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=REPO_ROOT,
        timeout=900,
    )
    if done.returncode != expected_code:
        tail = (done.stderr.strip().splitlines() or [""])[-1][:200]
        raise RuntimeError(f"python {' '.join(args)} exited with {done.returncode}: {tail}")


def bench_startup(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Start-up wall time of the command line and of ``import gravityvit`` against a bare interpreter."""
    cases = dict(STARTUP_CASES)
    if profile.startup_model_import:
        cases["import the model classes"] = STARTUP_MODEL_IMPORT
    runs = {
        name: functools.partial(_run_python, args, STARTUP_EXIT_CODES.get(name, 0))
        for name, args in cases.items()
    }
    timings = time_cases(runs, repeats=profile.repeats, warmup=profile.warmup)
    baseline = timings.pop("python -c pass").median_s
    rows = []
    for name, timing in timings.items():
        rows.append(
            Row(
                "startup",
                name,
                timing.median_s,
                "s",
                baseline=f"python -c pass: {baseline:.3f} s",
                ratio=timing.median_s / baseline,
                note=f"wall, fresh interpreter; {_noise_note({name: timing})}; ratio = x the bare interpreter",
            )
        )
    return rows


def bench_simulate_convert(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Simulator and converter samples/s (API and CLI); leaves the Arrow dataset in ``context``."""
    from gravityvit.data.arrow import convert_to_arrow
    from gravityvit.data.hdf5 import GravitySpyHDF5Reader

    workdir = Path(context["workdir"])
    templates, simulate_s, strain_s = simulate_templates(profile.simulate_samples)
    count = len(templates)
    rows = [
        Row(
            "simulate",
            "simulate_sample (API)",
            count / simulate_s,
            "samples/s",
            baseline=f"strain only (no Omega scan): {count / strain_s:.1f} samples/s",
            ratio=strain_s / simulate_s,
            note=f"{count} samples, 1 process; Omega scan = {100 * (1 - strain_s / simulate_s):.0f} % of the time; "
            "goal >= 10 samples/s",
        )
    ]
    h5_path = workdir / "tiled.h5"
    write_tiled_hdf5(h5_path, templates, profile.dataset_samples)
    total = profile.dataset_samples + 2 * count
    with GravitySpyHDF5Reader(h5_path) as reader:
        start = time.perf_counter()
        for _ in reader:
            pass
        read_s = time.perf_counter() - start
    arrow_dir = workdir / "arrow"
    start = time.perf_counter()
    convert_to_arrow(h5_path, arrow_dir, num_proc=1)
    convert_s = time.perf_counter() - start
    context.update(
        arrow_dir=str(arrow_dir),
        arrow_bytes=directory_bytes(arrow_dir),
        hdf5_bytes=h5_path.stat().st_size,
        dataset_samples=total,
    )
    rows.append(
        Row(
            "convert",
            "convert_to_arrow (API, num_proc=1)",
            total / convert_s,
            "samples/s",
            baseline=f"reading the HDF5 file: {total / read_s:.0f} samples/s",
            ratio=read_s / convert_s,
            note=f"{total} samples, HDF5 {h5_path.stat().st_size / 2**20:.0f} MiB -> Arrow "
            f"{context['arrow_bytes'] / 2**20:.0f} MiB (16-bit PNG); 8.5k samples would take "
            f"{8500 / (total / convert_s) / 60:.1f} min",
        )
    )
    rows.extend(_cli_rows(workdir, total / convert_s, count / simulate_s))
    return rows


def _cli_rows(workdir: Path, convert_rate: float, simulate_rate: float) -> list[Row]:
    """``gravityvit simulate`` and ``gravityvit convert`` wall times, start-up included."""
    rows = []
    sim_h5 = workdir / "cli_sim.h5"
    per_class = 1
    seconds, code, tail = _run_cli(
        ["simulate", "--output", str(sim_h5), "--samples-per-class", str(per_class), "--seed", "0"]
    )
    if code != 0:
        return [Row("simulate", "gravityvit simulate (CLI)", float("nan"), "", note=f"failed: {tail}")]
    rows.append(
        Row(
            "simulate",
            "gravityvit simulate (CLI, wall incl. start-up)",
            22 * per_class / seconds,
            "samples/s",
            baseline=f"API: {simulate_rate:.1f} samples/s",
            ratio=22 * per_class / seconds / simulate_rate,
            note="22 samples, one process",
        )
    )
    count = 22
    seconds, code, tail = _run_cli(["convert", "--hdf5", str(sim_h5), "--output", str(workdir / "cli_arrow")])
    if code != 0:
        return [*rows, Row("convert", "gravityvit convert (CLI)", float("nan"), "", note=f"failed: {tail}")]
    rows.append(
        Row(
            "convert",
            "gravityvit convert (CLI, wall incl. start-up)",
            count / seconds,
            "samples/s",
            baseline=f"API: {convert_rate:.1f} samples/s",
            ratio=count / seconds / convert_rate,
            note=f"{count} samples: start-up dominates",
        )
    )
    return rows


def ensure_dataset(profile: Profile, context: dict[str, Any]) -> Path:
    """The Arrow dataset of this run, made (with simulate/convert timings) when not made yet."""
    if "arrow_dir" not in context and context.get("dataset"):  # --dataset: reuse a converted dataset
        arrow_dir = Path(context["dataset"])
        context.update(
            arrow_dir=str(arrow_dir),
            arrow_bytes=directory_bytes(arrow_dir),
            dataset_samples=sum(len(split) for split in _load_dataset(arrow_dir).values()),
        )
    if "arrow_dir" not in context:
        context.setdefault("pending_rows", []).extend(bench_simulate_convert(profile, context))
    return Path(context["arrow_dir"])


# ---------------------------------------------------------------------------------------------------
# Data path
# ---------------------------------------------------------------------------------------------------


def _load_dataset(arrow_dir: Path):
    from gravityvit.training.data import load_glitch_dataset

    return load_glitch_dataset(arrow_dir)


def _train_split(arrow_dir: Path, samples: int | None = None):
    split = _load_dataset(arrow_dir)["train"]
    return split.select(range(min(samples, len(split)))) if samples else split


def bench_data(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Arrow -> pixel_values samples/s through the training data path, by DataLoader workers and stage."""
    from torch.utils.data import DataLoader

    from gravityvit.gravity_spy import VIEW_DURATIONS_S
    from gravityvit.training.augmentation import SpectrogramAugmentation
    from gravityvit.training.data import GlitchCollator, GlitchViewsTransform, prepare_split

    arrow_dir = ensure_dataset(profile, context)
    _, processor = build_model(profile)
    split = _train_split(arrow_dir, profile.loader_samples)
    augmentation = SpectrogramAugmentation(view_durations_s=VIEW_DURATIONS_S)
    prepared = prepare_split(split, VIEW_DURATIONS_S, augmentation=augmentation)
    collator = GlitchCollator(processor)
    batch = profile.loader_batch

    def epoch(workers: int) -> Callable[[], int]:
        def run() -> int:
            loader = DataLoader(
                prepared, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collator
            )
            return sum(len(b["labels"]) for b in loader)

        return run

    cases = {f"workers={w}": epoch(w) for w in profile.loader_workers}
    timings = time_cases(cases, repeats=max(1, profile.repeats // 2), warmup=0)
    n = len(split)
    rate = {name: n / t.median_s for name, t in timings.items()}
    train_rate = context.get("train_samples_per_s")
    rows = []
    for w in profile.loader_workers:
        name = f"workers={w}"
        per_worker = f"; {rate[name] / w:.1f} samples/s per worker" if w else ""
        rows.append(
            Row(
                "data path",
                f"Arrow -> pixel_values, num_workers={w}",
                rate[name],
                "samples/s",
                baseline=f"training step consumes {train_rate:.1f} samples/s" if train_rate else "",
                ratio=rate[name] / train_rate if train_rate else None,
                note=f"epoch of {n} samples incl. worker start-up, batch {batch}{per_worker}",
            )
        )
    # Per-stage cost in this process: Arrow read, PNG decode, augmentation, collation (resize + normalise).
    indices = list(range(min(batch, n)))
    plain = GlitchViewsTransform(VIEW_DURATIONS_S)
    augmenting = GlitchViewsTransform(VIEW_DURATIONS_S, augmentation=augmentation, seed=0)
    rows_of_batch = split[indices]
    transformed = plain(rows_of_batch)
    examples = [{k: transformed[k][i] for k in ("views", "view_mask", "labels")} for i in range(len(indices))]
    stage_cases = {
        "read": lambda: split[indices],
        "read+decode": lambda: plain(split[indices]),
        "read+decode+augment": lambda: augmenting(split[indices]),
        "collate": lambda: collator(examples),
    }
    stages = time_cases(stage_cases, repeats=profile.repeats, warmup=1)
    per_sample_ms = {name: 1000 * t.median_s / len(indices) for name, t in stages.items()}
    # datasets' Image feature decodes the PNG (PIL load) when a row is read, so "read" includes it.
    stage_ms = {
        "Arrow read + PNG decode (datasets Image)": per_sample_ms["read"],
        "PIL image -> float view": per_sample_ms["read+decode"] - per_sample_ms["read"],
        "augmentation": per_sample_ms["read+decode+augment"] - per_sample_ms["read+decode"],
        "collate (resize + normalise)": per_sample_ms["collate"],
    }
    total_ms = sum(stage_ms.values())
    context["data_stage_ms"] = stage_ms
    for stage, ms in stage_ms.items():
        rows.append(
            Row(
                "data stages",
                stage,
                ms,
                "ms/sample",
                baseline=f"whole data path {total_ms:.2f} ms/sample",
                ratio=ms / total_ms if total_ms else None,
                note="num_workers=0, batch " + str(len(indices)),
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------------
# Memory (in a subprocess, so that its peak is its own)
# ---------------------------------------------------------------------------------------------------


def _proc_status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (VmHWM, VmRSS, RssAnon, RssFile, VmData); 0 if absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _memory_snapshot() -> dict[str, float]:
    mib = 1024.0
    return {
        "rss_mib": _proc_status_kib("VmRSS") / mib,
        "anon_mib": _proc_status_kib("RssAnon") / mib,
        "file_mib": _proc_status_kib("RssFile") / mib,
        # VmHWM (resettable, see _reset_peak_rss); ru_maxrss where /proc is missing.
        "peak_rss_mib": (_proc_status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        / mib,
    }


def _reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0); False if unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_child(arrow_dir: str, profile_name: str, budget_mib: float | None) -> dict[str, Any]:
    """Train a few steps, then iterate the whole train split through the data path; report memory.

    Runs in its own process (``run.py --memory-child``). With ``budget_mib``, the private data
    memory (RLIMIT_DATA: heap and anonymous mappings; not the read-only memory-mapped Arrow files)
    is capped at what the process used after building the model plus ``budget_mib``, so loading the
    decoded dataset would fail with MemoryError.
    """
    from torch.utils.data import DataLoader

    from gravityvit.gravity_spy import VIEW_DURATIONS_S
    from gravityvit.training.augmentation import SpectrogramAugmentation
    from gravityvit.training.data import GlitchCollator, prepare_split

    profile = PROFILES[profile_name]
    start = _memory_snapshot()
    model, processor = build_model(profile)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    split = _train_split(Path(arrow_dir))
    prepared = prepare_split(split, VIEW_DURATIONS_S, augmentation=SpectrogramAugmentation())
    loader = DataLoader(
        prepared, batch_size=profile.loader_batch, shuffle=True, collate_fn=GlitchCollator(processor)
    )
    set_up = _memory_snapshot()
    # Reset the peak (VmHWM) so that it measures the work, not the imports (torch's libraries alone
    # map ~0.5 GiB and briefly more while loading).
    peak_reset = _reset_peak_rss()
    model.train()
    for _, batch in zip(range(profile.memory_steps), loader):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    after_steps = _memory_snapshot()
    # The limit comes after the training steps: their activations depend on the batch, not on the
    # dataset; what must not grow with the dataset is the pass over it.
    limit_note = "none"
    if budget_mib is not None:
        data_kib = _proc_status_kib("VmData")
        limit = int((data_kib / 1024.0 + budget_mib) * 2**20)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
        limit_note = f"full pass under RLIMIT_DATA = VmData after the steps ({data_kib / 1024:.0f} MiB) + {budget_mib:.0f} MiB"
    _reset_peak_rss()
    seen = 0
    try:
        for batch in loader:
            seen += len(batch["labels"])
        error = ""
    except (MemoryError, RuntimeError) as exc:  # torch reports a failed allocation as RuntimeError
        error = f"out of memory after {seen} samples: {' '.join(str(exc).split())[:200]}"
    end = _memory_snapshot()
    return {
        "samples": seen,
        "dataset_samples": len(split),
        "peak_reset": peak_reset,
        "start": start,
        "set_up": set_up,
        "after_steps": after_steps,
        "end": end,
        "limit": limit_note,
        "error": error,
        "pixel_values_bytes_per_sample": int(NUM_VIEWS * 3 * np.prod(processor.image_size_hw) * 4),
    }


def bench_memory(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Peak RSS of training + a full pass over the Arrow dataset, vs the dataset's size (subprocess)."""
    from gravityvit.gravity_spy import VIEW_SHAPE

    arrow_dir = ensure_dataset(profile, context)
    train_samples = len(_train_split(arrow_dir))
    decoded_mib = train_samples * NUM_VIEWS * int(np.prod(VIEW_SHAPE)) * 4 / 2**20
    # The budget: a quarter of the decoded dataset (and no less than a working batch needs).
    budget_mib = max(256.0, decoded_mib / 4)
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(arrow_dir)]
    command += ["--profile", profile.name, "--budget-mib", f"{budget_mib:.0f}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=REPO_ROOT)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or [""])[-1][:300]
        return [
            Row("memory", "training + full pass over Arrow", float("nan"), "", note=f"child failed: {tail}")
        ]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    context["memory"] = result
    pixels_mib = result["dataset_samples"] * result["pixel_values_bytes_per_sample"] / 2**20
    arrow_mib = context["arrow_bytes"] / 2**20
    anon_growth = result["end"]["anon_mib"] - result["after_steps"]["anon_mib"]
    file_growth = result["end"]["file_mib"] - result["after_steps"]["file_mib"]
    note_error = f"; {result['error']}" if result["error"] else ""
    return [
        Row(
            "memory",
            "RSS after imports + model + dataset set-up",
            result["set_up"]["rss_mib"],
            "MiB",
            baseline=f"at start (imports): {result['start']['rss_mib']:.0f} MiB",
            ratio=result["set_up"]["rss_mib"] / result["start"]["rss_mib"],
            note=f"of which file-backed (shared libraries, mapped files) {result['set_up']['file_mib']:.0f} MiB",
        ),
        Row(
            "memory",
            f"peak RSS during {profile.memory_steps} training steps",
            result["after_steps"]["peak_rss_mib"],
            "MiB",
            baseline=f"after set-up: {result['set_up']['rss_mib']:.0f} MiB",
            ratio=result["after_steps"]["peak_rss_mib"] / result["set_up"]["rss_mib"],
            note=f"batch {profile.loader_batch}: activations scale with the batch, not with the dataset",
        ),
        Row(
            "memory",
            "peak RSS during the full pass over the train split",
            result["end"]["peak_rss_mib"],
            "MiB",
            baseline=f"decoded train split {decoded_mib:.0f} MiB (pixel_values {pixels_mib:.0f} MiB), "
            f"Arrow on disk {arrow_mib:.0f} MiB",
            ratio=result["end"]["peak_rss_mib"] / decoded_mib,
            note=("peak reset before the pass; " if result["peak_reset"] else "peak since start; ")
            + f"{result['samples']}/{result['dataset_samples']} samples iterated; {result['limit']}{note_error}",
        ),
        Row(
            "memory",
            "anonymous (private) RSS growth over the full pass",
            anon_growth,
            "MiB",
            baseline=f"decoded train split {decoded_mib:.0f} MiB",
            ratio=anon_growth / decoded_mib,
            note="what loading the dataset would grow; near 0 = nothing accumulates",
        ),
        Row(
            "memory",
            "file-backed RSS growth over the full pass (memory-mapped Arrow)",
            file_growth,
            "MiB",
            baseline=f"Arrow on disk {arrow_mib:.0f} MiB",
            ratio=file_growth / arrow_mib if arrow_mib else None,
            note="page cache mapped read-only: shared, reclaimable by the kernel",
        ),
    ]


# ---------------------------------------------------------------------------------------------------
# Scaling: examples/train.py through accelerate
# ---------------------------------------------------------------------------------------------------


def train_epoch_seconds(
    arrow_dir: Path, profile: Profile, train_samples: int, processes: int, output_dir: Path
) -> tuple[float, float]:
    """Run one epoch of ``examples/train.py`` with ``accelerate launch --cpu``; (train_runtime s, wall s)."""
    launcher = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--cpu",
        "--num_processes",
        str(processes),
    ]
    launcher += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    args = [
        str(REPO_ROOT / "examples" / "train.py"),
        "--dataset", str(arrow_dir),
        "--model", profile.model,
        "--config_overrides", json.dumps(config_overrides(profile)),
        "--output_dir", str(output_dir),
        "--max_train_samples", str(train_samples),
        "--max_eval_samples", "8",
        "--num_train_epochs", "1",
        "--per_device_train_batch_size", str(profile.loader_batch),
        "--warmup_epochs", "0",
        "--eval_strategy", "no",
        "--save_strategy", "no",
        "--load_best_model_at_end", "false",
        "--early_stopping_patience", "0",
        "--evaluate_test", "false",
        "--report_to", "none",
        "--dataloader_num_workers", "0",
        "--disable_tqdm", "true",
        "--use_cpu",
        "--seed", "0",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    start = time.perf_counter()
    done = subprocess.run(
        [*launcher, *args], capture_output=True, text=True, timeout=3600, env=env, cwd=REPO_ROOT
    )
    wall_s = time.perf_counter() - start
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        errors = [line for line in lines if "Error" in line and "CalledProcessError" not in line]
        tail = (errors or lines or [""])[-1]
        raise RuntimeError(
            f"examples/train.py failed ({processes} process(es), {train_samples} samples):\n{tail}"
        )
    metrics = json.loads((output_dir / "train_results.json").read_text())
    return float(metrics["train_runtime"]), wall_s


def bench_scaling(profile: Profile, context: dict[str, Any]) -> list[Row]:
    """Epoch time of examples/train.py vs dataset size (1 process) and vs 1 / 2 CPU processes."""
    arrow_dir = ensure_dataset(profile, context)
    workdir = Path(context["workdir"])
    runs: dict[tuple[int, int], tuple[float, float]] = {}
    largest = max(profile.scaling_sizes)
    plan = [(size, 1) for size in profile.scaling_sizes]
    plan += [(largest, p) for p in profile.scaling_processes if p != 1]
    rows = []
    for size, processes in plan:
        try:
            runs[(size, processes)] = train_epoch_seconds(
                arrow_dir, profile, size, processes, workdir / f"scaling_{size}_{processes}"
            )
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            # One failed launch (e.g. gloo unavailable) must not lose the other measurements.
            note = " ".join(str(error).split())[-300:]
            rows.append(
                Row(
                    "scaling",
                    f"epoch of {size} samples, {processes} process(es)",
                    float("nan"),
                    "s",
                    note=note,
                )
            )
    smallest = min(profile.scaling_sizes)
    if (smallest, 1) not in runs:
        return rows
    base_s = runs[(smallest, 1)][0]
    for (size, processes), (seconds, wall_s) in runs.items():
        if processes == 1:
            rows.append(
                Row(
                    "scaling",
                    f"epoch of {size} samples, 1 process",
                    seconds,
                    "s",
                    baseline=f"{smallest} samples: {base_s:.1f} s (size ratio {size / smallest:.1f})",
                    ratio=seconds / base_s,
                    note=f"{size / seconds:.1f} samples/s; wall incl. start-up {wall_s:.0f} s",
                )
            )
        else:
            if (size, 1) not in runs:
                continue
            one_s = runs[(size, 1)][0]
            rows.append(
                Row(
                    "scaling",
                    f"epoch of {size} samples, {processes} processes",
                    seconds,
                    "s",
                    baseline=f"1 process: {one_s:.1f} s",
                    ratio=one_s / seconds,
                    note=f"speed-up {one_s / seconds:.2f}x on {os.cpu_count()} cores (gloo); "
                    f"wall incl. start-up {wall_s:.0f} s",
                )
            )
    return rows


# ---------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------

MEASUREMENTS: dict[str, Callable[[Profile, dict[str, Any]], list[Row]]] = {
    "startup": bench_startup,
    "train": bench_train,
    "inference": bench_inference,
    "onnx": bench_onnx,
    "bulk_predict": bench_bulk_predict,
    "simulate_convert": bench_simulate_convert,
    "omega": bench_omega,
    "data": bench_data,
    "memory": bench_memory,
    "scaling": bench_scaling,
}


def machine_description() -> dict[str, Any]:
    """CPU model, core count, load, torch threads and versions."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import timm
    import transformers

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "transformers": transformers.__version__,
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def run_benchmarks(
    profile: Profile,
    only: Sequence[str] | None = None,
    workdir: str | os.PathLike | None = None,
    strict: bool = False,
    dataset: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Run the measurements (all, or ``only``) and return ``{"machine", "profile", "rows", "context"}``.

    A measurement that raises becomes a ``failed`` row naming the error (``strict=True`` re-raises).
    ``dataset`` reuses a converted Arrow dataset for ``data``, ``memory`` and ``scaling`` instead of
    simulating and converting one.
    """
    selected = list(only or MEASUREMENTS)
    unknown = sorted(set(selected) - set(MEASUREMENTS))
    if unknown:
        raise ValueError(f"unknown measurement(s) {unknown}; available: {list(MEASUREMENTS)}")
    owned = workdir is None
    directory = Path(workdir or tempfile.mkdtemp(prefix="gravityvit_bench_"))
    context: dict[str, Any] = {"workdir": str(directory), "dataset": str(dataset) if dataset else None}
    rows: list[Row] = []
    load_before = os.getloadavg()
    try:
        for name in MEASUREMENTS:
            if name not in selected:
                continue
            started = time.perf_counter()
            try:
                new_rows = MEASUREMENTS[name](profile, context)
            # One broken stage must not lose the other stages' figures.
            except Exception as error:
                if strict:
                    raise
                message = " ".join(f"{type(error).__name__}: {error}".split())[:300]
                new_rows = [Row(name, "failed", float("nan"), "", note=message)]
            rows.extend(context.pop("pending_rows", []))
            rows.extend(new_rows)
            print(f"[{name}] done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    finally:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
    machine = machine_description()
    machine["load_average_before"] = load_before
    context.pop("workdir", None)
    return {
        "machine": machine,
        "profile": dataclasses.asdict(profile),
        "rows": [dataclasses.asdict(row) for row in rows],
        "context": context,
    }


def _format(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def markdown_table(results: Mapping[str, Any]) -> str:
    """The results as a markdown table, preceded by the machine and the profile."""
    machine = results["machine"]
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} cores (torch threads {machine['torch_threads']}), "
        f"load average {machine['load_average_before'][0]:.1f} at start / {machine['load_average'][0]:.1f} at end; "
        f"torch {machine['torch']}, timm {machine['timm']}, transformers {machine['transformers']}; "
        f"{machine['date_utc']}; profile {results['profile']['name']}.",
        "",
        "| Section | Case | Value | Unit | Baseline (same run) | Ratio | Note |",
        "|---|---|---:|---|---|---:|---|",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['section']} | {row['case']} | {_format(row['value'])} | {row['unit']} | "
            f"{row['baseline']} | {_format(row['ratio'])} | {row['note']} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="Smaller model and data (a few minutes on 2 cores)."
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), help="Explicit profile (overrides --quick).")
    parser.add_argument("--output", type=Path, help="Write the raw results as JSON here.")
    parser.add_argument("--only", help=f"Comma-separated subset of {','.join(MEASUREMENTS)}.")
    parser.add_argument("--workdir", type=Path, help="Keep the generated data here (default: a temp dir).")
    parser.add_argument("--dataset", type=Path, help="Reuse this converted Arrow dataset (skips making one).")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice).")
    parser.add_argument("--repeats", type=int, help="Timed repeats per case (default: the profile's).")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="Time the train steps by wall time or by the process's CPU time (needs --threads 1): on "
        "cores shared with other jobs the CPU time of one thread leaves out the waits for a core.",
    )
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--budget-mib", type=float, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    profile = PROFILES[args.profile or ("quick" if args.quick else "full")]
    if args.repeats:
        profile = dataclasses.replace(profile, repeats=args.repeats)
    if args.clock == "cpu" and args.threads != 1:
        # With several threads the process CPU time adds the threads up (and their spin-waits).
        raise SystemExit("--clock cpu needs --threads 1")
    profile = dataclasses.replace(profile, clock=args.clock)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, profile.name, args.budget_mib)))
        return 0
    only = [name.strip() for name in args.only.split(",")] if args.only else None
    results = run_benchmarks(profile, only, args.workdir, dataset=args.dataset)
    print(markdown_table(results))
    if args.output:
        from gravityvit.file_utils import OutputKind, atomic_path, is_json_document

        # Replaces only an earlier JSON results file.
        with atomic_path(args.output, kind=OutputKind("results JSON", recognise=is_json_document)) as path:
            Path(path).write_text(json.dumps(results, indent=2, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
