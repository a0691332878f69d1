"""Calibration on a converted dataset: ``calibrate_model`` on a validation split, the evaluation report's
ECE and reliability diagram, and ``gravityvit calibrate``."""

from __future__ import annotations

import argparse
import json

import datasets
import numpy as np
import pytest
import torch

from gravityvit import GravityViTForGlitchClassification, GravityViTImageProcessor, get_named_config
from gravityvit.commands import calibrate
from gravityvit.hub import save_shareable_model
from gravityvit.inference.calibration import calibrate_model
from gravityvit.inference.unknown import fit_feature_statistics, relative_mahalanobis_scores, unknown_scores
from gravityvit.training.evaluation import predict_split, write_evaluation_report

from .conftest import TINY_MODEL, TINY_OVERRIDES

# Calibrates a trained tiny model and writes full evaluation reports: about 12 CPU-seconds in all.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_model():
    config = get_named_config(TINY_MODEL, **TINY_OVERRIDES)
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(config).eval()
    # Sharpen the random head so its scores are over-confident, as a trained model's are.
    with torch.no_grad():
        model.head.layers[-1].weight.mul_(40.0)
    return model, GravityViTImageProcessor.from_config(config)


def test_calibrate_model_fits_temperature_and_threshold(tiny_model, tiny_dataset):
    model, processor = tiny_model
    validation = datasets.load_from_disk(str(tiny_dataset))["validation"]
    before = predict_split(model, processor, validation, progress=False)
    summary = calibrate_model(model, processor, validation, batch_size=8, device="cpu")
    try:
        assert model.config.logit_temperature == pytest.approx(summary["temperature"])
        assert summary["temperature"] > 1.0  # over-confident scores are softened
        assert summary["nll_after"] <= summary["nll_before"]
        assert summary["num_samples"] == len(validation) == 22
        # 95 % of the (known) validation samples pass the threshold.
        scores = unknown_scores(before.logits / summary["temperature"])
        assert (scores <= model.config.unknown_threshold).mean() >= 0.95
        after = predict_split(model, processor, validation, progress=False)
        np.testing.assert_allclose(after.logits, before.logits / summary["temperature"], rtol=1e-4, atol=1e-5)
        # Refitting a calibrated model starts from its undivided logits: the same temperature.
        again = calibrate_model(model, processor, validation, batch_size=8, device="cpu")
        assert again["temperature"] == pytest.approx(summary["temperature"], rel=1e-3)
    finally:
        model.config.logit_temperature, model.config.unknown_threshold = 1.0, None


def test_calibrate_model_fits_the_relative_mahalanobis_statistics_on_the_training_split(tiny_dataset):
    config = get_named_config(TINY_MODEL, **TINY_OVERRIDES)
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(config).eval()
    processor = GravityViTImageProcessor.from_config(config)
    dataset = datasets.load_from_disk(str(tiny_dataset))
    with pytest.raises(ValueError, match="needs class statistics"):
        calibrate_model(model, processor, dataset["validation"], unknown_score_method="relative_mahalanobis")
    summary = calibrate_model(
        model,
        processor,
        dataset["validation"],
        batch_size=8,
        device="cpu",
        statistics_dataset=dataset["train"],
        unknown_score_method="relative_mahalanobis",
    )
    assert summary["unknown_score_method"] == model.config.unknown_score_method == "relative_mahalanobis"
    assert summary["feature_statistics"]["num_samples"] == len(dataset["train"])
    # The statistics are those of the training split's features.
    train = predict_split(model, processor, dataset["train"], progress=False, return_features=True)
    expected = fit_feature_statistics(train.features, train.labels, len(config.id2label))
    np.testing.assert_allclose(
        model.unknown_statistics.class_means.numpy(), expected["class_means"], rtol=1e-5, atol=1e-6
    )
    # The threshold is fitted on the model's (relative Mahalanobis) scores of the validation split.
    validation = predict_split(model, processor, dataset["validation"], progress=False)
    np.testing.assert_allclose(
        validation.unknown_scores,
        relative_mahalanobis_scores(
            predict_split(
                model, processor, dataset["validation"], progress=False, return_features=True
            ).features,
            expected,
        ),
        rtol=1e-4,
        atol=1e-3,
    )
    assert (validation.unknown_scores <= model.config.unknown_threshold).mean() >= 0.95
    assert summary["unknown_threshold"] == pytest.approx(
        np.quantile(validation.unknown_scores, 0.95, method="higher")
    )


def test_report_has_ece_before_and_after_and_reliability_diagram(tiny_model, tiny_dataset, tmp_path):
    model, processor = tiny_model
    test = datasets.load_from_disk(str(tiny_dataset))["test"]
    model.config.logit_temperature, model.config.unknown_threshold = 3.0, -5.0
    try:
        # One mistake in the gallery: the figures are not what is checked here, the calibration is.
        report = write_evaluation_report(
            model, processor, test, tmp_path / "report", device="cpu", single_duration=False, gallery_size=1
        )
    finally:
        model.config.logit_temperature, model.config.unknown_threshold = 1.0, None
    assert (tmp_path / "report" / "reliability_diagram.png").is_file()
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    calibration = saved["calibration"]
    assert calibration["temperature"] == 3.0 and calibration["num_bins"] == 15
    assert 0.0 <= calibration["ece_after"] <= 1.0 and 0.0 <= calibration["ece_before"] <= 1.0
    assert calibration["ece_before"] != calibration["ece_after"]
    assert saved["unknown"]["threshold"] == -5.0 and 0.0 <= saved["unknown"]["fraction_flagged"] <= 1.0
    assert report["calibration"] == calibration


def test_calibrate_command_writes_a_new_model(tiny_model, tiny_dataset, tmp_path, capsys):
    model, processor = tiny_model
    source = save_shareable_model(model, tmp_path / "model", image_processor=processor, with_pipeline=False)
    parser = argparse.ArgumentParser(prog="gravityvit")
    calibrate.register(parser.add_subparsers())
    argv = ["calibrate", "--model", str(source), "--dataset", str(tiny_dataset), "--device", "cpu"]
    args = parser.parse_args([*argv, "--output", str(tmp_path / "calibrated")])
    assert args.func(args) == 0
    written = json.loads((tmp_path / "calibrated" / "config.json").read_text())
    assert written["logit_temperature"] > 1.0 and written["unknown_threshold"] is not None
    assert json.loads((source / "config.json").read_text()).get("unknown_threshold") is None  # source kept
    # By default the relative Mahalanobis statistics are fitted on the training split and saved.
    assert written["unknown_score_method"] == "relative_mahalanobis"
    calibrated = GravityViTForGlitchClassification.from_pretrained(tmp_path / "calibrated")
    assert calibrated.unknown_statistics.is_fitted()
    assert calibrated.unknown_statistics.class_counts.sum() == len(
        datasets.load_from_disk(str(tiny_dataset))["train"]
    )
    # An existing folder that is not an earlier model is refused.
    (tmp_path / "mine").mkdir()
    args = parser.parse_args([*argv, "--output", str(tmp_path / "mine"), "--overwrite"])
    assert args.func(args) == 2 and "already exists" in capsys.readouterr().err


def test_report_time_shift_section(tiny_model, tiny_dataset, tmp_path, monkeypatch):
    pytest.importorskip("gwpy")
    import functools

    from gravityvit.inference import stability

    # One class, one glitch, one shift: the wiring, not the figures.
    original = stability.time_shift_stability
    monkeypatch.setattr(
        stability, "time_shift_stability", functools.partial(original, classes=["Blip"], shifts_ms=(5.0,))
    )
    model, processor = tiny_model
    test = datasets.load_from_disk(str(tiny_dataset))["test"].select(range(4))
    report = write_evaluation_report(
        model,
        processor,
        test,
        tmp_path / "report",
        device="cpu",
        single_duration=False,
        gallery_size=1,
        time_shift_samples_per_class=1,
    )
    saved = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert saved["time_shift"] == report["time_shift"]
    assert set(saved["time_shift"]["per_class"]) == {"Blip"} and set(saved["time_shift"]["flip_rate"]) == {
        "5ms"
    }
