"""GravityViTConfig: defaults, serialisation, the errors raised at construction, and the fields
derived from the backbone when the model is built."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gravityvit import CLASS_NAMES, VIEW_DURATIONS_S, GravityViTConfig, GravityViTModel
from gravityvit.modeling_backbone import resolve_backbone_fields

REPO_ROOT = Path(__file__).resolve().parents[1]

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
    # What the backbone decides is left to it until the model is built.
    assert config.hidden_size is None and config.image_mean is None and config.image_std is None
    resolve_backbone_fields(config)
    assert config.hidden_size == 768
    # vit_base_patch16_224's timm pretrained_cfg normalises with 0.5 / 0.5.
    assert config.image_mean == [0.5, 0.5, 0.5] and config.image_std == [0.5, 0.5, 0.5]


def test_building_the_model_fills_the_backbone_fields(tmp_path):
    config = GravityViTConfig(**TINY)
    model = GravityViTModel(config)
    assert model.config is config and config.hidden_size == 32
    assert config.image_mean == [0.5, 0.5, 0.5] and config.image_std == [0.5, 0.5, 0.5]
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["hidden_size"] == 32 and saved["image_std"] == [0.5, 0.5, 0.5]


def test_reading_a_config_needs_neither_torch_nor_timm(tmp_path):
    config = GravityViTConfig(**TINY, hidden_size=32, image_mean=[0.2] * 3, image_std=[0.1] * 3)
    config.save_pretrained(tmp_path)
    # The configuration modules are read as a package of their own (no gravityvit/__init__.py),
    # with torch and timm made unimportable.
    script = textwrap.dedent(
        f"""
        import sys, types
        sys.modules["torch"] = None
        sys.modules["timm"] = None
        package = types.ModuleType("gravityvit")
        package.__path__ = [{str(REPO_ROOT / "gravityvit")!r}]
        sys.modules["gravityvit"] = package
        from gravityvit.configuration_gravityvit import GravityViTConfig
        from gravityvit.configuration_gravityspy_cnn import GravitySpyCNNConfig
        config = GravityViTConfig.from_pretrained({str(tmp_path)!r})
        assert config.hidden_size == 32 and config.image_mean == [0.2, 0.2, 0.2], config
        assert GravitySpyCNNConfig().num_labels == 22
        print("read without torch")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "read without torch" in result.stdout


def test_an_existing_config_json_loads(tmp_path):
    # A config.json as written before the backbone fields were derived at model build time:
    # hidden_size, image_mean and image_std are stored, and must agree with the backbone.
    values = {
        **GravityViTConfig(**TINY).to_dict(),
        "hidden_size": 32,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    }
    (tmp_path / "config.json").write_text(json.dumps(values))
    loaded = GravityViTConfig.from_pretrained(tmp_path)
    assert loaded.hidden_size == 32 and loaded.image_mean == [0.5, 0.5, 0.5]
    assert GravityViTModel(loaded).duration_embedding.shape == (4, 32)


def test_round_trip_through_json(tmp_path):
    config = GravityViTConfig(**TINY, fusion="concat")
    config.class_weights = [1.0] * 22
    config.save_pretrained(tmp_path)
    loaded = GravityViTConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.hidden_size is None and loaded.backbone_kwargs == TINY["backbone_kwargs"]


def test_rectangular_image_size_and_custom_labels():
    config = GravityViTConfig(**{**TINY, "image_size": [32, 48]}, id2label={0: "a", 1: "b"})
    assert config.image_size_hw == (32, 48)
    assert config.num_labels == 2 and config.label2id == {"a": 0, "b": 1}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fusion": "sum"}, "unknown fusion"),
        ({"num_views": 3}, "one duration per view"),
        ({"view_durations_s": [0.5, 1.0, 1.0, 4.0]}, "distinct positive"),
        ({"num_views": 0, "view_durations_s": []}, "num_views must be an int >= 1"),
        ({"class_weights": [1.0] * 21}, "class_weights must have one weight per label"),
        ({"class_weights": [-1.0] * 22}, "non-negative"),
        ({"fusion_num_heads": 5, "hidden_size": 32}, "must divide the backbone's hidden size"),
        ({"fusion_depth": 0}, "fusion_depth must be an int >= 1"),
        ({"head_dropout": 1.0}, r"head_dropout must lie in \[0, 1\)"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"focal_gamma": -1.0}, "focal_gamma"),
        ({"image_size": [32, 32, 3]}, "image_size must be an int or a"),
        ({"backbone_kwargs": {"num_classes": 3}}, "backbone_kwargs may not set"),
        ({"image_mean": [0.5, 0.5]}, "image_mean must have 3 values"),
        ({"image_std": [0.5, 0.0, 0.5]}, "image_std must be positive"),
        ({"conv_stem_channels": [16, 0]}, "conv_stem_channels must be 1 to 6 positive ints"),
        ({"conv_stem_channels": [16, 32]}, "remove patch_size from backbone_kwargs"),
        ({"conv_stem_strides": [2, 2]}, "conv_stem_strides needs conv_stem_channels"),
        (
            {"conv_stem_channels": [16, 32], "conv_stem_strides": [4]},
            "one positive int per entry of conv_stem_channels",
        ),
    ],
)
def test_invalid_values_raise_at_construction(overrides, message):
    with pytest.raises(ValueError, match=message):
        GravityViTConfig(**{**TINY, **overrides})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"backbone": "vit_bse_patch16_224"}, "unknown timm backbone"),
        ({"fusion_num_heads": 5}, "must divide the backbone's hidden size"),
        ({"image_size": 30}, "multiple of the backbone's patch size"),
        (
            {"backbone_kwargs": {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8, "bogus": 1}},
            "could not build",
        ),
        ({"hidden_size": 64}, "does not match backbone"),
    ],
)
def test_values_that_do_not_fit_the_backbone_raise_when_the_model_is_built(overrides, message):
    config = GravityViTConfig(**{**TINY, **overrides})
    with pytest.raises(ValueError, match=message):
        GravityViTModel(config)
    with pytest.raises(ValueError, match=message):
        resolve_backbone_fields(config)


def test_conv_stem_sets_the_patch_size_and_must_end_at_the_token_width():
    kwargs = {"depth": 1, "embed_dim": 32, "num_heads": 2}
    config = GravityViTConfig(**{**TINY, "backbone_kwargs": kwargs, "conv_stem_channels": [16, 32]})
    assert config.conv_stem_channels == [16, 32] and resolve_backbone_fields(config).hidden_size == 32
    # Two stride-2 convolutions make 4-pixel patches: 30 pixels is not a multiple of 4.
    with pytest.raises(ValueError, match=r"multiple of the backbone's patch size \[4, 4\]"):
        resolve_backbone_fields(
            GravityViTConfig(
                **{**TINY, "backbone_kwargs": kwargs, "conv_stem_channels": [16, 32], "image_size": 30}
            )
        )
    with pytest.raises(ValueError, match="must match embed dim"):
        resolve_backbone_fields(
            GravityViTConfig(**{**TINY, "backbone_kwargs": kwargs, "conv_stem_channels": [16, 24]})
        )
