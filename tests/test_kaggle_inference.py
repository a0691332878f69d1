"""Kaggle-format inputs (569x479 crops, ``train|validation|test/<Class>/*.png`` trees, samples with only
some durations) through both pipelines and ``gravityvit predict``: missing views are masked, and each
answer equals a direct processor + model call on the views that are present."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from inference_helpers import direct_prediction, save_tiny, write_kaggle_sample
from PIL import Image
from transformers import pipeline

import gravityvit.pipelines  # noqa: F401  (registers glitch-classification)
from gravityvit.cli import main as cli_main
from gravityvit.gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S, duration_label, png_to_view
from gravityvit.pipelines import expand_inputs

DURATION_LABELS = [duration_label(d) for d in VIEW_DURATIONS_S]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("models") / "tiny", with_pipeline=False)


@pytest.fixture(scope="module")
def glitch_pipe(model_dir):
    return pipeline("glitch-classification", model=str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def kaggle_tree(tmp_path_factory):
    """train/Blip (all four), validation/Whistle (4 s only), test/Koi_Fish (0.5 and 1.0 s)."""
    root = tmp_path_factory.mktemp("kaggle")
    files = {
        "aaaaaaaaaa": write_kaggle_sample(root / "train" / "Blip", "aaaaaaaaaa", DURATION_LABELS, seed=1),
        "bbbbbbbbbb": write_kaggle_sample(root / "validation" / "Whistle", "bbbbbbbbbb", ["4.0"], seed=2),
        "cccccccccc": write_kaggle_sample(root / "test" / "Koi_Fish", "cccccccccc", ["0.5", "1.0"], seed=3),
    }
    return root, files


def _views_of(paths: dict[float, object]) -> dict[float, np.ndarray]:
    return {duration: png_to_view(Image.open(path)) for duration, path in paths.items()}


def _check_result(result, pipe, views: dict[float, np.ndarray]) -> None:
    scores, weights = direct_prediction(pipe.model, pipe.image_processor, views)
    assert result["score"] == pytest.approx(float(scores.max()), abs=1e-5)
    assert result["label"] == pipe.model.config.id2label[int(scores.argmax())]
    got = np.array([result["view_weights"][d] for d in DURATION_LABELS])
    np.testing.assert_allclose(got, weights, atol=1e-5)
    present = np.array([d in views for d in VIEW_DURATIONS_S])
    assert np.all(got[~present] == 0.0) and got[present].sum() == pytest.approx(1.0, abs=1e-5)


def test_glitch_pipeline_on_a_kaggle_tree_masks_missing_views(glitch_pipe, kaggle_tree):
    root, files = kaggle_tree
    samples = list(expand_inputs(str(root)))
    assert {s.sample_id: s.label for s in samples} == {
        "aaaaaaaaaa": "Blip",
        "bbbbbbbbbb": "Whistle",
        "cccccccccc": "Koi_Fish",
    }
    results = {r["sample_id"]: r for r in glitch_pipe(str(root), batch_size=2, top_k=3)}
    assert set(results) == set(files)
    for gravityspy_id, paths in files.items():
        _check_result(results[gravityspy_id], glitch_pipe, _views_of(paths))
    # One lone 4 s PNG given as a path: one sample, its duration from the file name.
    lone = glitch_pipe(str(files["bbbbbbbbbb"][4.0]))
    assert isinstance(lone, dict) and lone["sample_id"] == "bbbbbbbbbb"
    _check_result(lone, glitch_pipe, _views_of(files["bbbbbbbbbb"]))
    # A dict of the present views gives the same answer as the folder.
    as_dict = glitch_pipe(
        {0.5: files["cccccccccc"][0.5], "1.0": Image.open(files["cccccccccc"][1.0])}, top_k=3
    )
    assert [e["label"] for e in as_dict["top_k"]] == [e["label"] for e in results["cccccccccc"]["top_k"]]
    np.testing.assert_allclose(
        [e["score"] for e in as_dict["top_k"]],
        [e["score"] for e in results["cccccccccc"]["top_k"]],
        atol=1e-5,
    )


def test_stock_pipeline_reads_a_kaggle_crop(glitch_pipe, kaggle_tree):
    _, files = kaggle_tree
    stock = pipeline(
        "image-classification", model=glitch_pipe.model, image_processor=glitch_pipe.image_processor
    )
    path = files["aaaaaaaaaa"][1.0]
    result = stock(str(path), top_k=3)
    # The stock pipeline hands the processor an RGB image without its file name: one view in the
    # processor's default (1.0 s) slot, the three others masked.
    view = png_to_view(Image.open(path))
    scores, weights = direct_prediction(glitch_pipe.model, glitch_pipe.image_processor, {1.0: view})
    assert [e["label"] for e in result] == [
        glitch_pipe.model.config.id2label[int(i)] for i in np.argsort(-scores)[:3]
    ]
    np.testing.assert_allclose([e["score"] for e in result], np.sort(scores)[::-1][:3], atol=1e-5)
    assert weights[[0, 2, 3]].sum() == 0.0


def test_predict_on_a_kaggle_tree(model_dir, glitch_pipe, kaggle_tree, tmp_path, capsys):
    root, files = kaggle_tree
    output = tmp_path / "predictions.csv"
    assert (
        cli_main(
            ["predict", str(root), "--model", str(model_dir), "--device", "cpu", "--output", str(output)]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "classified 3 sample(s)" in err and "0 input(s) failed" in err and "on 3 labelled" in err
    rows = {row["sample_id"]: row for row in csv.DictReader(output.open())}
    assert {i: row["true_label"] for i, row in rows.items()} == {
        "aaaaaaaaaa": "Blip",
        "bbbbbbbbbb": "Whistle",
        "cccccccccc": "Koi_Fish",
    }
    pipe_results = {r["sample_id"]: r for r in glitch_pipe(str(root))}
    for gravityspy_id, row in rows.items():
        assert row["label"] == pipe_results[gravityspy_id]["label"]
        assert float(row["score"]) == pytest.approx(pipe_results[gravityspy_id]["score"], abs=1e-5)
        present = set(files[gravityspy_id])
        for duration in VIEW_DURATIONS_S:
            weight = float(row[f"view_weight_{duration_label(duration)}s"])
            assert (weight > 0) == (duration in present), (gravityspy_id, duration)


def test_real_kaggle_samples_all_classify(model_dir, glitch_pipe, kaggle_samples_dir, tmp_path, capsys):
    """Every real Kaggle-format sample, including those with one to three durations, is classified."""
    samples = list(expand_inputs(str(kaggle_samples_dir)))
    assert {s.label for s in samples} == set(CLASS_NAMES)
    output = tmp_path / "real.csv"
    argv = [
        "predict",
        str(kaggle_samples_dir),
        "--model",
        str(model_dir),
        "--device",
        "cpu",
        "--output",
        str(output),
    ]
    assert cli_main(argv) == 0
    assert "0 input(s) failed" in capsys.readouterr().err
    rows = list(csv.DictReader(output.open()))
    assert len(rows) == len(samples)
    single = next(s for s in samples if len(s.load()) == 1)
    row = next(r for r in rows if r["sample_id"] == single.sample_id)
    duration = duration_label(next(iter(single.load())))
    weights = {d: float(row[f"view_weight_{d}s"]) for d in DURATION_LABELS}
    assert weights[duration] == pytest.approx(1.0, abs=1e-5) and sum(weights.values()) == pytest.approx(
        1.0, abs=1e-5
    )
    _check_result(glitch_pipe(single), glitch_pipe, _views_of(single.load()))
