"""benchmarks/sim_to_real.py end to end: a tiny random model on a tiny fake real folder (Kaggle crops and
800x600 renderings, samples with missing durations), then statistics only from the simulation cache."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import save_tiny, write_png_sample
from PIL import Image
from script_helpers import import_script
from transformers import pipeline

import gravityvit.data.simulation
import gravityvit.pipelines
from gravityvit.data import view_statistics as vs
from gravityvit.gravity_spy import KAGGLE_PNG_SIZE

sim_to_real = import_script(
    Path(__file__).resolve().parents[1] / "benchmarks" / "sim_to_real.py", "sim_to_real"
)


def write_kaggle_sample(folder: Path, gravityspy_id: str, durations, seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for duration in durations:
        pixels = rng.integers(0, 256, (KAGGLE_PNG_SIZE[1], KAGGLE_PNG_SIZE[0], 4), dtype=np.uint8)
        pixels[..., 3] = 255
        Image.fromarray(pixels, mode="RGBA").save(folder / f"H1_{gravityspy_id}_spectrogram_{duration}.png")


@pytest.fixture(scope="module")
def real_dirs(tmp_path_factory):
    """kaggle/: a complete Blip, a Blip with only the 4 s view, a Whistle with 0.5 and 1.0 s;
    gravityspy/: one 800x600 Blip."""
    root = tmp_path_factory.mktemp("real")
    kaggle = root / "kaggle"
    write_kaggle_sample(kaggle / "Blip", "aaaaaaaaaa", ("0.5", "1.0", "2.0", "4.0"), seed=1)
    write_kaggle_sample(kaggle / "Blip", "bbbbbbbbbb", ("4.0",), seed=2)
    write_kaggle_sample(kaggle / "Whistle", "cccccccccc", ("0.5", "1.0"), seed=3)
    write_png_sample(root / "gravityspy" / "Blip", "dddddddddd", seed=4)
    return [kaggle, root / "gravityspy"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models") / "tiny", with_pipeline=False)


@pytest.mark.slow
def test_sim_to_real_end_to_end(real_dirs, model_dir, tmp_path, monkeypatch):
    output = tmp_path / "report"
    argv = ["--model", str(model_dir), "--real", *map(str, real_dirs), "--simulated-per-class", "1"]
    report = sim_to_real.main([*argv, "--output", str(output), "--device", "cpu"])

    # Accuracy: the same predictions as the glitch-classification pipeline on the same folders.
    pipe = pipeline("glitch-classification", model=str(model_dir), device="cpu")
    expected = {r["sample_id"]: r for folder in real_dirs for r in pipe(str(folder))}
    predictions = {p["sample_id"]: p for p in report["predictions"]}
    assert set(predictions) == set(expected) == {"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", "dddddddddd"}
    for sample_id, prediction in predictions.items():
        assert prediction["label"] == expected[sample_id]["label"]
        assert prediction["score"] == pytest.approx(expected[sample_id]["score"], abs=1e-5)
    assert predictions["bbbbbbbbbb"]["views"] == ["4.0"] and predictions["cccccccccc"]["views"] == [
        "0.5",
        "1.0",
    ]
    assert predictions["bbbbbbbbbb"]["view_weights"]["0.5"] == 0.0
    right = sum(p["label"] == p["true_label"] for p in report["predictions"])
    accuracy = report["accuracy"]
    assert accuracy["n"] == 4 and accuracy["correct"] == right and accuracy["accuracy"] == right / 4
    assert {c: row["n"] for c, row in accuracy["per_class"].items()} == {"Blip": 3, "Whistle": 1}
    assert {f: row["n"] for f, row in accuracy["per_folder"].items()} == {"kaggle": 3, "gravityspy": 1}
    assert sum(accuracy["confusion"]["Blip"].values()) == 3
    assert accuracy["confusion"]["Whistle"] == {predictions["cccccccccc"]["label"]: 1}
    assert report["simulated_accuracy"]["n"] == 2

    # One duration at a time: the two complete Blips, each classified from each view alone, as the
    # pipeline classifies that view given alone.
    single = report["single_duration"]
    assert set(single) == {"0.5", "1.0", "2.0", "4.0", "all"} and single["all"]["n"] == 8
    for duration in ("0.5", "4.0"):
        alone = [
            pipe(str(folder / "Blip" / f"H1_{sample_id}_spectrogram_{duration}.png"))
            for folder, sample_id in zip(real_dirs, ("aaaaaaaaaa", "dddddddddd"))
        ]
        labels = [(result[0] if isinstance(result, list) else result)["label"] for result in alone]
        assert single[duration]["n"] == 2 and single[duration]["correct"] == labels.count("Blip")
    assert single["all"]["correct"] == sum(single[d]["correct"] for d in ("0.5", "1.0", "2.0", "4.0"))
    for row in (single[d] for d in ("0.5", "1.0", "2.0", "4.0")):
        assert row["correct"] + sum(sum(r.values()) for r in row["confusion"].values()) == row["n"]

    # Figures: every mistake drawn (20 a page), the confusion matrix, real beside simulated views.
    wrong = 4 - right
    assert report["figures"]["mistakes"] == [
        f"mistakes-{i:02d}.png" for i in range(1, math.ceil(wrong / 20) + 1)
    ]
    for name in [*report["figures"]["mistakes"], "confusion.png", "real_vs_simulated.png"]:
        with Image.open(output / name) as image:
            assert image.format == "PNG" and image.size[0] > 100

    # Statistics: both classes x 4 durations x every statistic; real counts per duration.
    rows = report["statistics"]
    assert len(rows) == 2 * 4 * len(vs.STATISTICS)
    assert {(r["class"], r["duration_s"]): r["real_n"] for r in rows if r["statistic"] == "peak"} == {
        ("Blip", 0.5): 2,
        ("Blip", 1.0): 2,
        ("Blip", 2.0): 2,
        ("Blip", 4.0): 3,
        ("Whistle", 0.5): 1,
        ("Whistle", 1.0): 1,
        ("Whistle", 2.0): 0,
        ("Whistle", 4.0): 0,
    }
    assert all(r["simulated_n"] == 1 for r in rows if r["statistic"] == "peak")
    assert json.loads((output / "report.json").read_text())["accuracy"]["correct"] == right
    markdown = (output / "report.md").read_text()
    assert "## Accuracy on the real samples" in markdown and "### Whistle" in markdown
    assert "## One duration at a time" in markdown
    csv_lines = (output / "statistics.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(rows) and csv_lines[0].startswith("class,duration_s,statistic")
    cached = sorted((output / "simulated").rglob("*.npz"))
    assert [p.parent.name for p in cached] == ["Blip", "Whistle"]
    assert report["simulated"]["simulated_now"] == 2

    # Statistics only, from the cache: the simulator is not called again.
    def no_simulation(*args, **kwargs):
        raise AssertionError("the cached samples should have been used")

    monkeypatch.setattr(gravityvit.data.simulation, "simulate_sample", no_simulation)
    again = sim_to_real.main(
        ["--no-model", "--real", *map(str, real_dirs), "--simulated-per-class", "1", "--output", str(output)]
    )
    assert "accuracy" not in again and again["simulated"]["simulated_now"] == 0
    assert again["statistics"] == rows
    assert "statistics only" in (output / "report.md").read_text()
    # The earlier run's model figures are gone with its model; the simulation cache stays.
    assert not list(output.glob("mistakes-*.png")) and not (output / "confusion.png").exists()
    assert sorted((output / "simulated").rglob("*.npz")) == cached


def test_usage_and_foreign_output_are_refused(real_dirs, tmp_path, capsys):
    with pytest.raises(SystemExit):
        sim_to_real.main(["--real", str(real_dirs[0])])  # neither --model nor --no-model
    assert "--no-model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sim_to_real.main(["--no-model", "--classes", "Bleep", "--real", str(real_dirs[0])])
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit, match="holds other files"):
        sim_to_real.main(["--no-model", "--real", str(real_dirs[0]), "--output", str(foreign)])
    assert (foreign / "notes.txt").read_text() == "keep me" and len(list(foreign.iterdir())) == 1


def test_accuracy_summary_counts():
    summary = sim_to_real.accuracy_summary(
        ["Blip", "Blip", "Whistle", "Tomte"], ["Blip", "Tomte", "Blip", "Tomte"], ["a", "b", "a", "a"]
    )
    assert summary["accuracy"] == 0.5 and summary["correct"] == 2
    assert summary["per_class"]["Blip"] == {"n": 2, "correct": 1, "accuracy": 0.5}
    assert summary["confusion"] == {
        "Blip": {"Blip": 1, "Tomte": 1},
        "Tomte": {"Tomte": 1},
        "Whistle": {"Blip": 1},
    }
    assert summary["classes_never_right"] == ["Whistle"]
    assert summary["per_folder"] == {
        "a": {"n": 3, "correct": 2, "accuracy": 2 / 3},
        "b": {"n": 1, "correct": 0, "accuracy": 0.0},
    }
