"""GravityViT models: shapes, masking, batching, training, saving, remote code and backbone weights."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import timm
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import AutoConfig, AutoImageProcessor, AutoModel, AutoModelForImageClassification

from gravityvit import (
    GlitchClassifierOutput,
    GravitySpyCNNConfig,
    GravitySpyCNNForGlitchClassification,
    GravityViTConfig,
    GravityViTForGlitchClassification,
    GravityViTImageProcessor,
    GravityViTModel,
    glitch_classification_loss,
)

BACKBONE_KWARGS = {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8}
NUM_TOKENS = 1 + (32 // 8) ** 2  # class token + patches


def tiny_config(**overrides) -> GravityViTConfig:
    """A GravityViT small enough for CPU tests: 1 block of width 32 on 32x32 inputs."""
    values = {
        "backbone": "vit_tiny_patch16_224",
        "backbone_kwargs": BACKBONE_KWARGS,
        "image_size": 32,
        "fusion_num_heads": 4,
        "fusion_num_queries": 2,
        "head_hidden_size": 16,
        "drop_path_rate": 0.0,
        "head_dropout": 0.0,
    }
    values.update(overrides)
    return GravityViTConfig(**values)


def tiny_model(**overrides) -> GravityViTForGlitchClassification:
    torch.manual_seed(0)
    return GravityViTForGlitchClassification(tiny_config(**overrides)).eval()


def random_inputs(batch: int = 3, views: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, views, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


MASK = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.bool)


@pytest.mark.parametrize("fusion", ["cross_attention", "mean", "concat"])
def test_forward_shapes_with_masked_views(fusion):
    model = tiny_model(fusion=fusion)
    outputs = model(random_inputs(), view_mask=MASK, output_hidden_states=True, output_attentions=True)
    assert isinstance(outputs, GlitchClassifierOutput)
    assert outputs.logits.shape == (3, 22)
    assert outputs.view_weights.shape == (3, 4)
    torch.testing.assert_close(outputs.view_weights.sum(1), torch.ones(3))
    assert bool((outputs.view_weights[~MASK] == 0).all())
    assert outputs.hidden_states[0].shape == (3, 4, NUM_TOKENS, 32)
    if fusion == "cross_attention":
        assert len(outputs.hidden_states) == 2 and outputs.hidden_states[1].shape == (3, 2, 32)
        assert len(outputs.attentions) == 1 and outputs.attentions[0].shape == (3, 4, 2, 4 * NUM_TOKENS)
        assert bool((outputs.view_weights[MASK] > 0).all())
    else:
        assert outputs.attentions is None
        torch.testing.assert_close(outputs.view_weights[1], torch.tensor([0.5, 0.0, 0.5, 0.0]))


def test_single_view_input_fills_the_one_second_slot():
    model = tiny_model()
    pixels = random_inputs()
    single = model(pixels[:, 1])
    assert single.logits.shape == (3, 22)
    torch.testing.assert_close(single.view_weights, torch.tensor([[0.0, 1.0, 0.0, 0.0]] * 3))
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[:, 1] = True
    torch.testing.assert_close(single.logits, model(pixels, view_mask=mask).logits)
    other_slot = model(pixels[:, 3], view_index=3)
    assert other_slot.view_weights[0, 3] == 1.0


def test_single_view_config():
    model = tiny_model(num_views=1, view_durations_s=[1.0], fusion="mean", head_hidden_size=0)
    pixels = random_inputs(views=1)
    torch.testing.assert_close(model(pixels[:, 0]).logits, model(pixels).logits)
    assert model(pixels).view_weights.shape == (3, 1)


@pytest.mark.parametrize("fusion", ["cross_attention", "concat"])
def test_sample_alone_and_in_a_batch_give_the_same_logits(fusion):
    model = tiny_model(fusion=fusion)
    pixels = random_inputs()
    batched = model(pixels, view_mask=MASK)
    for index in range(3):
        alone = model(pixels[index : index + 1], view_mask=MASK[index : index + 1])
        torch.testing.assert_close(alone.logits, batched.logits[index : index + 1], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            alone.view_weights, batched.view_weights[index : index + 1], atol=1e-5, rtol=1e-5
        )


def test_masked_view_content_is_ignored():
    model = tiny_model()
    pixels = random_inputs()
    changed = pixels.clone()
    changed[~MASK] = 100.0
    torch.testing.assert_close(model(pixels, view_mask=MASK).logits, model(changed, view_mask=MASK).logits)


def test_backbone_runs_once_per_batch():
    model = tiny_model()
    calls = []
    model.gravityvit.backbone.register_forward_pre_hook(lambda module, args: calls.append(args))
    original = model.gravityvit.backbone.forward_features

    def counting_forward_features(x):
        calls.append(x.shape)
        return original(x)

    model.gravityvit.backbone.forward_features = counting_forward_features
    model(random_inputs(), view_mask=MASK)
    assert calls == [torch.Size([7, 3, 32, 32])]  # the 7 present views, in one call


@pytest.mark.slow
def test_a_few_steps_drive_the_loss_down():
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(tiny_config(label_smoothing=0.0))
    pixels = random_inputs(batch=8, seed=1)
    labels = torch.arange(8) % 4
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    losses = []
    for _ in range(12):
        loss = model(pixels, labels=labels).loss
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.7 * losses[0], losses


def test_gradient_checkpointing_uses_timm():
    model = tiny_model()
    model.train()
    model.activation_checkpointing_enable()
    assert model.gravityvit.backbone.grad_checkpointing
    model(random_inputs(), labels=torch.tensor([0, 1, 2])).loss.backward()
    assert model.gravityvit.backbone.blocks[0].attn.qkv.weight.grad is not None
    model.activation_checkpointing_disable()
    assert not model.gravityvit.backbone.grad_checkpointing


def test_loss_follows_the_config():
    logits = torch.randn(6, 22, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 21, 5, -100, 7])
    weights = torch.rand(22, generator=torch.Generator().manual_seed(1)) + 0.5
    expected = F.cross_entropy(logits, labels, weight=weights, label_smoothing=0.1)
    torch.testing.assert_close(glitch_classification_loss(logits, labels, 0.1, 0.0, weights), expected)
    # The focal loss reduces to the same cross-entropy as gamma -> 0 and down-weights easy samples.
    torch.testing.assert_close(glitch_classification_loss(logits, labels, 0.1, 1e-8, weights), expected)
    assert glitch_classification_loss(logits, labels, 0.0, 2.0) < glitch_classification_loss(
        logits, labels, 0.0, 0.0
    )
    model = tiny_model(focal_gamma=2.0, class_weights=weights.tolist())
    outputs = model(random_inputs(), labels=torch.tensor([0, 1, 2]))
    assert outputs.loss.ndim == 0 and torch.isfinite(outputs.loss)
    with pytest.raises(ValueError, match="labels must lie in"):
        glitch_classification_loss(logits, torch.tensor([0, 1, 2, 3, 4, 22]))


@pytest.mark.parametrize(
    ("pixels", "kwargs", "message"),
    [
        (
            torch.zeros(2, 5, 3, 32, 32),
            {},
            r"pixel_values must have shape \(batch, 4, 3, 32, 32\) or \(batch, 3, 32, 32\); got \(2, 5, 3, 32, 32\)",
        ),
        (torch.zeros(2, 4, 1, 32, 32), {}, "pixel_values must have shape"),
        (torch.zeros(2, 4, 3, 64, 64), {}, "pixel_values must have shape"),
        (torch.zeros(2, 3, 32), {}, "pixel_values must have shape"),
        (torch.zeros(2, 1, 32, 32), {}, r"pixel_values must have shape .*; got \(2, 1, 32, 32\)"),
        (
            torch.zeros(2, 4, 3, 32, 32),
            {"view_mask": torch.ones(2, 3, dtype=torch.bool)},
            "view_mask must have shape",
        ),
        (
            torch.zeros(2, 4, 3, 32, 32),
            {"view_mask": torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)},
            r"samples \[1\] have none",
        ),
        (
            torch.zeros(2, 4, 3, 32, 32),
            {"view_mask": torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0]])},
            "view_mask must be a torch.bool tensor",
        ),
        (torch.zeros(2, 3, 32, 32), {"view_index": 4}, "view_index must lie in"),
        (torch.zeros(2, 3, 32, 32), {"view_mask": torch.ones(2, 4)}, "view_mask is only accepted"),
    ],
)
def test_bad_inputs_raise(pixels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_model()(pixels, **kwargs)


def test_save_load_and_auto_classes_give_identical_logits(tmp_path):
    model = tiny_model()
    processor = GravityViTImageProcessor.from_config(model.config)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    for name in ("modeling_gravityvit.py", "configuration_gravityvit.py", "gravity_spy.py", "losses.py"):
        assert (tmp_path / name).is_file(), name
    pixels = random_inputs()
    expected = model(pixels, view_mask=MASK).logits
    for loader in (GravityViTForGlitchClassification, AutoModelForImageClassification):
        loaded = loader.from_pretrained(tmp_path).eval()
        assert type(loaded) is GravityViTForGlitchClassification
        torch.testing.assert_close(loaded(pixels, view_mask=MASK).logits, expected, rtol=0, atol=0)
    assert type(AutoConfig.from_pretrained(tmp_path)) is GravityViTConfig
    assert type(AutoImageProcessor.from_pretrained(tmp_path)) is GravityViTImageProcessor
    encoder = AutoModel.from_pretrained(tmp_path).eval()
    assert type(encoder) is GravityViTModel
    torch.testing.assert_close(
        encoder(pixels, view_mask=MASK).pooler_output,
        model.gravityvit(pixels, view_mask=MASK).pooler_output,
        rtol=0,
        atol=0,
    )


# A backbone whose tokens come from a convolutional stem: no class token, average-pooled.
STEM_BACKBONE_KWARGS = {
    "depth": 1,
    "embed_dim": 32,
    "num_heads": 2,
    "global_pool": "avg",
    "class_token": False,
}


def test_conv_stem_replaces_the_patch_embedding_and_survives_save_load(tmp_path):
    model = tiny_model(backbone_kwargs=STEM_BACKBONE_KWARGS, conv_stem_channels=[8, 16, 32])
    patch_embed = model.gravityvit.backbone.patch_embed
    # Three stride-2 convolutions: 8x8-pixel patches, a 4x4 token grid, no class token.
    assert patch_embed.grid_size == (4, 4) and patch_embed.feature_ratio == (8, 8)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in patch_embed.modules()) == 3
    pixels = random_inputs()
    expected = model(pixels, view_mask=MASK)
    assert expected.logits.shape == (3, 22)
    model.save_pretrained(tmp_path)
    loaded = GravityViTForGlitchClassification.from_pretrained(tmp_path).eval()
    # The stem's BatchNorm statistics are buffers: they are saved and restored too.
    torch.testing.assert_close(loaded(pixels, view_mask=MASK).logits, expected.logits, rtol=0, atol=0)


def test_patchify_stem_reads_twice_the_resolution_into_the_same_tokens():
    model = tiny_model(
        backbone_kwargs=STEM_BACKBONE_KWARGS,
        conv_stem_channels=[8, 16, 32],
        conv_stem_strides=[4, 2, 2],
        image_size=64,
    )
    patch_embed = model.gravityvit.backbone.patch_embed
    # A 4x4 patchify layer then two 3x3 stride-2 convolutions: 16x16-pixel tokens, a 4x4 grid at 64x64.
    assert patch_embed.grid_size == (4, 4) and patch_embed.feature_ratio == (16, 16)
    first = next(m for m in patch_embed.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.kernel_size == (4, 4) and first.stride == (4, 4) and first.padding == (0, 0)
    pixels = torch.randn(3, 4, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert model(pixels, view_mask=MASK).logits.shape == (3, 22)


REMOTE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["gravityvit"] = None  # the package is editable-installed: block it explicitly
    try:
        import gravityvit  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("gravityvit must not be importable here")
    import numpy as np
    import torch
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    for directory in sys.argv[1:]:
        model = AutoModelForImageClassification.from_pretrained(directory, trust_remote_code=True).eval()
        processor = AutoImageProcessor.from_pretrained(directory, trust_remote_code=True)
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert type(processor).__module__.startswith("transformers_modules"), type(processor).__module__
        views = np.load(directory + "/views.npy")
        with torch.no_grad():
            logits = model(**processor(views)).logits
        np.save(directory + "/remote_logits.npy", logits.numpy())
    """
)


def run_remote_code_check(directories: list[Path], tmp_path: Path) -> None:
    """Load each directory with trust_remote_code in a subprocess that cannot import gravityvit."""
    script = tmp_path / "remote_check.py"
    script.write_text(REMOTE_SCRIPT)
    repo = str(Path(__file__).resolve().parents[1])
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    # One thread: the check is about imports, and pytest-xdist already runs a worker per core.
    env.update(
        HF_HUB_OFFLINE="1",
        HF_MODULES_CACHE=str(tmp_path / "modules"),
        PYTHONNOUSERSITE="1",
        OMP_NUM_THREADS="1",
    )
    result = subprocess.run(
        [sys.executable, str(script), *map(str, directories)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert repo not in env.get("PYTHONPATH", "")


@pytest.mark.slow
def test_trust_remote_code_round_trip_without_the_package(tmp_path):
    """Both families (GravityViT and the CNN baseline) load from their saved code alone, in one subprocess."""
    import numpy as np

    torch.manual_seed(0)
    cnn = GravitySpyCNNForGlitchClassification(
        GravitySpyCNNConfig(image_size=[16, 20], conv_channels=[4, 4, 4, 4], dense_size=8)
    ).eval()
    views = np.random.default_rng(0).random((2, 4, 140, 170), dtype=np.float32)
    directories, expected = [], []
    for name, model in (("gravityvit", tiny_model()), ("cnn", cnn)):
        processor = GravityViTImageProcessor.from_config(model.config)
        directory = tmp_path / name
        model.save_pretrained(directory)
        processor.save_pretrained(directory)
        np.save(directory / "views.npy", views)
        with torch.no_grad():
            expected.append(model(**processor(views)).logits.numpy())
        directories.append(directory)
    run_remote_code_check(directories, tmp_path)
    for directory, logits in zip(directories, expected):
        np.testing.assert_allclose(np.load(directory / "remote_logits.npy"), logits, rtol=0, atol=1e-6)


def timm_checkpoint(path: Path, image_size: int = 32) -> dict[str, torch.Tensor]:
    """Save a tiny timm model of the test backbone (with a 1000-class head, as ImageNet weights have)."""
    torch.manual_seed(123)
    source = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=image_size, **BACKBONE_KWARGS
    )
    state = {key: value.contiguous() for key, value in source.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return state


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_backbone_weights_survive_post_init_and_save_load(tmp_path, suffix):
    state = timm_checkpoint(tmp_path / f"backbone{suffix}")
    model = tiny_model()
    model.load_backbone_weights(tmp_path / f"backbone{suffix}")
    backbone = model.gravityvit.backbone
    for key, value in backbone.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)
    model.post_init()  # re-initialises GravityViT's own modules only
    torch.testing.assert_close(
        backbone.blocks[0].attn.qkv.weight, state["blocks.0.attn.qkv.weight"], rtol=0, atol=0
    )
    model.save_pretrained(tmp_path / "model")
    loaded = GravityViTForGlitchClassification.from_pretrained(tmp_path / "model")
    for key, value in loaded.gravityvit.backbone.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0, msg=key)


def test_backbone_weights_resample_the_position_embedding(tmp_path):
    state = timm_checkpoint(tmp_path / "backbone.safetensors", image_size=32)
    model = tiny_model(image_size=48)
    model.load_backbone_weights(tmp_path / "backbone.safetensors")
    assert model.gravityvit.backbone.pos_embed.shape == (1, 1 + 6 * 6, 32)
    torch.testing.assert_close(model.gravityvit.backbone.pos_embed[:, 0], state["pos_embed"][:, 0])
    torch.testing.assert_close(
        model.gravityvit.backbone.patch_embed.proj.weight, state["patch_embed.proj.weight"]
    )


def test_backbone_weights_errors(tmp_path):
    model = tiny_model()
    with pytest.raises(FileNotFoundError, match="not found"):
        model.load_backbone_weights(tmp_path / "missing.safetensors")
    (tmp_path / "weights.txt").write_text("x")
    with pytest.raises(ValueError, match="must be one of"):
        model.load_backbone_weights(tmp_path / "weights.txt")
    other = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        img_size=32,
        depth=2,
        embed_dim=32,
        num_heads=2,
        patch_size=8,
    )
    save_file(
        {k: v.contiguous() for k, v in other.state_dict().items()}, str(tmp_path / "deeper.safetensors")
    )
    with pytest.raises(ValueError, match="could not load"):
        model.load_backbone_weights(tmp_path / "deeper.safetensors")


@pytest.mark.parametrize("masked", [False, True])
def test_cross_attention_orders_agree(masked):
    """The re-associated order (queries projected into the keys' space) is the textbook attention."""
    from gravityvit.modeling_gravityvit import GravityViTCrossAttention

    torch.manual_seed(0)
    attention = GravityViTCrossAttention(32, 4, 0.0)
    torch.nn.init.normal_(attention.kv_proj.bias, std=0.5)  # the bias terms must cancel / carry over
    queries = torch.randn(2, 2, 32)
    keys = torch.randn(2, 3 * NUM_TOKENS, 32, requires_grad=True)
    mask = torch.ones(2, 3 * NUM_TOKENS, dtype=torch.bool)
    mask[1, NUM_TOKENS:] = False
    key_mask = mask if masked else None
    q = attention.q_proj(queries).view(2, 2, 4, 8).transpose(1, 2)
    probs, attended = attention._attend_projected_keys(q, keys, key_mask)
    probs_fast, attended_fast = attention._attend_projected_queries(q, keys, key_mask)
    torch.testing.assert_close(probs_fast, probs, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(attended_fast, attended, atol=1e-5, rtol=1e-5)
    if masked:
        assert float(probs_fast[1, :, :, NUM_TOKENS:].abs().max()) == 0.0
    grad = torch.autograd.grad(attended.square().sum(), keys)[0]
    grad_fast = torch.autograd.grad(attended_fast.square().sum(), keys)[0]
    torch.testing.assert_close(grad_fast, grad, atol=1e-5, rtol=1e-4)
    # With attention dropout in training the re-associated order mixes the dropped probabilities
    # explicitly instead of calling the fused kernel; a dropout that drops nothing gives the same.
    attention.train()
    attention.attn_dropout.p = 1e-12
    probs_dropout, attended_dropout = attention._attend_projected_queries(q, keys, key_mask)
    torch.testing.assert_close(probs_dropout, probs, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(attended_dropout, attended, atol=1e-5, rtol=1e-5)
