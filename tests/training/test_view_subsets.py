"""Evaluation with a subset of the durations: the views masked as for real samples that lack them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gravityvit import (
    GravitySpyCNNConfig,
    GravitySpyCNNForGlitchClassification,
    GravityViTForGlitchClassification,
    GravityViTImageProcessor,
    get_named_config,
)
from gravityvit.training.data import GlitchViewsTransform, load_glitch_dataset
from gravityvit.training.evaluation import predict_split, view_subset_results

from .conftest import TINY_MODEL, TINY_OVERRIDES


def test_keep_views_masks_the_other_views():
    transform = GlitchViewsTransform(keep_views=[0, 2])
    views = np.ones((4, 140, 170), np.float32)
    kept, mask = transform.finish(views, np.array([True, True, False, True]), None)
    assert mask.tolist() == [True, False, False, False]  # view 2 was absent already
    assert kept[0].min() == 1.0 and kept[1:].max() == 0.0
    with pytest.raises(ValueError, match="not both"):
        GlitchViewsTransform(only_view=1, keep_views=[1])
    with pytest.raises(ValueError, match="view positions"):
        GlitchViewsTransform(keep_views=[4])


@pytest.fixture(scope="module")
def test_split(tiny_dataset):
    return load_glitch_dataset(tiny_dataset)["test"]


def _cnn():
    torch.manual_seed(0)
    config = GravitySpyCNNConfig(
        image_size=[32, 48], conv_channels=[4, 4, 8, 8], kernel_size=3, dense_size=16
    )
    return GravitySpyCNNForGlitchClassification(config).eval()


def _vit(**overrides):
    torch.manual_seed(0)
    return GravityViTForGlitchClassification(
        get_named_config(TINY_MODEL, **{**TINY_OVERRIDES, **overrides})
    ).eval()


@pytest.mark.slow
@pytest.mark.parametrize("make_model", [_cnn, _vit], ids=["cnn", "vit"])
def test_every_subset_is_scored_and_single_views_match_only_view(make_model, test_split):
    model = make_model()
    processor = GravityViTImageProcessor.from_config(model.config)
    results = view_subset_results(model, processor, test_split, batch_size=32, device="cpu")
    assert set(results) == {"1", "2", "4"}
    assert [results[k]["subsets_read"] for k in ("1", "2", "4")] == [4, 6, 1]
    assert [len(results[k]["subsets"]) for k in ("1", "2", "4")] == [4, 6, 1]
    # One duration given: the same predictions as the single-duration score of the report.
    for index, subset in enumerate(results["1"]["subsets"]):
        alone = predict_split(model, processor, test_split, device="cpu", only_view=index, progress=False)
        accuracy = float((alone.predicted == alone.labels).mean())
        assert subset["accuracy"] == pytest.approx(accuracy)
    everything = predict_split(model, processor, test_split, device="cpu", progress=False)
    assert results["4"]["accuracy"] == pytest.approx(
        float((everything.predicted == everything.labels).mean())
    )
    assert results["1"]["accuracy"] == pytest.approx(
        np.mean([s["accuracy"] for s in results["1"]["subsets"]])
    )


def test_the_cnn_reads_a_masked_view_as_zeros(test_split):
    """The merged view holds zeros where a duration is missing, whatever its pixels were."""
    model = _cnn()
    processor = GravityViTImageProcessor.from_config(model.config)
    masked = predict_split(model, processor, test_split, device="cpu", keep_views=[1, 3], progress=False)
    assert masked.view_mask[:, [0, 2]].sum() == 0 and masked.view_mask[:, [1, 3]].all()
    views = np.random.default_rng(0).uniform(0, 1, (2, 4, 140, 170)).astype(np.float32)
    mask = np.array([[False, True, False, True]] * 2)
    zeroed = views * mask[:, :, None, None]
    a = model(**processor.preprocess_views(views, view_mask=mask)).logits
    b = model(**processor.preprocess_views(zeroed, view_mask=mask)).logits
    torch.testing.assert_close(a, b)


def test_a_single_view_model_reads_only_subsets_with_its_duration(test_split):
    model = _vit(num_views=1, view_durations_s=[1.0], fusion="mean", head_hidden_size=0)
    processor = GravityViTImageProcessor.from_config(model.config)
    results = view_subset_results(model, processor, test_split, batch_size=32, device="cpu")
    assert [(results[k]["subsets_read"], results[k]["subsets_total"]) for k in ("1", "2", "4")] == [
        (1, 4),
        (3, 6),
        (1, 1),
    ]
    # It always sees its one view: every subset it reads gives the same score.
    scores = {s["accuracy"] for k in ("1", "2", "4") for s in results[k]["subsets"]}
    assert len(scores) == 1
    with pytest.raises(ValueError, match="subset size"):
        view_subset_results(model, processor, test_split, sizes=(5,))
