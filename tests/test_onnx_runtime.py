"""ONNX export and ONNX Runtime inference: the demo model's logits within 1e-4 of torch for any view
mask, ``gravityvit predict --backend onnx`` giving the torch backend's output (calibrated temperature
and unknown flags included), and clear errors for models and files that cannot serve."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from inference_helpers import save_tiny, write_png_sample

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from gravityvit import (
    GravityViTConfig,
    GravityViTForGlitchClassification,
    GravityViTImageProcessor,
    get_named_config,
)
from gravityvit.commands import export_onnx as export_command
from gravityvit.commands import predict
from gravityvit.hub import save_shareable_model
from gravityvit.inference.onnx_runtime import (
    OnnxExportError,
    OnnxGlitchClassifier,
    OnnxModelError,
    export_onnx,
)

# Exports with torch's ONNX exporter and runs onnxruntime: about 12 CPU-seconds in all.
pytestmark = pytest.mark.slow

TOLERANCE = 1e-4


def run_command(module, name: str, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="gravityvit")
    module.register(parser.add_subparsers())
    args = parser.parse_args([name, *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """The demo model (random weights) saved as a model directory, with its ONNX export beside."""
    config = get_named_config("gravityvit/multiview-demo")
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(config).eval()
    directory = save_shareable_model(
        model,
        tmp_path_factory.mktemp("models") / "demo",
        image_processor=GravityViTImageProcessor.from_config(config),
        model_card="# demo\n",
        with_pipeline=False,
    )
    code = run_command(
        export_command, "export-onnx", "--model", str(directory), "--output", str(directory / "model.onnx")
    )
    assert code == 0
    return directory


@pytest.fixture(scope="module")
def demo_models(demo_dir):
    from gravityvit.hub import load_model_and_processor

    model, processor = load_model_and_processor(demo_dir)
    onnx_model, onnx_processor = OnnxGlitchClassifier.from_pretrained(demo_dir)
    assert onnx_processor.to_dict() == processor.to_dict()
    return model, onnx_model, processor


def _batch(processor, masks: list[list[bool]], seed: int = 0):
    views = np.random.default_rng(seed).random((len(masks), 4, 140, 170), dtype=np.float32)
    mask = np.array(masks, dtype=bool)
    views[~mask] = 0.0
    features = processor.preprocess_views(views, mask)
    return features["pixel_values"], features["view_mask"]


@pytest.mark.parametrize("batch_size", [1, 5, 64])
def test_logits_match_torch_for_any_batch(demo_models, batch_size):
    model, onnx_model, processor = demo_models
    pixel_values, view_mask = _batch(processor, [[True] * 4] * batch_size, seed=batch_size)
    with torch.no_grad():
        expected = model(pixel_values=pixel_values, view_mask=view_mask)
    got = onnx_model(pixel_values=pixel_values, view_mask=view_mask)
    assert got.logits.shape == (batch_size, 22)
    torch.testing.assert_close(got.logits, expected.logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(got.view_weights, expected.view_weights, atol=TOLERANCE, rtol=0)


def test_masked_views_match_torch(demo_models):
    model, onnx_model, processor = demo_models
    masks = [
        [True, False, True, True],
        [False, False, False, True],
        [True, True, True, True],
        [False, True, False, True],
        [True, False, False, False],
    ]
    pixel_values, view_mask = _batch(processor, masks, seed=7)
    with torch.no_grad():
        expected = model(pixel_values=pixel_values, view_mask=view_mask)
    got = onnx_model(pixel_values=pixel_values, view_mask=view_mask)
    torch.testing.assert_close(got.logits, expected.logits, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(got.view_weights, expected.view_weights, atol=TOLERANCE, rtol=0)
    # Absent views get no weight, and the sample's logits do not depend on what the slot holds.
    assert float(got.view_weights[~view_mask].abs().max()) == 0.0
    noisy = pixel_values.clone()
    noisy[~view_mask] = 1.0
    torch.testing.assert_close(onnx_model(pixel_values=noisy, view_mask=view_mask).logits, got.logits)


def test_predict_onnx_backend_matches_torch_with_calibration(demo_dir, tmp_path):
    inputs = tmp_path / "pngs" / "Blip"
    for index in range(3):
        write_png_sample(inputs, f"sample{index:04d}", seed=index)
    (inputs / "H1_brokenbrkn_spectrogram_1.0.png").write_text("not an image")
    # A calibration written after the export (temperature, unknown threshold) applies to both backends.
    config_path = demo_dir / "config.json"
    original = config_path.read_text()
    try:
        config = json.loads(original)
        config.update(logit_temperature=1.7, unknown_threshold=-3.09)
        config_path.write_text(json.dumps(config))
        outputs = {}
        for backend in ("torch", "onnx"):
            outputs[backend] = tmp_path / f"{backend}.json"
            code = run_command(
                predict, "predict", "--model", str(demo_dir), str(inputs.parent), "--backend", backend,
                "--output", str(outputs[backend]), "--batch-size", "2",
            )  # fmt: skip
            assert code == predict.EXIT_INPUT_FAILED  # the broken PNG, reported in both
    finally:
        config_path.write_text(original)
    torch_doc, onnx_doc = (json.loads(outputs[b].read_text()) for b in ("torch", "onnx"))
    assert onnx_doc["failures"] == torch_doc["failures"] and len(onnx_doc["failures"]) == 1
    assert [p["sample_id"] for p in onnx_doc["predictions"]] == [
        p["sample_id"] for p in torch_doc["predictions"]
    ]
    for got, expected in zip(onnx_doc["predictions"], torch_doc["predictions"]):
        assert [e["label"] for e in got["top_k"]] == [e["label"] for e in expected["top_k"]]
        np.testing.assert_allclose(
            [e["score"] for e in got["top_k"]], [e["score"] for e in expected["top_k"]], atol=1e-6
        )
        assert got["unknown_score"] == pytest.approx(expected["unknown_score"], abs=1e-5)
        assert got["is_unknown"] == expected["is_unknown"] is not None


def test_stale_or_missing_onnx_file_is_refused(demo_dir, tmp_path, capsys):
    other = save_tiny(tmp_path / "tiny", with_pipeline=False)
    code = run_command(predict, "predict", "--model", str(other), str(tmp_path), "--backend", "onnx")
    assert code == predict.EXIT_USAGE
    assert "export-onnx" in capsys.readouterr().err
    # The demo's ONNX file run for other weights and classes: refused, naming the file.
    with pytest.raises(OnnxModelError, match="exported from other weights"):
        OnnxGlitchClassifier.from_pretrained(other, demo_dir / "model.onnx")


class _UnsupportedHead(torch.nn.Module):
    """A head with an operator that has no ONNX equivalent (cumulative maximum)."""

    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return torch.cummax(self.head(pooled), dim=-1).values


class _DataDependentHead(torch.nn.Module):
    """A head that branches in Python on its batch size: tracing keeps only the example batch's branch."""

    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits = self.head(pooled)
        return logits if pooled.shape[0] > 1 else -logits


def _tiny_model(head_class=None) -> GravityViTForGlitchClassification:
    config = GravityViTConfig(
        backbone="vit_tiny_patch16_224",
        backbone_kwargs={"depth": 1, "embed_dim": 32, "num_heads": 2, "patch_size": 16},
        image_size=32,
        fusion_num_heads=2,
        fusion_num_queries=1,
        head_hidden_size=8,
    )
    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(config).eval()
    if head_class is not None:
        model.head = head_class(model.head)
    return model


def test_unexportable_models_give_clear_errors_and_write_nothing(tmp_path):
    output = tmp_path / "model.onnx"
    with pytest.raises(
        OnnxExportError, match=r"cannot export GravityViTForGlitchClassification .*aten::cummax"
    ):
        export_onnx(_tiny_model(_UnsupportedHead), output)
    with pytest.raises(OnnxExportError, match="disagrees with the model"):
        export_onnx(_tiny_model(_DataDependentHead), output)
    with pytest.raises(OnnxExportError, match="not a glitch classifier"):
        export_onnx(torch.nn.Linear(2, 2), output)
    assert list(tmp_path.iterdir()) == []


def test_export_command_errors_exit_two(tmp_path, capsys):
    assert run_command(export_command, "export-onnx", "--model", str(tmp_path), "--output", "m.txt") == 2
    assert "--output must end in .onnx" in capsys.readouterr().err
    code = run_command(
        export_command, "export-onnx", "--model", str(tmp_path), "--output", str(tmp_path / "m.onnx")
    )
    assert code == 2
    assert "cannot load model" in capsys.readouterr().err
    # An existing file that is not an earlier export is never replaced.
    notes = tmp_path / "notes.onnx"
    notes.write_text("my notes")
    other = save_tiny(tmp_path / "tiny", with_pipeline=False)
    assert run_command(export_command, "export-onnx", "--model", str(other), "--output", str(notes)) == 2
    assert notes.read_text() == "my notes"
