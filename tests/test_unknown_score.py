"""The relative Mahalanobis unknown score on tiny models: the score separates an outlying cluster of
synthetic features, its statistics save and load with the weights, models without statistics keep
the energy score, adding a class grows the class means, and the pipeline, ``predict`` and the ONNX
backend report the model's score."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from inference_helpers import random_views, tiny_cnn, tiny_gravityvit, write_png_sample
from safetensors.torch import load_file, save_file
from transformers import AutoModelForImageClassification, pipeline

import gravityvit.pipelines  # noqa: F401  (registers glitch-classification)
from gravityvit.commands import predict
from gravityvit.gravity_spy import CLASS_NAMES, VIEW_DURATIONS_S
from gravityvit.hub import save_shareable_model
from gravityvit.inference.add_class import add_class, anchor_features, anchored_row, imprinted_row
from gravityvit.inference.unknown import (
    effective_unknown_score_method,
    fit_feature_statistics,
    open_set_auroc,
    relative_mahalanobis_scores,
)
from gravityvit.modeling_unknown import STATISTICS_BUFFERS, GlitchFeatureStatistics, energy_score


def run_command(module, name: str, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gravityvit")
    module.register(parser.add_subparsers())
    args = parser.parse_args([name, *argv])
    return args.func(args)


def synthetic_features(seed: int = 0, per_class: int = 100, dimension: int = 8, num_classes: int = 6):
    """Known classes as unit Gaussian clusters around random centres, and an unknown cluster around one more.

    The classes spread the features along the directions between their centres, as a trained head's
    classes do; the unknown cluster lies elsewhere in that span, at least a few units from every class.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(num_classes + 1, dimension))
    labels = np.repeat(np.arange(num_classes), per_class)
    known = centres[labels] + rng.normal(size=(len(labels), dimension))
    unknown = centres[num_classes] + rng.normal(size=(per_class, dimension))
    held_known = centres[labels] + rng.normal(size=(len(labels), dimension))
    return known, labels, unknown, held_known


def fitted_module(statistics: dict[str, np.ndarray]) -> GlitchFeatureStatistics:
    module = GlitchFeatureStatistics(*statistics["class_means"].shape)
    module.load_statistics(statistics)
    return module


def test_relative_mahalanobis_separates_an_outlying_cluster():
    known, labels, unknown, held_known = synthetic_features()
    statistics = fit_feature_statistics(known, labels, num_labels=7)  # class 6 has no training samples
    assert statistics["class_counts"].tolist() == [100.0] * 6 + [0.0]
    np.testing.assert_allclose(statistics["class_means"][0], known[labels == 0].mean(axis=0))
    np.testing.assert_allclose(statistics["background_mean"], known.mean(axis=0))

    # Fresh samples of the known classes against the outlying cluster.
    reference_known = relative_mahalanobis_scores(held_known, statistics)
    reference_unknown = relative_mahalanobis_scores(unknown, statistics)
    assert open_set_auroc(reference_known, reference_unknown) > 0.99

    # The model's module computes the same numbers (it keeps float32 buffers).
    module = fitted_module(statistics)
    assert module.is_fitted()
    scores = module.relative_mahalanobis(torch.as_tensor(held_known, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(scores, reference_known, rtol=1e-4, atol=1e-3)
    # The class without samples takes no part: the scores are those of the six trained classes alone
    # (its zero mean would otherwise be the nearest class of samples near the origin).
    six = fit_feature_statistics(known, labels, num_labels=6)
    origin = np.zeros((1, known.shape[1]))
    np.testing.assert_allclose(
        relative_mahalanobis_scores(origin, statistics), relative_mahalanobis_scores(origin, six)
    )
    np.testing.assert_allclose(
        module.relative_mahalanobis(torch.zeros(1, known.shape[1])).numpy(),
        relative_mahalanobis_scores(origin, six),
        rtol=1e-4,
    )


def test_statistics_need_samples_and_finite_features():
    known, labels, _, _ = synthetic_features(per_class=3)
    with pytest.raises(ValueError, match="at least 2"):
        fit_feature_statistics(known[:1], labels[:1], num_labels=3)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        fit_feature_statistics(known, labels, num_labels=2)
    known[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit_feature_statistics(known, labels, num_labels=6)
    module = GlitchFeatureStatistics(3, 5)
    good = fit_feature_statistics(np.random.default_rng(0).normal(size=(30, 5)), np.arange(30) % 3, 3)
    with pytest.raises(ValueError, match="precision must have shape"):
        module.load_statistics({**good, "precision": np.eye(4)})
    assert not module.is_fitted()  # nothing was copied


def pooled_features(model, inputs) -> np.ndarray:
    """The features ``model.unknown_statistics`` reads for ``inputs``."""
    captured = []
    hook = model.unknown_statistics.register_forward_hook(
        lambda _m, args, _o: captured.append(args[1].detach().double())
    )
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        hook.remove()
    return captured[0].numpy()


def fit_on_random_views(model, processor, count: int = 44) -> dict[str, np.ndarray]:
    """Fit ``model``'s statistics on random views with round-robin labels; return the statistics."""
    inputs = processor([random_views(seed) for seed in range(count)], return_tensors="pt")
    features = pooled_features(model, inputs)
    num_labels = len(model.config.id2label)
    statistics = fit_feature_statistics(features, np.arange(count) % num_labels, num_labels)
    model.unknown_statistics.load_statistics(statistics)
    model.config.unknown_score_method = "relative_mahalanobis"
    return statistics


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_statistics_round_trip_and_give_the_model_s_unknown_score(kind, tmp_path):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    statistics = fit_on_random_views(model, processor)
    model.config.logit_temperature = 1.5
    directory = save_shareable_model(
        model, tmp_path / "model", image_processor=processor, with_pipeline=False
    )

    reloaded = AutoModelForImageClassification.from_pretrained(directory).eval()
    assert reloaded.config.unknown_score_method == "relative_mahalanobis"
    assert effective_unknown_score_method(reloaded) == "relative_mahalanobis"
    for name in STATISTICS_BUFFERS:
        torch.testing.assert_close(
            getattr(reloaded.unknown_statistics, name), getattr(model.unknown_statistics, name)
        )

    views = random_views(100)
    inputs = processor([views], return_tensors="pt")
    with torch.no_grad():
        output = reloaded(**inputs)
    expected = relative_mahalanobis_scores(pooled_features(reloaded, inputs), statistics)
    np.testing.assert_allclose(output.unknown_score.numpy(), expected, rtol=1e-4, atol=1e-3)
    # The energy of the logits is a different number: the score really comes from the features.
    assert abs(float(output.unknown_score[0]) - float(energy_score(output.logits)[0])) > 1e-3

    result = pipeline("glitch-classification", model=str(directory), device="cpu")(
        {d: v for d, v in zip(VIEW_DURATIONS_S, views)}
    )
    assert result["unknown_score"] == pytest.approx(float(output.unknown_score[0]), rel=1e-5, abs=1e-5)
    assert result["is_unknown"] is None  # no threshold fitted

    # Remote code carries the statistics too (the model code is saved beside the weights).
    remote = AutoModelForImageClassification.from_pretrained(directory, trust_remote_code=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(remote(**inputs).unknown_score, output.unknown_score)


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_training_steps_compute_no_unknown_score(kind):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    inputs = processor([random_views(3), random_views(4)], return_tensors="pt")
    output = model.train()(**inputs, labels=torch.tensor([0, 1]))
    assert output.unknown_score is None and output.loss is not None
    assert model.eval()(**inputs).unknown_score.shape == (2,)


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_models_without_statistics_keep_the_energy_score(kind, tmp_path):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    inputs = processor([random_views(3), random_views(4)], return_tensors="pt")
    with torch.no_grad():
        output = model(**inputs)
    torch.testing.assert_close(output.unknown_score, -torch.logsumexp(output.logits.double(), dim=-1))
    # Asking for the relative Mahalanobis score without statistics falls back to the energy score.
    model.config.unknown_score_method = "relative_mahalanobis"
    assert effective_unknown_score_method(model) == "energy"
    with torch.no_grad():
        torch.testing.assert_close(model(**inputs).unknown_score, output.unknown_score)
    model.config.unknown_score_method = "energy"

    # A model saved before the statistics existed: its weights file lacks them. It loads unfitted
    # and scores as before.
    directory = save_shareable_model(model, tmp_path / "old", image_processor=processor, with_pipeline=False)
    weights = load_file(directory / "model.safetensors")
    save_file(
        {k: v for k, v in weights.items() if not k.startswith("unknown_statistics.")},
        directory / "model.safetensors",
        metadata={"format": "pt"},
    )
    old = AutoModelForImageClassification.from_pretrained(directory).eval()
    assert not old.unknown_statistics.is_fitted()
    with torch.no_grad():
        loaded = old(**inputs)
    torch.testing.assert_close(loaded.logits, output.logits)
    torch.testing.assert_close(loaded.unknown_score, output.unknown_score)


def test_unknown_score_method_is_checked():
    from gravityvit import GravitySpyCNNConfig

    with pytest.raises(ValueError, match="unknown_score_method must be one of"):
        GravitySpyCNNConfig(image_size=[32, 32], unknown_score_method="mahalanobis")


def _outlier_views(seed: int) -> dict[float, np.ndarray]:
    views = np.random.default_rng(seed).uniform(0.0, 0.1, size=(4, 140, 170)).astype(np.float32)
    views[:, :, 80:90] = 1.0
    return dict(zip(VIEW_DURATIONS_S, views))


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_add_class_grows_the_class_means(kind):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    fit_on_random_views(model, processor)
    examples = [_outlier_views(seed) for seed in range(4)]
    new_model, info = add_class(model, processor, "Fast_Scattering", examples)
    assert info["anchored"]  # the row was fitted against the stored class statistics

    old, new = model.unknown_statistics, new_model.unknown_statistics
    assert new.class_means.shape == (len(CLASS_NAMES) + 1, old.class_means.shape[1])
    torch.testing.assert_close(new.class_means[:-1], old.class_means)
    assert new.class_counts[-1] == 4 and torch.equal(new.class_counts[:-1], old.class_counts)
    for name in ("precision", "background_mean", "background_precision"):  # the covariances stay
        torch.testing.assert_close(getattr(new, name), getattr(old, name))
    example_inputs = processor(examples, return_tensors="pt")
    example_features = pooled_features(model, example_inputs)
    np.testing.assert_allclose(
        new.class_means[-1].numpy(), example_features.mean(axis=0), rtol=1e-5, atol=1e-6
    )

    # The examples are nearer a class now: they score lower than under the old statistics.
    with torch.no_grad():
        before = model(**example_inputs).unknown_score
        after = new_model(**example_inputs).unknown_score
    assert bool((after <= before + 1e-9).all()) and bool((after < before).any())
    # The old classes' logits are unchanged.
    inputs = processor([random_views(9)], return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(new_model(**inputs).logits[:, :-1], model(**inputs).logits)


def test_add_class_to_an_energy_model_keeps_the_statistics_unfitted():
    model, processor = tiny_gravityvit()
    new_model, _ = add_class(model, processor, "Fast_Scattering", [_outlier_views(s) for s in range(2)])
    assert new_model.unknown_statistics.class_means.shape[0] == len(CLASS_NAMES) + 1
    assert not new_model.unknown_statistics.is_fitted()


def test_predict_reports_the_model_s_score_and_flag(tmp_path):
    model, processor = tiny_gravityvit()
    fit_on_random_views(model, processor)
    folder = tmp_path / "pngs"
    write_png_sample(folder, "aaaaaaaaaa", seed=1)
    write_png_sample(folder, "bbbbbbbbbb", seed=2)
    plain = save_shareable_model(model, tmp_path / "plain", image_processor=processor, with_pipeline=False)
    scores = sorted(
        r["unknown_score"] for r in pipeline("glitch-classification", model=str(plain))(str(folder))
    )
    model.config.unknown_threshold = (scores[0] + scores[1]) / 2
    directory = save_shareable_model(
        model, tmp_path / "model", image_processor=processor, with_pipeline=False
    )

    output = tmp_path / "predictions.json"
    assert (
        run_command(predict, "predict", str(folder), "--model", str(directory), "--output", str(output)) == 0
    )
    predictions = json.loads(output.read_text())["predictions"]
    assert sorted(p["unknown_score"] for p in predictions) == pytest.approx(scores, rel=1e-5)
    assert sorted(p["is_unknown"] for p in predictions) == [False, True]


def test_onnx_export_carries_the_relative_mahalanobis_score(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from gravityvit.inference.onnx_runtime import OnnxGlitchClassifier, OnnxModelError, export_onnx

    model, processor = tiny_gravityvit()
    fit_on_random_views(model, processor)
    directory = save_shareable_model(
        model, tmp_path / "model", image_processor=processor, with_pipeline=False
    )
    from gravityvit.inference.onnx_runtime import weights_fingerprint

    differences = export_onnx(model, directory / "model.onnx", fingerprint=weights_fingerprint(directory))
    assert differences["max_unknown_score_difference"] <= 1e-4
    onnx_model, _ = OnnxGlitchClassifier.from_pretrained(directory)
    inputs = processor([random_views(5), random_views(6)], return_tensors="pt")
    with torch.no_grad():
        expected = model(**inputs).unknown_score
    got = onnx_model(**inputs).unknown_score
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)

    # A config switched to the energy score after the export no longer fits the file.
    config_path = directory / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "unknown_score_method": "energy"}))
    with pytest.raises(OnnxModelError, match="computes the relative_mahalanobis unknown score"):
        OnnxGlitchClassifier.from_pretrained(directory)


def test_the_calibrate_command_offers_every_score():
    from gravityvit.commands import calibrate
    from gravityvit.configuration_common import UNKNOWN_SCORE_METHODS

    assert calibrate.UNKNOWN_SCORE_METHODS == UNKNOWN_SCORE_METHODS


def test_a_config_asking_for_missing_statistics_warns_at_load(tmp_path, caplog):
    model, processor = tiny_gravityvit()
    model.config.unknown_score_method = "relative_mahalanobis"  # but nothing fitted
    directory = save_shareable_model(
        model, tmp_path / "model", image_processor=processor, with_pipeline=False
    )
    with caplog.at_level("WARNING", logger="gravityvit.modeling_gravityvit"):
        AutoModelForImageClassification.from_pretrained(directory)
    assert "the weights hold no class statistics" in caplog.text


@pytest.mark.parametrize("kind", ["gravityvit", "cnn"])
def test_anchor_features_are_drawn_from_the_stored_class_statistics(kind):
    model, processor = tiny_gravityvit() if kind == "gravityvit" else tiny_cnn()
    assert anchor_features(model) is None  # no statistics yet: nothing to anchor on
    statistics = fit_on_random_views(model, processor)
    features, labels = anchor_features(model, per_class=3000)
    known = np.flatnonzero(statistics["class_counts"] > 0)
    assert sorted(set(labels.tolist())) == known.tolist()
    assert features.shape[0] == len(known) * 3000 and np.isfinite(features).all()
    if kind == "cnn":  # the classifier reads the pooled feature itself: the draws are the Gaussians
        means = np.stack([features[labels == k].mean(axis=0) for k in known])
        spread = np.sqrt(np.diag(np.linalg.inv(statistics["precision"])))
        np.testing.assert_allclose(means, statistics["class_means"][known], atol=0.1 * spread.max())
        centred = features - statistics["class_means"][labels]
        np.testing.assert_allclose(
            np.cov(centred.T), np.linalg.inv(statistics["precision"]), atol=0.1 * spread.max() ** 2
        )


def test_anchored_row_gives_up_examples_that_lie_inside_an_old_class():
    """Eight examples of a new class and two that lie inside old class 0: the prototype's bias, set to
    win 90 % of the examples, takes a third of class 0; fitted against the anchors it takes a few %."""
    rng = np.random.default_rng(0)
    weight, bias = np.eye(3)[:2], np.zeros(2)
    anchors = np.concatenate([rng.normal(size=(256, 3)) + 3 * np.eye(3)[k] for k in range(2)])
    anchor_labels = np.repeat(np.arange(2), 256)
    examples = np.concatenate(
        [rng.normal(size=(8, 3)) * 0.5 + [0, 0, 3], rng.normal(size=(2, 3)) * 0.3 + [3, 0, 0.5]]
    )
    logits = examples @ weight.T + bias

    def taken(row: np.ndarray, row_bias: float) -> tuple[float, float]:
        anchors_taken = anchors @ row + row_bias > (anchors @ weight.T + bias).max(axis=1)
        examples_won = examples @ row + row_bias > logits.max(axis=1)
        return float(anchors_taken.mean()), float(examples_won.mean())

    row, row_bias = imprinted_row(examples, logits, weight, bias)
    assert taken(row, row_bias)[0] > 0.25
    refined = anchored_row(row, row_bias, examples, (anchors, anchor_labels), weight, bias)
    anchors_taken, examples_won = taken(*refined)
    assert anchors_taken < 0.06 and examples_won >= 0.8
    # The prototype stays the direction: the refined row is close to it.
    cosine = refined[0] @ row / np.linalg.norm(refined[0]) / np.linalg.norm(row)
    assert cosine > 0.95
