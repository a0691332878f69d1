"""Trustworthy predictions on tiny models: the ECE and the temperature fit against known answers, the
stored temperature and unknown threshold through save / load into both pipelines and ``predict``,
adding a class from a few examples, and the time-shift stability scan."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from inference_helpers import random_views, save_tiny, tiny_cnn, tiny_gravityvit, write_png_sample
from PIL import Image
from transformers import AutoConfig, AutoModelForImageClassification, pipeline

import gravityvit.pipelines  # noqa: F401  (registers glitch-classification)
from gravityvit import GravityViTConfig
from gravityvit.commands import add_class as add_class_command
from gravityvit.commands import predict
from gravityvit.gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S
from gravityvit.hub import load_model_and_processor, save_shareable_model
from gravityvit.inference.add_class import AddClassError, add_class, add_class_to_directory, final_linear
from gravityvit.inference.calibration import (
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    plot_reliability_diagram,
    softmax,
)
from gravityvit.inference.unknown import fit_unknown_threshold, open_set_auroc, unknown_scores
from gravityvit.pipelines import GlitchClassificationPipeline


def run_command(module, name: str, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gravityvit")
    module.register(parser.add_subparsers())
    args = parser.parse_args([name, *argv])
    return args.func(args)


# -- calibration --------------------------------------------------------------------------------------


def test_ece_matches_a_hand_computed_case():
    # Two samples at confidence 0.9 (one right, one wrong) and two at 0.7 (both right), 2 classes.
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.3, 0.7], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    # Bin of 0.9: accuracy 0.5, confidence 0.9, gap 0.4; bin of 0.7: accuracy 1, confidence 0.7, gap 0.3.
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.5 * 0.4 + 0.5 * 0.3)
    # Perfectly confident and right: zero.
    assert expected_calibration_error(np.eye(3), np.arange(3)) == pytest.approx(0.0)


@pytest.mark.parametrize("true_temperature", [0.5, 2.5])
def test_temperature_fit_recovers_a_known_temperature(true_temperature):
    rng = np.random.default_rng(0)
    logits = rng.normal(0.0, 3.0, size=(20000, 6))
    # Labels drawn from softmax(logits / T): T is then the maximum-likelihood temperature.
    probabilities = softmax(logits, true_temperature)
    labels = (probabilities.cumsum(axis=1) > rng.random((len(logits), 1))).argmax(axis=1)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(true_temperature, rel=0.05)
    summary = calibration_summary(logits, labels, fitted)
    assert summary["nll_after"] < summary["nll_before"]
    assert summary["ece_after"] < 0.02 < summary["ece_before"]


def test_reliability_diagram_and_bad_logits(tmp_path):
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(50, 4)), rng.integers(0, 4, 50)
    plot_reliability_diagram(logits, labels, 1.7, tmp_path / "reliability.png", title="test")
    with Image.open(tmp_path / "reliability.png") as image:
        assert image.size[0] > image.size[1] > 100
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(np.full((3, 2), np.nan), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="labels must lie"):
        fit_temperature(logits, labels + 4)


@pytest.mark.parametrize("field, value", [("logit_temperature", 0.0), ("logit_temperature", float("inf"))])
def test_config_rejects_bad_temperatures(field, value):
    with pytest.raises(ValueError, match=field):
        GravityViTConfig(
            backbone="vit_tiny_patch16_224",
            backbone_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 16},
            image_size=32,
            fusion_num_heads=2,
            **{field: value},
        )


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_temperature_and_threshold_round_trip_and_change_pipeline_scores(kind, tmp_path):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    plain = save_shareable_model(model, tmp_path / "plain", image_processor=processor, with_pipeline=False)
    model.config.logit_temperature = 2.5
    model.config.unknown_threshold = -3.0
    calibrated = save_shareable_model(
        model, tmp_path / "calibrated", image_processor=processor, with_pipeline=False
    )

    config = AutoConfig.from_pretrained(calibrated)
    assert (config.logit_temperature, config.unknown_threshold) == (2.5, -3.0)
    assert AutoConfig.from_pretrained(plain).unknown_threshold is None

    views = {d: v for d, v in zip(VIEW_DURATIONS_S, random_views(3))}
    inputs = processor(views, return_tensors="pt")
    with torch.no_grad():
        raw = AutoModelForImageClassification.from_pretrained(plain)(**inputs).logits[0].double()
        scaled = AutoModelForImageClassification.from_pretrained(calibrated)(**inputs).logits[0].double()
    torch.testing.assert_close(scaled, raw / 2.5)

    results = {}
    for name, directory in (("plain", plain), ("calibrated", calibrated)):
        glitches = pipeline("glitch-classification", model=str(directory), device="cpu")
        results[name] = glitches(views, top_k=len(CLASS_NAMES))
    # Same label, softer scores: the softmax of the logits divided by 2.5.
    assert results["plain"]["label"] == results["calibrated"]["label"]
    assert results["calibrated"]["score"] == pytest.approx(
        float(torch.softmax(raw / 2.5, -1).max()), abs=1e-5
    )
    assert results["calibrated"]["score"] < results["plain"]["score"]
    expected_unknown = float(-torch.logsumexp(raw / 2.5, -1))
    assert results["calibrated"]["unknown_score"] == pytest.approx(expected_unknown, abs=1e-5)
    assert results["calibrated"]["is_unknown"] is (expected_unknown > -3.0)
    assert results["plain"]["is_unknown"] is None

    # The stock image-classification pipeline reads the same config.
    view_image = Image.fromarray((random_views(4)[1] * 255).astype(np.uint8))
    stock = {
        name: pipeline("image-classification", model=str(directory))(view_image, top_k=1)[0]["score"]
        for name, directory in (("plain", plain), ("calibrated", calibrated))
    }
    assert stock["calibrated"] < stock["plain"]


# -- unknown glitches ---------------------------------------------------------------------------------


def test_unknown_score_threshold_and_auroc():
    confident = np.array([[8.0, 0.0, 0.0], [0.0, 9.0, 0.0]])
    flat = np.zeros((2, 3))
    scores_known, scores_unknown = unknown_scores(confident), unknown_scores(flat)
    assert (scores_unknown > scores_known.max()).all()
    assert scores_unknown[0] == pytest.approx(-np.log(3.0))
    assert open_set_auroc(scores_known, scores_unknown) == 1.0
    scores = np.arange(100, dtype=float)
    threshold = fit_unknown_threshold(scores, 0.95)
    assert (scores <= threshold).mean() >= 0.95 and (scores <= threshold).mean() < 0.97
    with pytest.raises(ValueError, match="known_pass_rate"):
        fit_unknown_threshold(scores, 1.5)


@pytest.fixture(scope="module")
def unknown_model_dir(tmp_path_factory):
    """A tiny model whose threshold flags exactly one of two PNG samples."""
    root = tmp_path_factory.mktemp("unknown")
    folder = root / "pngs"
    write_png_sample(folder, "aaaaaaaaaa", seed=1)
    write_png_sample(folder, "bbbbbbbbbb", seed=2)
    model, processor = tiny_gravityvit()
    plain = save_shareable_model(model, root / "plain", image_processor=processor, with_pipeline=False)
    results = pipeline("glitch-classification", model=str(plain), device="cpu")(str(folder))
    scores = sorted(r["unknown_score"] for r in results)
    model.config.unknown_threshold = (scores[0] + scores[1]) / 2
    calibrated = save_shareable_model(
        model, root / "calibrated", image_processor=processor, with_pipeline=False
    )
    return plain, calibrated, folder


def test_predict_reports_unknown_and_replaces_flagged_labels(unknown_model_dir, tmp_path, capsys):
    plain, calibrated, folder = unknown_model_dir
    output = tmp_path / "predictions.json"
    assert (
        run_command(predict, "predict", str(folder), "--model", str(calibrated), "--output", str(output)) == 0
    )
    predictions = json.loads(output.read_text())["predictions"]
    assert sorted(p["is_unknown"] for p in predictions) == [False, True]
    assert all(p["label"] in CLASS_NAMES for p in predictions)

    csv_output = tmp_path / "predictions.csv"
    argv = [
        str(folder),
        "--model",
        str(calibrated),
        "--unknown-label",
        "Unknown",
        "--output",
        str(csv_output),
    ]
    assert run_command(predict, "predict", *argv) == 0
    import csv

    rows = list(csv.DictReader(csv_output.open()))
    flagged = [row for row in rows if row["is_unknown"] == "True"]
    assert len(flagged) == 1 and flagged[0]["label"] == "Unknown"
    assert flagged[0]["label_1"] in CLASS_NAMES  # the model's own top class is kept
    assert float(flagged[0]["unknown_score"]) > float(
        next(r for r in rows if r is not flagged[0])["unknown_score"]
    )

    # A model without a threshold cannot flag anything: a usage error, nothing written.
    capsys.readouterr()
    refused = tmp_path / "refused.csv"
    argv = [str(folder), "--model", str(plain), "--unknown-label", "Unknown", "--output", str(refused)]
    assert run_command(predict, "predict", *argv) == 2
    assert "gravityvit calibrate" in capsys.readouterr().err and not refused.exists()


# -- adding a class -----------------------------------------------------------------------------------


def _outlier_views(seed: int) -> np.ndarray:
    """Views of a made-up class: a bright vertical bar, unlike the random noise of the other inputs."""
    views = np.random.default_rng(seed).uniform(0.0, 0.1, size=(4, 140, 170)).astype(np.float32)
    views[:, :, 80:90] = 1.0
    return views


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_add_class_grows_the_head_and_keeps_the_old_classes(kind):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    model.config.logit_temperature = 1.5
    examples = [{d: v for d, v in zip(VIEW_DURATIONS_S, _outlier_views(s))} for s in range(5)]
    new_model, info = add_class(model, processor, "Fast_Scattering", examples)

    assert len(new_model.config.id2label) == len(CLASS_NAMES) + 1
    assert new_model.config.id2label[len(CLASS_NAMES)] == "Fast_Scattering"
    assert new_model.config.label2id["Fast_Scattering"] == len(CLASS_NAMES)
    assert len(model.config.id2label) == len(CLASS_NAMES)  # the original is untouched
    assert info["num_examples"] == 5 and info["example_recall"] >= 0.8
    old_layer, new_layer = final_linear(model), final_linear(new_model)
    assert new_layer.out_features == old_layer.out_features + 1
    # The new row is on the scale of the old ones.
    norms = old_layer.weight.detach().norm(dim=1)
    assert float(new_layer.weight[-1].detach().norm()) == pytest.approx(float(norms.mean()), rel=1e-4)

    inputs = processor(random_views(9), return_tensors="pt")
    with torch.no_grad():
        old_logits = model(**inputs).logits
        new_logits = new_model(**inputs).logits
    torch.testing.assert_close(new_logits[:, :-1], old_logits)  # old classes bit for bit
    example_inputs = processor([e[0.5] for e in examples[:1]], return_tensors="pt")
    with torch.no_grad():
        assert new_model(**example_inputs).logits.shape[-1] == len(CLASS_NAMES) + 1


@pytest.mark.slow  # the `gravityvit add-class` command end to end
def test_add_class_command_writes_a_loadable_model_with_a_card_note(tmp_path):
    model_dir = save_tiny(tmp_path / "model", with_pipeline=False)
    examples = tmp_path / "examples"
    for index in range(3):
        write_png_sample(examples, f"new{index:07d}", seed=10 + index)
    output = tmp_path / "model_plus"
    argv = ["--model", str(model_dir), "--name", "Blip_Low_Frequency", "--examples", str(examples)]
    assert run_command(add_class_command, "add-class", *argv, "--output", str(output)) == 0

    reloaded = AutoModelForImageClassification.from_pretrained(output)
    assert reloaded.config.id2label[len(CLASS_NAMES)] == "Blip_Low_Frequency"
    card = (output / "README.md").read_text()
    assert (
        "## Added classes" in card
        and "`Blip_Low_Frequency`: added after training from 3 labelled examples" in card
    )
    model, processor = load_model_and_processor(output)
    glitches = GlitchClassificationPipeline(model=model, image_processor=processor, device="cpu")
    results = glitches(str(examples), top_k=23)
    assert len(results) == 3 and len(results[0]["top_k"]) == 23
    assert {r["label"] for r in results} <= {*CLASS_NAMES, "Blip_Low_Frequency"}

    # A second class is listed under the same heading.
    second = tmp_path / "model_plus_two"
    argv = ["--model", str(output), "--name", "Second", "--examples", str(examples), "--output", str(second)]
    assert run_command(add_class_command, "add-class", *argv) == 0
    card = (second / "README.md").read_text()
    assert card.count("## Added classes") == 1 and "`Second`" in card and "`Blip_Low_Frequency`" in card


def test_add_class_bad_input_writes_nothing(tmp_path, capsys):
    model_dir = save_tiny(tmp_path / "model")
    one = tmp_path / "one"
    write_png_sample(one, "only000000", seed=1)
    bad = tmp_path / "bad"
    write_png_sample(bad, "good000000", seed=2)
    broken = write_png_sample(bad, "broken0000", seed=3)[0]
    broken.write_bytes(broken.read_bytes()[:3000])
    output = tmp_path / "out"

    with pytest.raises(AddClassError, match="already has a class 'Blip'"):
        add_class_to_directory(model_dir, "Blip", bad, output)
    with pytest.raises(AddClassError, match="at least 2 examples"):
        add_class_to_directory(model_dir, "New_Class", one, output)
    with pytest.raises(AddClassError, match="must be letters"):
        add_class_to_directory(model_dir, "bad name!", bad, output)
    argv = ["--model", str(model_dir), "--name", "New_Class", "--examples", str(bad), "--output", str(output)]
    assert run_command(add_class_command, "add-class", *argv) == 1
    assert "broken0000" in capsys.readouterr().err  # the unreadable file is named
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left

    # An existing output is never replaced silently, and a folder that is not a model never.
    output.mkdir()
    (output / "notes.txt").write_text("mine")
    good = tmp_path / "good"
    for index in range(2):
        write_png_sample(good, f"ok{index:08d}", seed=20 + index)
    with pytest.raises(FileExistsError):
        add_class_to_directory(model_dir, "New_Class", good, output)
    with pytest.raises(FileExistsError, match="not a model directory"):
        add_class_to_directory(model_dir, "New_Class", good, output, overwrite=True)
    assert (output / "notes.txt").read_text() == "mine"


# -- time shifts --------------------------------------------------------------------------------------


def test_time_shift_stability_on_a_tiny_model():
    pytest.importorskip("gwpy")
    from gravityvit.inference.stability import time_shift_stability

    model, processor = tiny_gravityvit()
    result = time_shift_stability(
        model,
        processor,
        classes=["Blip", "Whistle"],
        samples_per_class=1,
        shifts_ms=(-10.0, 1.0, 10.0),
        seed=3,
    )
    assert result["shifts_ms"] == [-10.0, 1.0, 10.0]
    assert set(result["per_class"]) == {"Blip", "Whistle"}
    assert set(result["flip_rate"]) == {"1ms", "10ms"}
    for row in result["per_class"].values():
        assert set(row) == {"accuracy_unshifted", "1ms", "10ms"}
        assert all(0.0 <= value <= 1.0 for value in row.values())
    with pytest.raises(ValueError, match="no class"):
        time_shift_stability(model, processor, classes=["Not_A_Class"], samples_per_class=1)


def test_shifted_views_move_the_glitch():
    pytest.importorskip("gwpy")
    from gravityvit.data.simulation import simulate_strain
    from gravityvit.inference.stability import shifted_views

    strain, event_time, _ = simulate_strain("Blip", 5)
    centred = shifted_views(strain, event_time, 0.0)
    later = shifted_views(strain, event_time, 0.05)
    # In the 0.5 s view (170 columns), 50 ms is 17 columns: the brightest column moves right by ~17.
    column = lambda views: int(views[0].sum(axis=0).argmax())  # noqa: E731
    assert 12 <= column(later) - column(centred) <= 22
