"""conversion_scripts/convert_timm_to_gravityvit.py: a timm checkpoint becomes a ready model directory."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from gravityvit import GravityViTForGlitchClassification, GravityViTImageProcessor

SCRIPT = Path(__file__).resolve().parents[1] / "conversion_scripts" / "convert_timm_to_gravityvit.py"
BACKBONE_KWARGS = {"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 8}
CONFIG = {
    "backbone": "vit_tiny_patch16_224",
    "backbone_kwargs": BACKBONE_KWARGS,
    "image_size": 48,
    "fusion_num_heads": 4,
    "head_hidden_size": 16,
}


@pytest.fixture(scope="module")
def converter():
    spec = importlib.util.spec_from_file_location("convert_timm_to_gravityvit", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def checkpoint(tmp_path) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(7)
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, **BACKBONE_KWARGS)
    state = {key: value.contiguous() for key, value in source.state_dict().items()}
    path = tmp_path / "vit_tiny_imagenet.safetensors"
    save_file(state, str(path))
    return path, state


def test_writes_a_ready_model_directory(converter, checkpoint, tmp_path, capsys):
    path, state = checkpoint
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(CONFIG))
    output = tmp_path / "model"
    assert (
        converter.main(
            ["--backbone-weights", str(path), "--config", str(config_file), "--output", str(output)]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    names = {p.name for p in output.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "modeling_gravityvit.py"} <= names
    model = GravityViTForGlitchClassification.from_pretrained(output)
    backbone = model.gravityvit.backbone
    torch.testing.assert_close(
        backbone.blocks[0].mlp.fc1.weight, state["blocks.0.mlp.fc1.weight"], rtol=0, atol=0
    )
    assert backbone.pos_embed.shape == (1, 1 + 6 * 6, 32)  # resampled from 32 to 48 pixels
    processor = GravityViTImageProcessor.from_pretrained(output)
    assert processor.image_size == 48
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model")]  # no temporary left


def test_inline_json_and_overwrite(converter, checkpoint, tmp_path):
    path, _ = checkpoint
    output = tmp_path / "model"
    output.mkdir()
    (output / "keep.txt").write_text("existing")
    args = ["--backbone-weights", str(path), "--config", json.dumps(CONFIG), "--output", str(output)]
    assert converter.main(args) == 2  # refuses to replace without --overwrite
    # A folder that is not a model directory written by gravityvit is never replaced, even so.
    assert converter.main([*args, "--overwrite"]) == 2
    assert (output / "keep.txt").read_text() == "existing"
    args[-1] = str(tmp_path / "converted")
    assert converter.main(args) == 0
    assert converter.main(args) == 2
    assert converter.main([*args, "--overwrite"]) == 0  # an earlier model directory: replaced
    assert (tmp_path / "converted" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("weights", "config", "message"),
    [
        ("missing.safetensors", None, "file not found"),
        ("weights.txt", None, "must be one of"),
        (None, "gravityvit/multiview-l16", "neither a named configuration"),
        (None, "{not json", "not valid JSON"),
        (None, "gravityspy/cnn-baseline", "only GravityViT configs have a timm backbone"),
        (None, json.dumps({**CONFIG, "fusion": "max"}), "unknown fusion"),
        (None, json.dumps({**CONFIG, "backbone_kwargs": {**BACKBONE_KWARGS, "depth": 2}}), "could not load"),
    ],
)
def test_bad_inputs_exit_with_a_message(converter, checkpoint, tmp_path, capsys, weights, config, message):
    path, _ = checkpoint
    if weights is not None:
        path = tmp_path / weights
        if weights.endswith(".txt"):
            path.write_text("x")
    output = tmp_path / "model"
    code = converter.main(
        ["--backbone-weights", str(path), "--config", config or json.dumps(CONFIG), "--output", str(output)]
    )
    assert code == 2
    assert message in capsys.readouterr().err
    assert not output.exists()


def test_help(converter, capsys):
    with pytest.raises(SystemExit) as exit_info:
        converter.main(["--help"])
    assert exit_info.value.code == 0
    assert "--backbone-weights" in capsys.readouterr().out
