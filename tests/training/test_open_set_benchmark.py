"""benchmarks/open_set.py at a tiny size: classes left out of a converted dataset, one short training per
left-out class, the AUROC table; and the class subsetting it relies on."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest

from gravityvit.data.class_subset import keep_classes
from gravityvit.gravity_spy import CLASS_NAMES

from .conftest import TINY_MODEL, TINY_OVERRIDES, write_tiny_dataset

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "open_set.py"
CLASSES = CLASS_NAMES[:4]
# examples/train.py arguments for a seconds-long run
TINY_TRAINING = [
    "--model",
    TINY_MODEL,
    "--config_overrides",
    json.dumps(TINY_OVERRIDES),
    "--num_train_epochs",
    "1",
    "--warmup_epochs",
    "0",
    "--disable_tqdm",
    "true",
    "--dataloader_num_workers",
    "0",
]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("open_set_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def four_classes(tmp_path_factory) -> Path:
    per_split = {"train": 3, "validation": 2, "test": 2}
    return write_tiny_dataset(tmp_path_factory.mktemp("four"), per_split=per_split, classes=CLASSES)


def test_keep_classes_relabels_and_names_bad_classes(four_classes):
    dataset = datasets.load_from_disk(str(four_classes))
    kept = keep_classes(dataset, [CLASSES[2], CLASSES[0]], splits=("train",))
    assert kept["train"].features["label"].names == [CLASSES[2], CLASSES[0]]
    assert sorted(kept["train"]["label"]) == [0, 0, 0, 1, 1, 1]
    ids = dict(zip(kept["train"]["gravityspy_id"], kept["train"]["label"]))
    original = dict(zip(dataset["train"]["gravityspy_id"], dataset["train"]["label"]))
    assert all(CLASSES[original[i]] == [CLASSES[2], CLASSES[0]][label] for i, label in ids.items())
    assert len(kept["test"]) == len(dataset["test"])  # other splits unchanged
    with pytest.raises(ValueError, match="no class"):
        keep_classes(dataset["train"], ["Not_A_Class"])


@pytest.mark.slow
def test_open_set_benchmark_tiny_run(four_classes, tmp_path):
    benchmark = _load_benchmark()
    output = tmp_path / "open_set.json"
    results = benchmark.run(
        [
            "--dataset",
            str(four_classes),
            "--held_out",
            CLASSES[0],
            CLASSES[1],
            "--reference",
            "--add_class_examples",
            "2",
            "--work_dir",
            str(tmp_path / "work"),
            "--output",
            str(output),
            "--per_device_eval_batch_size",
            "32",
            *TINY_TRAINING,
        ]
    )
    assert json.loads(output.read_text()) == results
    assert set(results["held_out"]) == {CLASSES[0], CLASSES[1]}
    for name, figures in results["held_out"].items():
        assert 0.0 <= figures["auroc"] <= 1.0
        assert figures["num_unknown"] == 2 and figures["num_known"] == 6
        assert 0.0 <= figures["known_accuracy"] <= 1.0 and 0.0 <= figures["reference_known_accuracy"] <= 1.0
        assert figures["calibration"]["temperature"] > 0
        # The left-out class added back from 2 of its 3 training samples.
        added = figures["add_class"]
        assert added["num_examples"] == 2 and 0.0 <= added["example_recall"] <= 1.0
        assert 0.0 <= added["recall"] <= 1.0 and 0.0 <= added["known_taken"] <= 1.0
        assert 0.0 <= added["known_accuracy"] <= 1.0 and 0.0 <= figures["reference_recall"] <= 1.0
        config = json.loads((tmp_path / "work" / f"without_{name}" / "model" / "config.json").read_text())
        assert name not in config["id2label"].values() and len(config["id2label"]) == len(CLASS_NAMES) - 1
    assert results["mean_auroc"] == pytest.approx(sum(f["auroc"] for f in results["held_out"].values()) / 2)
    table = benchmark.markdown_table(results)
    assert "| added class | examples | recall |" in table
    assert all(f"| {name} | 2 |" in table for name in results["held_out"])


def test_add_class_examples_are_a_seeded_draw_of_the_class(four_classes):
    benchmark = _load_benchmark()
    train = datasets.load_from_disk(str(four_classes))["train"]
    first = benchmark.add_class_examples(train, 1, 2, seed=0)
    assert first == benchmark.add_class_examples(train, 1, 2, seed=0)
    ids = {row["gravityspy_id"] for row in first}
    labels = dict(zip(train["gravityspy_id"], train["label"]))
    assert len(ids) == 2 and all(labels[i] == 1 for i in ids)
    assert all(
        set(row) == {"gravityspy_id", "image_500ms", "image_1000ms", "image_2000ms", "image_4000ms"}
        for row in first
    )
    with pytest.raises(SystemExit, match="has 3 samples"):
        benchmark.add_class_examples(train, 1, 4, seed=0)


def test_open_set_figures_score_each_left_out_class_against_the_known_ones():
    benchmark = _load_benchmark()
    true_names = np.array(["A", "A", "B", "B", "C", "C"])
    scored = {
        # C is left out with B: its samples score high; B's are neither known nor C's positives.
        "scores": np.array([0.1, 0.2, 5.0, 0.0, 0.9, 0.8]),
        "flags": np.array([False, False, True, False, True, False]),
        "predicted_names": np.array(["A", "B", "A", "A", "A", "A"]),
    }
    figures = benchmark.open_set_figures(scored, true_names, "C", ["B", "C"])
    assert figures["auroc"] == 1.0  # B's 5.0 is not among the known samples
    assert figures["num_known"] == 2 and figures["num_unknown"] == 2
    assert figures["known_accuracy"] == 0.5 and figures["unknown_flagged"] == 0.5
    assert figures["left_out_with"] == ["B"]
    alone = benchmark.open_set_figures(scored, true_names, "C", ["C"])
    assert alone["num_known"] == 4 and alone["auroc"] == 0.75 and alone["left_out_with"] == []


@pytest.mark.slow
def test_open_set_benchmark_leaves_classes_out_together(four_classes, tmp_path):
    benchmark = _load_benchmark()
    results = benchmark.run(
        [
            "--dataset",
            str(four_classes),
            "--held_out",
            CLASSES[0],
            CLASSES[1],
            "--leave_out_together",
            "--add_class_examples",
            "2",
            "--work_dir",
            str(tmp_path / "work"),
            *TINY_TRAINING,
        ]
    )
    # One training without both classes; each is scored against the 2 classes the model knows.
    (run_dir,) = (tmp_path / "work").iterdir()
    assert run_dir.name == f"without_{CLASSES[0]}+{CLASSES[1]}"
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert not {CLASSES[0], CLASSES[1]} & set(config["id2label"].values())
    for name, other in ((CLASSES[0], CLASSES[1]), (CLASSES[1], CLASSES[0])):
        figures = results["held_out"][name]
        assert figures["left_out_with"] == [other]
        assert figures["num_unknown"] == 2 and figures["num_known"] == 4
        assert 0.0 <= figures["add_class"]["recall"] <= 1.0 and "reference_recall" not in figures
        # The model's score is the relative Mahalanobis one; the energy AUROC is reported beside it.
        assert figures["unknown_score_method"] == "relative_mahalanobis"
        assert 0.0 <= figures["energy_auroc"] <= 1.0
    assert "AUROC (relative_mahalanobis) | AUROC (energy)" in benchmark.markdown_table(results)

    # --reuse rescores the trained run without training again: the saved model is left as it was.
    weights = run_dir / "model" / "model.safetensors"
    before = (weights.read_bytes(), (run_dir / "model" / "config.json").read_text())
    rescored = benchmark.run(
        [
            "--dataset",
            str(four_classes),
            "--held_out",
            CLASSES[0],
            CLASSES[1],
            "--leave_out_together",
            "--reuse",
            "--add_class_examples",
            "0",
            "--work_dir",
            str(tmp_path / "work"),
            *TINY_TRAINING,
        ]
    )
    assert (weights.read_bytes(), (run_dir / "model" / "config.json").read_text()) == before
    for name, figures in rescored["held_out"].items():
        original = results["held_out"][name]
        # The same model and statistics: the same figures.
        for key in ("auroc", "energy_auroc", "known_accuracy", "unknown_flagged", "known_flagged"):
            assert figures[key] == pytest.approx(original[key], abs=1e-9), key
        assert figures["calibration"]["feature_statistics"]["num_samples"] == 6
