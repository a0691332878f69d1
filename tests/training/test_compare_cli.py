"""examples/compare_models.py: model variants, tables, the dry run and a tiny end-to-end comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from inference_helpers import write_png_sample
from script_helpers import import_script

from gravityvit.training import comparison as compare

from .conftest import TINY_MODEL, TINY_OVERRIDES

compare_models = import_script(
    Path(__file__).resolve().parents[2] / "examples" / "compare_models.py", "compare_models"
)

TINY_CNN = {"image_size": [32, 48], "conv_channels": [4, 4, 8, 8], "kernel_size": 3, "dense_size": 16}


@pytest.fixture
def tiny_preset(monkeypatch):
    """A preset of the three designs at test size."""
    preset = {
        "GravityViT multi-view": (TINY_MODEL, TINY_OVERRIDES),
        "single-view ViT (1 s)": (
            TINY_MODEL,
            {
                **TINY_OVERRIDES,
                "num_views": 1,
                "view_durations_s": [1.0],
                "fusion": "mean",
                "head_hidden_size": 0,
            },
        ),
        "Gravity Spy CNN (merged view)": ("gravityspy/cnn-baseline", TINY_CNN),
    }
    monkeypatch.setitem(compare.PRESETS, "tiny", preset)
    return preset


def test_image_sizes_round_up_to_whole_tokens():
    assert compare.parse_image_size("112x136") == (112, 136)
    assert compare.parse_image_size("224") == (224, 224)
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        compare.parse_image_size("112 by 136")
    cpu = compare.PRESETS["cpu"]
    variants = compare.with_vit_image_sizes(cpu, [(64, 80), (112, 136), (140, 170)])
    demo = "GravityViT multi-view"
    # The demo's stem makes 16x16-pixel tokens: 112x136 and 140x170 are upsampled to 112x144 and 144x176.
    assert [variants[f"{demo} @ {size}"][1]["image_size"] for size in ("64x80", "112x144", "144x176")] == [
        [64, 80],
        [112, 144],
        [144, 176],
    ]
    assert variants["Gravity Spy CNN (merged view)"] == cpu["Gravity Spy CNN (merged view)"]  # not a ViT
    assert len(variants) == 7
    assert compare.run_directory_name(f"{demo} @ 144x176") == "GravityViT_multi-view_144x176"
    assert compare.run_directory_name("single-view ViT (1 s)") == "single-view_ViT_1_s"


def _run(accuracy: float, macro_f1: float, seed: int = 0) -> dict:
    return {
        "seed": seed,
        "accuracy": accuracy,
        "macro_f1": macro_f1,
        "per_class": {c: {"f1": 0.5} for c in compare.RARE_CLASSES},
        "parameters": 1000,
        "forward_flops_per_sample": 2e6,
        "training_flops": 6e9,
        "train_seconds": 120.0,
        "epochs": 3.0,
        "samples_seen": 1000,
        "inference_samples_per_s": 500.0,
    }


def test_spread_verdicts():
    runs = {
        "a": [_run(0.9, 0.90), _run(0.9, 0.92, 1)],
        "b": [_run(0.8, 0.80), _run(0.8, 0.82, 1)],  # 0.10 below a: beyond std 0.014 + 0.014
        "c": [_run(0.9, 0.89), _run(0.9, 0.91, 1)],  # 0.01 below a: within the spread
    }
    lines = compare.spread_verdicts(runs)
    assert lines[0].startswith("- a vs b: macro-F1 0.910 vs 0.810, +0.100, larger than the spread")
    assert lines[1].startswith("- a vs c: macro-F1 0.910 vs 0.900, +0.010, within the spread")
    assert "one seed" in compare.spread_verdicts({"a": [_run(0.9, 0.9)], "b": [_run(0.8, 0.8)]})[0]


def test_cost_views_and_real_tables():
    runs = {"a": [_run(0.9, 0.9), _run(0.9, 0.9, 1)]}
    cost = compare.cost_table(runs)
    assert "| a | 1 k | 2 M | 6 G | 2.0 ± 0.0 | 3.0 ± 0.0 | 1000 | 500 |" in cost
    views = {
        "1": {"accuracy": 0.5, "subsets_read": 1, "subsets_total": 4},
        "4": {"accuracy": 0.9, "subsets_read": 1, "subsets_total": 1},
    }
    real = {
        "n": 4,
        "correct": 2,
        "accuracy": 0.5,
        "by_view_count": {"1": {"n": 2, "correct": 0}, "4": {"n": 2, "correct": 2}},
    }
    for run in runs["a"]:
        run.update(views=views, real=real)
    assert "| a | 0.500 ± 0.000 (1 of 4 subsets) | 0.900 ± 0.000 |" in compare.views_table(runs)
    assert (
        "| a | 0.500 ± 0.000 (n = 4) | 1.000 ± 0.000 (n = 2) | 0.000 ± 0.000 (n = 2) |"
        in compare.real_table(runs)
    )
    report = compare.comparison_report(runs, "data/x", [0, 1], {"mode": "equal epochs", "date": "today"})
    assert report.startswith("# Model comparison (equal epochs)\n\n- date: today")
    for section in (
        "## Cost",
        "## Accuracy with 1, 2 and 4 durations",
        "## Accuracy on real Gravity Spy samples",
    ):
        assert section in report


@pytest.mark.slow  # builds, counts and steps every model of the preset
def test_dry_run_builds_counts_and_steps_every_model(tiny_preset, tmp_path):
    table = compare_models.main(
        [
            *("--preset", "tiny", "--dry_run", "--train_samples", "1000", "--num_train_epochs", "10"),
            *("--output_dir", str(tmp_path)),
        ]
    )
    results = json.loads((tmp_path / "dry_run.json").read_text())
    assert [r["model"] for r in results] == list(tiny_preset)
    for result in results:
        assert result["parameters"] > 0 and result["forward_flops_per_sample"] > 0
        assert result["training_flops"] == pytest.approx(3 * result["forward_flops_per_sample"] * 10_000)
        assert result["estimated_gpu_hours"] > 0 and result["step_batch_size"] == 2
    assert [r["num_views"] for r in results] == [4, 1, 4]
    assert results[0]["forward_flops_per_sample"] == pytest.approx(
        4 * results[1]["forward_flops_per_sample"], rel=0.1
    )
    assert "1000 training samples x 10 epochs" in table
    assert (tmp_path / "dry_run.md").read_text() == table
    with pytest.raises(SystemExit, match="unknown model"):
        compare_models.main(["--preset", "tiny", "--dry_run", "--models", "nope"])
    with pytest.raises(SystemExit, match="--dataset is required"):
        compare_models.main(["--preset", "tiny", "--output_dir", str(tmp_path / "x")])


@pytest.mark.slow
def test_paper_preset_dry_run(tmp_path):
    """The published sizes build and take a training step on a CPU: ViT-B/16 at 224x224, the CNN at 140x170."""
    compare_models.main(
        ["--preset", "paper", "--dry_run", "--train_samples", "5576", "--output_dir", str(tmp_path)]
    )
    results = {r["named_config"]: r for r in json.loads((tmp_path / "dry_run.json").read_text())}
    assert results["gravityvit/multiview-b16"]["image_size"] == [224, 224]
    assert results["gravityvit/singleview-b16"]["num_views"] == 1
    assert results["gravityspy/cnn-baseline"]["image_size"] == [140, 170]
    # ViT-B/16: about 86 M parameters and 17.6 G multiply-adds per 224x224 image (2 FLOPs each).
    assert 85e6 < results["gravityvit/singleview-b16"]["parameters"] < 88e6
    single = results["gravityvit/singleview-b16"]["forward_flops_per_sample"]
    assert 32e9 < single < 37e9
    assert results["gravityvit/multiview-b16"]["forward_flops_per_sample"] > 4 * single


@pytest.mark.slow
def test_tiny_comparison_end_to_end(tiny_preset, tiny_dataset, tmp_path):
    """Equal-time mode with views and real samples: every number of every run, and the report."""
    real = tmp_path / "real"
    write_png_sample(real / "Blip", "aaaaaaaaaa", seed=1)
    write_png_sample(real / "Whistle", "bbbbbbbbbb", seed=2)
    output = tmp_path / "compare"
    # Two designs keep it short; the single-view model's subsets are covered by test_view_subsets.py.
    models = ["GravityViT multi-view", "Gravity Spy CNN (merged view)"]
    argv = ["--dataset", str(tiny_dataset), "--output_dir", str(output), "--preset", "tiny"]
    argv += ["--seeds", "0", "1", "--models", *models]
    argv += ["--budget_minutes", "0.05", "--views_eval", "--real", str(real)]
    argv += ["--use_cpu", "--report_to", "none", "--disable_tqdm", "true", "--dataloader_num_workers", "0"]
    argv += ["--per_device_train_batch_size", "16", "--learning_rate", "3e-3"]
    report = compare_models.main(argv)
    runs = json.loads((output / "comparison.json").read_text())
    assert list(runs) == models
    for results in runs.values():
        assert [r["seed"] for r in results] == [0, 1]
        for r in results:
            assert r["budget_minutes"] == 0.05 and r["global_step"] >= 1
            assert r["training_flops"] == pytest.approx(3 * r["forward_flops_per_sample"] * r["samples_seen"])
            assert r["parameters"] > 0 and r["inference_samples_per_s"] > 0
            assert set(r["views"]) == {"1", "2", "4"} and r["real"]["n"] == 2
    assert report.startswith("# Model comparison (equal training time)")
    assert (output / "comparison.md").read_text() == report
    for name in runs:
        assert f"| {name} |" in report


def test_real_accuracy_counts_samples_without_the_models_durations_as_wrong(tmp_path):
    # A 1 s single-view model cannot classify a sample that has only the 4 s view: the comparison
    # counts it as wrong (and says so) instead of stopping.
    from inference_helpers import write_kaggle_sample

    from gravityvit.configuration_gravityvit import GravityViTConfig
    from gravityvit.hub import save_shareable_model
    from gravityvit.image_processing_gravityvit import GravityViTImageProcessor
    from gravityvit.inference.real_samples import load_real_samples
    from gravityvit.modeling_gravityvit import GravityViTForGlitchClassification

    config = GravityViTConfig(
        backbone="vit_tiny_patch16_224",
        backbone_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2},
        image_size=32,
        num_views=1,
        view_durations_s=[1.0],
        fusion_num_heads=2,
    )
    model = GravityViTForGlitchClassification(config).eval()
    model_dir = save_shareable_model(
        model, tmp_path / "single", image_processor=GravityViTImageProcessor.from_config(config)
    )
    real = tmp_path / "real"
    write_kaggle_sample(real / "Blip", "aaaaaaaaaa", ("0.5", "1.0", "2.0", "4.0"), seed=1)
    write_kaggle_sample(real / "Blip", "bbbbbbbbbb", ("4.0",), seed=2)
    samples, failures = load_real_samples([real])
    assert not failures and len(samples) == 2

    result = compare.real_accuracy(str(model_dir), samples)
    assert result["n"] == 2 and result["without_model_view"] == 1
    assert result["by_view_count"]["1"] == {"n": 1, "correct": 0, "accuracy": 0.0}
    assert result["correct"] == result["by_view_count"]["4"]["correct"]
    runs = {"single-view ViT (1 s)": [{"real": result}]}
    assert (
        "none of a model's durations count as wrong for it (single-view ViT (1 s): 1)"
        in compare.real_table(runs)
    )
