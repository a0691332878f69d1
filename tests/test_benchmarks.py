"""Smoke tests of the benchmark functions at tiny sizes: structure and positivity, no timed assertions."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gravityvit.gravity_spy import CLASS_NAMES, VIEW_SHAPE

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """Import benchmarks/<name>.py (the folder is not a package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load("run")
gpu_bench = _load("gpu_bench")
TINY = bench.PROFILES["tiny"]


def _check_rows(rows, sections: set[str]) -> None:
    assert rows, "a measurement returned no rows"
    assert {row.section for row in rows} <= sections
    for row in rows:
        assert row.case and row.unit, row
        assert math.isfinite(row.value), row
        if row.ratio is not None:
            assert math.isfinite(row.ratio) and row.ratio > 0, row


@pytest.fixture(scope="module")
def tiny_arrow(tmp_path_factory) -> Path:
    """An Arrow dataset of 8 train samples tiled from 4 synthetic templates (no simulator: seconds)."""
    from gravityvit.data.arrow import convert_to_arrow

    directory = tmp_path_factory.mktemp("bench_data")
    rng = np.random.default_rng(0)
    templates = [
        (CLASS_NAMES[i], rng.uniform(0, 1, size=(4, *VIEW_SHAPE)).astype(np.float32)) for i in range(4)
    ]
    h5_path = directory / "tiled.h5"
    assert bench.write_tiled_hdf5(h5_path, templates, TINY.dataset_samples) == TINY.dataset_samples + 8
    convert_to_arrow(h5_path, directory / "arrow", num_proc=1)
    assert bench.directory_bytes(directory / "arrow") > 0
    return directory / "arrow"


def test_time_cases_interleaves_and_takes_medians():
    calls: list[str] = []
    timings = bench.time_cases(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1, inner=2
    )
    assert calls[:2] == ["a", "b"]  # warm-up
    assert calls[2:6] == ["a", "a", "b", "b"] and calls[6:10] == ["b", "b", "a", "a"]  # rotated rounds
    for timing in timings.values():
        assert len(timing.times_s) == 3 and timing.median_s >= 0 and timing.spread >= 0


def test_train_step_rows_compare_against_three_baselines():
    context: dict = {}
    rows = bench.bench_train(TINY, context)
    _check_rows(rows, {"train step"})
    assert [row.case for row in rows] == [
        "gravityvit",
        "gravityvit vs timm_loop_per_view",
        "gravityvit vs hf_vit_b4",
        "gravityvit vs timm_one_call_b4",
    ]
    assert context["train_samples_per_s"] > 0 and "depth 1" in context["model_description"]


def test_train_baselines_have_the_model_backbone_with_its_convolutional_stem():
    from gravityvit import GravityViTForGlitchClassification, get_named_config

    config = get_named_config(
        "gravityvit/multiview-demo",
        image_size=32,
        backbone_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2},
        conv_stem_channels=[8, 16, 32],
        fusion_num_heads=2,
        head_hidden_size=32,
    )
    model = GravityViTForGlitchClassification(config)
    expected = {name: tuple(value.shape) for name, value in model.gravityvit.backbone.state_dict().items()}
    baselines = bench.baseline_models(config)
    assert set(baselines) == {"timm_loop_per_view", "hf_vit_b4", "timm_one_call_b4"}
    for name in ("timm_loop_per_view", "timm_one_call_b4"):
        shapes = {key: tuple(value.shape) for key, value in baselines[name].backbone.state_dict().items()}
        assert shapes == expected, name
    # The transformers ViT makes its tokens with the same stem: 4x4 tokens of width 32 from 32x32 pixels.
    hf_model = baselines["hf_vit_b4"]
    stem = hf_model.vit.embeddings.patch_embeddings.projection
    stem_shapes = [tuple(p.shape) for p in stem.parameters()]
    assert stem_shapes == [tuple(p.shape) for p in model.gravityvit.backbone.patch_embed.parameters()]
    pixels = torch.randn(2, 3, 32, 32)
    assert tuple(stem(pixels).shape) == (2, 32, 4, 4)
    assert tuple(hf_model(pixel_values=pixels).logits.shape) == (2, config.num_labels)


def test_onnx_rows_compare_onnx_runtime_with_torch():
    pytest.importorskip("onnxruntime")
    rows = bench.bench_onnx(TINY, {})
    _check_rows(rows, {f"onnx b={b}" for b in TINY.onnx_batches})
    assert all(row.ratio is not None and row.unit == "samples/s" for row in rows)


@pytest.mark.slow
def test_bulk_predict_row_gives_the_speed_up():
    (row,) = bench.bench_bulk_predict(TINY, {})
    _check_rows([row], {f"bulk predict ({TINY.bulk_samples} samples)"})
    assert "outputs identical (labels, scores within 1e-5): True" in row.note


def test_inference_rows_give_rates_and_pipeline_overhead():
    rows = bench.bench_inference(TINY, {})
    _check_rows(rows, {f"inference b={b}" for b in TINY.inference_batches})
    assert sum(row.case == "model call" and row.value > 0 for row in rows) == len(TINY.inference_batches)


def test_data_path_and_memory_child(tiny_arrow):
    context = {"arrow_dir": str(tiny_arrow), "arrow_bytes": bench.directory_bytes(tiny_arrow)}
    context["train_samples_per_s"] = 10.0
    rows = bench.bench_data(TINY, context)
    loader_rows = [row for row in rows if row.section == "data path"]
    assert len(loader_rows) == len(TINY.loader_workers)
    assert all(row.value > 0 and row.ratio > 0 for row in loader_rows)
    assert set(context["data_stage_ms"]) == {
        "Arrow read + PNG decode (datasets Image)",
        "PIL image -> float view",
        "augmentation",
        "collate (resize + normalise)",
    }
    # In-process without a memory limit (the real run uses a subprocess with RLIMIT_DATA).
    memory = bench.memory_child(str(tiny_arrow), "tiny", None)
    assert memory["samples"] == memory["dataset_samples"] == TINY.dataset_samples
    assert memory["error"] == ""
    assert memory["end"]["peak_rss_mib"] >= memory["end"]["rss_mib"] > 0


def test_startup_rows_time_the_command_line_against_a_bare_interpreter():
    rows = bench.bench_startup(TINY, {})
    _check_rows(rows, {"startup"})
    assert [row.case for row in rows] == [name for name in bench.STARTUP_CASES if name != "python -c pass"]
    assert all(row.unit == "s" and row.baseline.startswith("python -c pass: ") for row in rows)


def test_markdown_table_lists_every_row():
    results = {
        "machine": {
            **bench.machine_description(),
            "load_average_before": (1.0, 1.0, 1.0),
        },
        "profile": {"name": "tiny"},
        "rows": [
            {
                "section": "s",
                "case": "c",
                "value": 1.5,
                "unit": "u",
                "baseline": "b",
                "ratio": None,
                "note": "",
            },
            {
                "section": "s",
                "case": "d",
                "value": float("nan"),
                "unit": "",
                "baseline": "",
                "ratio": 2.0,
                "note": "",
            },
        ],
    }
    table = bench.markdown_table(results)
    assert "| s | c | 1.50 | u | b | - |  |" in table and "| s | d | - |" in table


def test_unknown_measurement_is_refused():
    with pytest.raises(ValueError, match="unknown measurement"):
        bench.run_benchmarks(TINY, ["nope"])


@pytest.mark.slow
def test_gpu_bench_dry_run_on_cpu():
    args = gpu_bench.parse_args(["--dry-run", "--max-batch", "2", "--model", "gravityvit/multiview-demo"])
    result = gpu_bench.run(args)
    assert result["flops"]["forward_per_sample_counted"] > 0
    assert result["flops"]["train_step_per_sample"] == 3 * result["flops"]["forward_per_sample_counted"]
    (run_result,) = result["runs"]
    assert run_result["compile"] is False
    assert run_result["train_samples_per_s"] > 0 and run_result["inference_samples_per_s"] > 0
    assert result["largest_train_batch"] == {"batch": 2, "capped_at_max": True, "compile": False}
    assert "Largest training batch" in gpu_bench.markdown(result)


def test_largest_batch_search_finds_the_limit(monkeypatch):
    monkeypatch.setattr(gpu_bench, "fits", lambda build, batch, device, dtype: batch <= 37)
    assert gpu_bench.largest_batch(None, None, None, start=4, cap=1024) == (37, False)
    assert gpu_bench.largest_batch(None, None, None, start=4, cap=16) == (16, True)
    assert gpu_bench.largest_batch(None, None, None, start=64, cap=1024) == (37, False)


def test_analytic_flops_of_vit_b16():
    import timm
    import torch

    with torch.device("meta"):  # dimensions only, no memory
        backbone = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
    # ViT-B/16 at 224: 17.6 G multiply-adds per image = 35.1 GFLOP.
    assert gpu_bench.analytic_vit_forward_flops(backbone) == pytest.approx(35.1e9, rel=0.01)


def test_profile_training_reports_every_phase(tiny_arrow):
    profile_train = _load("profile_train")
    result = profile_train.profile_training(
        tiny_arrow, overrides=bench.TINY_OVERRIDES, steps=1, warmup=0, batch=2, row_limit=5
    )
    assert set(result["phase_s"]) == set(profile_train.PHASES)
    assert all(value > 0 for value in result["phase_s"].values())
    assert result["samples_per_s"] > 0 and 0 < len(result["top_ops"]) <= 5
    assert "| data |" in profile_train.report(result)


def test_omega_rows_compare_the_fast_scan_with_gwpys(monkeypatch):
    inputs = bench.omega_scan_inputs(1)
    assert len(inputs["simulated"]) == 1 and len(inputs["real-format"]) == 1
    real, gps, span = inputs["real-format"][0]
    assert (real.sample_rate.value, real.duration.value, span) == (16384, 64.0, 64.0)
    # The 64 s segment at 16384 Hz costs seconds per scan: measure a 16 s cut of it here.
    short = {"simulated": inputs["simulated"], "real-format": [(real.crop(gps - 8, gps + 8), gps, 16.0)]}
    monkeypatch.setattr(bench, "omega_scan_inputs", lambda count, seed=0: short)
    rows = bench.bench_omega(TINY, {})
    _check_rows(rows, {"omega"})
    assert len(rows) == 2 and all("max view difference" in row.note for row in rows)
