"""The Gravity Spy merged-view CNN baseline: same inputs, outputs and loading as GravityViT.

Its trust_remote_code round trip runs together with GravityViT's, in one subprocess
(tests/test_modeling_gravityvit.py::test_trust_remote_code_round_trip_without_the_package).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

from gravityvit import (
    GlitchClassifierOutput,
    GravitySpyCNNConfig,
    GravitySpyCNNForGlitchClassification,
    GravityViTImageProcessor,
)
from gravityvit.gravity_spy import merge_views
from gravityvit.modeling_gravityspy_cnn import tile_merged_view

MASK = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)


def tiny_cnn(**overrides) -> GravitySpyCNNForGlitchClassification:
    values = {"image_size": [28, 34], "conv_channels": [4, 8, 8, 8], "dense_size": 16, "dropout": 0.0}
    values.update(overrides)
    torch.manual_seed(0)
    return GravitySpyCNNForGlitchClassification(GravitySpyCNNConfig(**values)).eval()


def random_views(batch: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 4, 140, 170), dtype=np.float32)


def test_defaults_are_the_production_model():
    config = GravitySpyCNNConfig()
    assert config.model_type == "gravityspy_cnn" and config.num_labels == 22
    assert config.image_size_hw == (140, 170) and config.conv_channels == [16, 32, 64, 64]
    model = GravitySpyCNNForGlitchClassification(config)
    assert len(model.blocks) == 4
    # 280x340 merged view, four 2x2 poolings -> 17x21 maps of 64 channels
    assert model.dense.in_features == 64 * 17 * 21


def test_tiling_matches_the_gravity_spy_merged_view():
    views = random_views(batch=1)
    tiled = tile_merged_view(torch.from_numpy(views))
    np.testing.assert_array_equal(tiled[0, 0].numpy(), merge_views(views[0]))


def test_forward_shapes_with_masks_and_single_views():
    model = tiny_cnn()
    processor = GravityViTImageProcessor.from_config(model.config)
    inputs = processor.preprocess_views(random_views(), MASK)
    assert inputs["pixel_values"].shape == (3, 4, 3, 28, 34)
    outputs = model(**inputs, labels=torch.tensor([0, 5, 21]), output_hidden_states=True)
    assert isinstance(outputs, GlitchClassifierOutput)
    assert outputs.logits.shape == (3, 22) and outputs.loss.ndim == 0
    torch.testing.assert_close(outputs.view_weights[1], torch.tensor([0.5, 0.0, 0.5, 0.0]))
    assert [h.shape for h in outputs.hidden_states] == [
        (3, 4, 28, 34),
        (3, 8, 14, 17),
        (3, 8, 7, 8),
        (3, 8, 3, 4),
    ]
    single = model(inputs["pixel_values"][:, 3], view_index=3)
    only_last = MASK.clone().fill_(False)
    only_last[:, 3] = True
    torch.testing.assert_close(single.logits, model(inputs["pixel_values"], view_mask=only_last).logits)


def test_sample_alone_and_in_a_batch_give_the_same_logits():
    model = tiny_cnn()
    inputs = GravityViTImageProcessor.from_config(model.config).preprocess_views(random_views(), MASK)
    batched = model(**inputs).logits
    for index in range(3):
        alone = model(inputs["pixel_values"][index : index + 1], view_mask=MASK[index : index + 1]).logits
        torch.testing.assert_close(alone, batched[index : index + 1], atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_a_few_steps_drive_the_loss_down():
    model = tiny_cnn()
    inputs = GravityViTImageProcessor.from_config(model.config).preprocess_views(
        random_views(batch=8, seed=1)
    )
    labels = torch.arange(8) % 4
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(15):
        loss = model(**inputs, labels=labels).loss
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.7 * losses[0], losses


def test_save_load_and_auto_classes_give_identical_logits(tmp_path):
    model = tiny_cnn()
    processor = GravityViTImageProcessor.from_config(model.config)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "modeling_gravityspy_cnn.py").is_file() and (tmp_path / "model.safetensors").is_file()
    inputs = processor.preprocess_views(random_views(), MASK)
    expected = model(**inputs).logits
    for loader in (GravitySpyCNNForGlitchClassification, AutoModelForImageClassification):
        loaded = loader.from_pretrained(tmp_path).eval()
        assert type(loaded) is GravitySpyCNNForGlitchClassification
        torch.testing.assert_close(loaded(**inputs).logits, expected, rtol=0, atol=0)
    assert type(AutoConfig.from_pretrained(tmp_path)) is GravitySpyCNNConfig
    loaded_processor = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(loaded_processor) is GravityViTImageProcessor and loaded_processor.image_mean == [
        0.0,
        0.0,
        0.0,
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"num_views": 3, "view_durations_s": [0.5, 1.0, 2.0]}, "num_views must be 4"),
        ({"view_durations_s": [0.5, 1.0]}, "view_durations_s must have 4 entries"),
        ({"conv_channels": [4, 0]}, "conv_channels must be positive"),
        ({"kernel_size": 0}, "kernel_size must be a positive int"),
        ({"image_size": 4}, "too small"),
        ({"dropout": 1.0}, "dropout must lie in"),
        ({"class_weights": [1.0] * 3}, "class_weights must have one weight per label"),
        ({"image_std": [1.0, 0.0, 1.0]}, "image_std"),
    ],
)
def test_invalid_config_values_raise(overrides, message):
    with pytest.raises(ValueError, match=message):
        GravitySpyCNNConfig(**overrides)


def test_bad_inputs_raise():
    model = tiny_cnn()
    with pytest.raises(ValueError, match=r"pixel_values must have shape \(batch, 4, 3, 28, 34\)"):
        model(torch.zeros(2, 4, 3, 140, 170))
    with pytest.raises(ValueError, match="at least one present view"):
        model(torch.zeros(1, 4, 3, 28, 34), view_mask=torch.zeros(1, 4, dtype=torch.bool))
