"""Named configurations: every name resolves offline to a valid config, none carries weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gravityvit import (
    GravitySpyCNNConfig,
    GravityViTConfig,
    GravityViTForGlitchClassification,
    GravityViTImageProcessor,
    get_named_config,
    list_named_configs,
)
from gravityvit.modeling_backbone import resolve_backbone_fields
from gravityvit.named_configs import NAMED_CONFIGS

REQUIRED = {
    "gravityvit/multiview-b16",
    "gravityvit/multiview-s16",
    "gravityvit/multiview-ti16",
    "gravityvit/singleview-b16",
    "gravityvit/multiview-demo",
    "gravityspy/cnn-baseline",
}


def test_the_required_names_exist():
    assert set(list_named_configs()) >= REQUIRED
    assert all(named.description for named in NAMED_CONFIGS.values())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_name_builds_a_valid_config(name):
    config = get_named_config(name)
    assert config.num_labels == 22
    assert config is not get_named_config(name)  # a fresh object each time


def test_sizes_and_layouts():
    b16 = get_named_config("gravityvit/multiview-b16")
    assert isinstance(b16, GravityViTConfig)
    assert (b16.backbone, b16.image_size, b16.num_views, b16.fusion) == (
        "vit_base_patch16_224",
        224,
        4,
        "cross_attention",
    )
    assert b16.hidden_size == 768
    assert get_named_config("gravityvit/multiview-s16").hidden_size == 384
    assert get_named_config("gravityvit/multiview-ti16").hidden_size == 192
    single = get_named_config("gravityvit/singleview-b16")
    assert (single.num_views, single.view_durations_s, single.fusion, single.head_hidden_size) == (
        1,
        [1.0],
        "mean",
        0,
    )
    assert isinstance(get_named_config("gravityspy/cnn-baseline"), GravitySpyCNNConfig)


def test_overrides_and_unknown_names():
    config = get_named_config("gravityvit/multiview-ti16", image_size=112, class_weights=[1.0] * 22)
    assert config.image_size == 112 and config.class_weights == [1.0] * 22
    with pytest.raises(KeyError, match="unknown named configuration 'gravityvit/multiview-l16'"):
        get_named_config("gravityvit/multiview-l16")
    with pytest.raises(ValueError, match="unknown fusion"):
        get_named_config("gravityvit/multiview-demo", fusion="max")


def test_the_demo_config_runs_on_a_cpu():
    config = get_named_config("gravityvit/multiview-demo")
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(config).eval()
    assert sum(p.numel() for p in model.parameters()) < 600_000
    processor = GravityViTImageProcessor.from_config(config)
    inputs = processor(np.random.default_rng(0).random((2, 4, 140, 170), dtype=np.float32))
    assert inputs["pixel_values"].shape == (2, 4, 3, 64, 80)
    with torch.no_grad():
        outputs = model(**inputs)
    assert outputs.logits.shape == (2, 22) and outputs.view_weights.shape == (2, 4)


@pytest.mark.parametrize("name", sorted(n for n, c in NAMED_CONFIGS.items() if c.derived))
def test_the_stored_backbone_fields_are_what_the_backbone_gives(name):
    named = NAMED_CONFIGS[name]
    config = get_named_config(name)
    for field, value in named.derived.items():
        assert getattr(config, field) == value
    # Without the stored values, the backbone gives the same ones.
    bare = named.config_class(**named.kwargs)
    assert bare.hidden_size is None
    resolved = resolve_backbone_fields(bare)
    assert {field: getattr(resolved, field) for field in named.derived} == named.derived


def test_overriding_the_backbone_leaves_its_fields_to_the_new_backbone():
    kwargs = {**NAMED_CONFIGS["gravityvit/multiview-demo"].kwargs["backbone_kwargs"], "embed_dim": 48}
    config = get_named_config(
        "gravityvit/multiview-demo", backbone_kwargs=kwargs, conv_stem_channels=[24, 48, 48]
    )
    assert config.hidden_size is None and config.image_mean == [0.16, 0.16, 0.16]
    model = GravityViTForGlitchClassification(config)
    assert config.hidden_size == 48 and model.head is not None


def test_overriding_the_stem_channels_drops_the_named_strides():
    config = get_named_config("gravityvit/multiview-demo", conv_stem_channels=[16, 32, 64, 96])
    assert config.conv_stem_strides is None
    assert get_named_config("gravityvit/multiview-demo", conv_stem_channels=None).conv_stem_strides is None
    assert get_named_config("gravityvit/multiview-demo").conv_stem_strides == [4, 2, 2]
