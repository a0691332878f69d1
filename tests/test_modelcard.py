"""The model card: template + renderer give a card the Hub parses, with the facts of the checkpoint."""

from __future__ import annotations

import pytest
from huggingface_hub import ModelCard

from gravityvit.gravity_spy import CLASS_NAMES
from gravityvit.modelcard import normalize_metrics, render_model_card, resolve_template_path, write_model_card

CONFIG = {
    "model_type": "gravityvit",
    "backbone": "vit_base_patch16_224",
    "view_durations_s": [0.5, 1.0, 2.0, 4.0],
    "fusion": "cross_attention",
    "id2label": {str(i): name for i, name in enumerate(CLASS_NAMES)},
}


def test_normalize_metrics_splits_trainer_prefixes():
    metrics = {"eval_accuracy": 0.9, "eval_runtime": 1.5, "test_macro_f1": 0.8, "accuracy": 0.7, "note": "x"}
    assert normalize_metrics(metrics, default_split="train") == {
        "validation": {"accuracy": 0.9},
        "test": {"macro_f1": 0.8},
        "train": {"accuracy": 0.7},
    }
    assert normalize_metrics({"test": {"accuracy": 0.5, "epoch": 3}}) == {"test": {"accuracy": 0.5}}
    nested = {"test": {"test_macro_f1": 0.7, "report": {"x": 1}}, "validation": {"eval_accuracy": 0.6}}
    assert normalize_metrics(nested) == {"test": {"macro_f1": 0.7}, "validation": {"accuracy": 0.6}}


def test_card_front_matter_parses_on_the_hub_side(tmp_path):
    card_text = render_model_card(
        CONFIG,
        {"eval_accuracy": 0.95, "eval_macro_f1": 0.9, "test_accuracy": 0.94},
        "Simulated by gravityvit simulate --samples-per-class 100 --seed 0.",
        {"learning_rate": 1e-4, "num_train_epochs": 3, "seed": 0, "output_dir": "/tmp/x"},
        model_id="gravityvit/multiview-b16",
        simulated=True,
        per_class_metrics={"Blip": {"f1": 0.99, "support": 30}},
    )
    card = ModelCard(card_text)
    data = card.data.to_dict()
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "image-classification"
    assert {"custom_code", "gravitational-waves", "ligo", "simulated-data"} <= set(data["tags"])
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results == {
        ("validation", "accuracy"): 0.95,
        ("validation", "f1"): 0.9,
        ("test", "accuracy"): 0.94,
    }
    body = card.text
    assert "Simulated data is not real detector data" in body
    assert all(f"| {name} |" in body for name in CLASS_NAMES)
    assert "| 3 | Blip | 0.99 | 30 |" in body
    assert "| learning_rate | 0.0001 |" in body and "output_dir" not in body
    assert "Zevin" in body and "Bahaadini" in body and "10.5281/zenodo.1486046" in body
    assert (
        'pipeline("glitch-classification", model="gravityvit/multiview-b16", trust_remote_code=True)' in body
    )
    assert "{{" not in card_text and "{%" not in card_text and "\n\n\n" not in card_text

    path = write_model_card(tmp_path, card_text)
    assert path.read_text(encoding="utf-8") == card_text


def test_real_data_card_without_metrics_and_cnn_config():
    card = ModelCard(
        render_model_card(
            {"model_type": "gravityspy_cnn"},
            None,
            "Gravity Spy v1d1, train split.",
            dataset_version="v1d1",
            dataset_split="train",
        )
    )
    assert "Simulated data is not real detector data" not in card.text
    assert "No evaluation results" in card.text
    assert "merged view" in card.text and "Gravity Spy v1d1" in card.text
    assert "simulated-data" not in card.data.tags


def test_missing_template_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="model-card template"):
        resolve_template_path(tmp_path / "nope.md")


def test_card_shows_bootstrap_intervals_and_per_class_f1_with_support():
    intervals = {"accuracy": [0.9123, 0.9456], "macro_f1": [0.8, 0.85], "confidence": 0.95}
    intervals.update(num_resamples=1000, seed=0)
    card = render_model_card(
        CONFIG,
        {"test": {"accuracy": 0.93, "macro_f1": 0.82}, "validation": {"accuracy": 0.9}},
        "Gravity Spy v1d1.",
        per_class_metrics={
            "Blip": {"f1": 0.95, "f1_interval": [0.9, 0.98], "support": 120},
            "Chirp": {"f1": 0.5, "f1_interval": None, "support": 0},
        },
        metric_intervals={"test": intervals},
    )
    assert "| split | metric | value | 95 % interval |" in card
    assert "| test | Accuracy | 0.9300 | [0.912, 0.946] |" in card
    assert "| test | Macro F1 | 0.8200 | [0.800, 0.850] |" in card
    assert "| validation | Accuracy | 0.9000 | - |" in card
    assert "95% percentile-bootstrap intervals over the test samples (1000 resamples, seed 0)" in card
    assert "| id | class | f1 | F1 95 % interval | support |" in card
    assert "| 3 | Blip | 0.95 | [0.900, 0.980] | 120 |" in card
    assert "| 4 | Chirp | 0.5 | - | 0 |" in card
    assert "\n\n\n" not in card
