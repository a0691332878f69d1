"""GravityViTConfig: defaults, serialisation and the errors raised at construction."""

from __future__ import annotations

import pytest

from gravityvit import CLASS_NAMES, VIEW_DURATIONS_S, GravityViTConfig

TINY = {
    "backbone": "vit_tiny_patch16_224",
    "backbone_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8},
    "image_size": 32,
    "fusion_num_heads": 4,
}


def test_defaults_follow_the_gravity_spy_contract():
    config = GravityViTConfig()
    assert config.model_type == "gravityvit"
    assert config.backbone == "vit_base_patch16_224"
    assert config.num_views == 4 and config.view_durations_s == list(VIEW_DURATIONS_S)
    assert config.num_labels == 22
    assert [config.id2label[i] for i in range(22)] == list(CLASS_NAMES)
    assert config.label2id["Whistle"] == 21
    assert config.fusion == "cross_attention" and config.label_smoothing == 0.1
    assert config.hidden_size == 768
    # vit_base_patch16_224's timm pretrained_cfg normalises with 0.5 / 0.5.
    assert config.image_mean == [0.5, 0.5, 0.5] and config.image_std == [0.5, 0.5, 0.5]


def test_round_trip_through_json(tmp_path):
    config = GravityViTConfig(**TINY, fusion="concat")
    config.class_weights = [1.0] * 22
    config.save_pretrained(tmp_path)
    loaded = GravityViTConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.hidden_size == 32 and loaded.backbone_kwargs == TINY["backbone_kwargs"]


def test_rectangular_image_size_and_custom_labels():
    config = GravityViTConfig(**{**TINY, "image_size": [32, 48]}, id2label={0: "a", 1: "b"})
    assert config.image_size_hw == (32, 48)
    assert config.num_labels == 2 and config.label2id == {"a": 0, "b": 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backbone": "vit_bse_patch16_224"}, "unknown timm backbone"),
        ({"fusion": "sum"}, "unknown fusion"),
        ({"num_views": 3}, "one duration per view"),
        ({"view_durations_s": [0.5, 1.0, 1.0, 4.0]}, "distinct positive"),
        ({"num_views": 0, "view_durations_s": []}, "num_views must be an int >= 1"),
        ({"class_weights": [1.0] * 21}, "class_weights must have one weight per label"),
        ({"class_weights": [-1.0] * 22}, "non-negative"),
        ({"fusion_num_heads": 5}, "must divide the backbone's hidden size"),
        ({"fusion_depth": 0}, "fusion_depth must be an int >= 1"),
        ({"head_dropout": 1.0}, r"head_dropout must lie in \[0, 1\)"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"focal_gamma": -1.0}, "focal_gamma"),
        ({"image_size": 30}, "multiple of the backbone's patch size"),
        ({"image_size": [32, 32, 3]}, "image_size must be an int or a"),
        ({"backbone_kwargs": {"num_classes": 3}}, "backbone_kwargs may not set"),
        (
            {"backbone_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8, "bogus": 1}},
            "could not build",
        ),
        ({"hidden_size": 64}, "does not match backbone"),
        ({"image_mean": [0.5, 0.5]}, "image_mean must have 3 values"),
        ({"image_std": [0.5, 0.0, 0.5]}, "image_std must be positive"),
        ({"conv_stem_channels": [16, 0]}, "conv_stem_channels must be 1 to 6 positive ints"),
        ({"conv_stem_channels": [16, 32]}, "remove patch_size from backbone_kwargs"),
    ],
)
def test_invalid_values_raise_at_construction(overrides, message):
    with pytest.raises(ValueError, match=message):
        GravityViTConfig(**{**TINY, **overrides})


def test_conv_stem_sets_the_patch_size_and_must_end_at_the_token_width():
    kwargs = {"depth": 1, "embed_dim": 32, "num_heads": 2}
    config = GravityViTConfig(**{**TINY, "backbone_kwargs": kwargs, "conv_stem_channels": [16, 32]})
    assert config.conv_stem_channels == [16, 32] and config.hidden_size == 32
    # Two stride-2 convolutions make 4-pixel patches: 30 pixels is not a multiple of 4.
    with pytest.raises(ValueError, match=r"multiple of the backbone's patch size \[4, 4\]"):
        GravityViTConfig(
            **{**TINY, "backbone_kwargs": kwargs, "conv_stem_channels": [16, 32], "image_size": 30}
        )
    with pytest.raises(ValueError, match="must match embed dim"):
        GravityViTConfig(**{**TINY, "backbone_kwargs": kwargs, "conv_stem_channels": [16, 24]})
