"""A tiny end-to-end run: converted data -> 2 epochs of training -> evaluate -> reload -> classify."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gravityvit.training.arguments import parse_evaluation_arguments, parse_train_arguments
from gravityvit.training.run import evaluate, train

from .conftest import tiny_train_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("train") / "model"
    results = train(*parse_train_arguments(tiny_train_args(tiny_dataset, output_dir, epochs=2)))
    return output_dir, results


def test_training_writes_model_processor_card_and_report(trained):
    output_dir, results = trained
    for name in ("config.json", "model.safetensors", "preprocessor_config.json", "README.md", "results.json"):
        assert (output_dir / name).is_file(), name
    report_dir = output_dir / "evaluation"
    for name in (
        "metrics.json",
        "classification_report.txt",
        "confusion_matrix.png",
        "view_importance.png",
        "single_duration_accuracy.png",
        "worst_mistakes.png",
        "reliability_diagram.png",
    ):
        assert (report_dir / name).is_file(), name
    metrics = json.loads((report_dir / "metrics.json").read_text())
    assert metrics["num_samples"] == 22 and len(metrics["confusion_matrix"]) == 22
    assert set(metrics["single_duration"]) == {"0.5s", "1s", "2s", "4s"}
    assert results.test["accuracy"] == pytest.approx(metrics["accuracy"])
    assert 0.0 <= results.validation["macro_f1"] <= 1.0
    assert json.loads((output_dir / "results.json").read_text()) == json.loads(json.dumps(results.to_dict()))
    # The temperature and unknown threshold fitted on validation are saved with the model and used
    # by the test report.
    saved_config = json.loads((output_dir / "config.json").read_text())
    assert saved_config["logit_temperature"] == pytest.approx(results.calibration["temperature"])
    assert saved_config["unknown_threshold"] == pytest.approx(results.calibration["unknown_threshold"])
    assert metrics["calibration"]["temperature"] == pytest.approx(saved_config["logit_temperature"])
    # The relative Mahalanobis score's class statistics, fitted on the training split, are in the
    # weights file, and the test report's unknown scores are that score.
    assert saved_config["unknown_score_method"] == "relative_mahalanobis"
    assert results.calibration["feature_statistics"]["num_samples"] == 44
    weights = load_file(output_dir / "model.safetensors")
    assert weights["unknown_statistics.class_counts"].tolist() == [2.0] * 22
    assert bool(weights["unknown_statistics.precision"].any())
    assert metrics["unknown"]["method"] == "relative_mahalanobis"
    card = (output_dir / "README.md").read_text()
    assert (
        "macro" in card.lower() and "simulat" not in card.split("---")[1]
    )  # real-style dataset: no simulated tag
    state = json.loads((output_dir / "trainer_state.json").read_text())
    assert state["best_metric"] is not None  # early stopping / best model on validation macro-F1


def test_evaluate_script_reload_and_classify(trained, tiny_dataset, tmp_path):
    output_dir, _ = trained
    report = evaluate(
        parse_evaluation_arguments(
            [
                "--model",
                str(output_dir),
                "--dataset",
                str(tiny_dataset),
                "--split",
                "test",
                "--output",
                str(tmp_path / "report"),
                "--no_single_duration",
            ]
        )
    )
    assert (tmp_path / "report" / "confusion_matrix.png").is_file()
    expected = json.loads((output_dir / "evaluation" / "metrics.json").read_text())
    assert report["accuracy"] == pytest.approx(expected["accuracy"])

    import datasets
    from transformers import AutoImageProcessor, AutoModelForImageClassification, pipeline

    import gravityvit.pipelines  # noqa: F401
    from gravityvit.gravity_spy import IMAGE_COLUMNS
    from gravityvit.training.data import GlitchViewsTransform

    model = AutoModelForImageClassification.from_pretrained(output_dir).eval()
    processor = AutoImageProcessor.from_pretrained(output_dir)
    test = datasets.load_from_disk(str(tiny_dataset))["test"]
    rows = GlitchViewsTransform()(test[:3])
    inputs = processor.preprocess_views(np.stack(rows["views"]), view_mask=np.stack(rows["view_mask"]))
    with torch.no_grad():
        logits = model(**inputs).logits
    classifier = pipeline("glitch-classification", model=str(output_dir), device="cpu")
    samples = [{c: test[i][c] for c in IMAGE_COLUMNS} for i in range(3)]
    results = classifier(samples, top_k=22)
    for row, result in zip(logits.softmax(-1), results):
        assert result["label"] == model.config.id2label[int(row.argmax())]
        assert result["score"] == pytest.approx(float(row.max()), abs=1e-4)
        assert sum(result["view_weights"].values()) == pytest.approx(1.0, abs=1e-4)


def test_mismatched_labels_fail_before_training(tmp_path):
    from gravityvit.gravity_spy import CLASS_NAMES
    from gravityvit.training.data import GlitchDatasetError

    from .conftest import write_tiny_dataset

    # A dataset of 3 classes has a 3-name ClassLabel? No: the converter always writes the 22 names,
    # so take a model whose id2label differs instead.
    dataset = write_tiny_dataset(tmp_path / "data", {"train": 1, "validation": 1}, classes=CLASS_NAMES[:2])
    args = tiny_train_args(dataset, tmp_path / "out", "--evaluate_test", "false")
    overrides = json.loads(args[args.index("--config_overrides") + 1])
    overrides["id2label"] = {str(i): name for i, name in enumerate(reversed(CLASS_NAMES))}
    args[args.index("--config_overrides") + 1] = json.dumps(overrides)
    with pytest.raises(GlitchDatasetError, match="do not match the model's id2label"):
        train(*parse_train_arguments(args))
    assert not (tmp_path / "out" / "checkpoint-1").exists()


def test_an_o3_dataset_and_a_v1_model_disagree_with_a_clear_error(tmp_path):
    from gravityvit.gravity_spy import O3_CLASS_NAMES
    from gravityvit.training.data import GlitchDatasetError, check_glitch_dataset, load_glitch_dataset
    from gravityvit.training.run import load_model

    from .conftest import write_tiny_dataset

    dataset = write_tiny_dataset(
        tmp_path / "data", {"train": 1, "validation": 1}, classes=O3_CLASS_NAMES, label_set="o3"
    )
    args = tiny_train_args(dataset, tmp_path / "out", "--evaluate_test", "false")
    with pytest.raises(GlitchDatasetError) as caught:
        train(*parse_train_arguments(args))
    message = str(caught.value)
    assert "the dataset has label set 'o3' (23 classes), the model label set 'v1' (22 classes)" in message
    assert "in the dataset only: ['Blip_Low_Frequency', 'Fast_Scattering']" in message
    assert "in the model only: ['None_of_the_Above']" in message
    assert (
        "Convert the data with `gravityvit convert --label-set v1`; or train a model of the dataset's classes (--label_set o3)"
        in message
    )
    assert not (tmp_path / "out" / "checkpoint-1").exists()

    # --label_set o3 builds the named configuration with the dataset's 23 classes.
    model_args = parse_train_arguments([*args, "--label_set", "o3"])[0]
    model, _, _ = load_model(model_args)
    assert model.config.label_set == "o3" and model.config.num_labels == 23
    linear_outputs = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear_outputs[-1] == 23  # the head's last layer: one logit per class
    check_glitch_dataset(load_glitch_dataset(str(dataset)), model.config.id2label, source=str(dataset))
