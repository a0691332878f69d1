"""conversion_scripts/convert_trainer_checkpoint.py on a real checkpoint written by the HF Trainer."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from inference_helpers import REPO_ROOT, tiny_gravityvit
from transformers import AutoModelForImageClassification, Trainer, TrainingArguments


def _load_script():
    path = REPO_ROOT / "conversion_scripts" / "convert_trainer_checkpoint.py"
    spec = importlib.util.spec_from_file_location("convert_trainer_checkpoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """checkpoint-2 of a two-step Trainer run with an evaluation (optimizer, scheduler, RNG state saved)."""
    model, processor = tiny_gravityvit()
    generator = torch.Generator().manual_seed(0)
    examples = [
        {
            "pixel_values": torch.randn(4, 3, 32, 32, generator=generator),
            "view_mask": torch.ones(4, dtype=torch.bool),
            "labels": i % 3,
        }
        for i in range(4)
    ]
    output_dir = tmp_path_factory.mktemp("run")

    def accuracy(prediction):
        logits, labels = prediction
        return {
            "accuracy": float(
                (np.argmax(logits[0] if isinstance(logits, tuple) else logits, -1) == labels).mean()
            )
        }

    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=2,
        per_device_train_batch_size=2,
        per_device_eval_batch_size=4,
        eval_strategy="steps",
        eval_steps=2,
        save_steps=2,
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=examples,
        eval_dataset=examples,
        processing_class=processor,
        compute_metrics=accuracy,
    )
    trainer.train()
    path = output_dir / "checkpoint-2"
    assert (path / "optimizer.pt").is_file() and (path / "trainer_state.json").is_file()
    return path


def test_converts_to_a_clean_shareable_directory(checkpoint, tmp_path, capsys):
    output = tmp_path / "shareable"
    code = script.main(
        ["--checkpoint", str(checkpoint), "--output", str(output), "--dataset-version", "v1d1", "--model-id",
         "gravityvit/tiny-test", "--simulated"]
    )  # fmt: skip
    assert code == script.EXIT_OK
    assert "left behind (training state): optimizer.pt" in capsys.readouterr().out
    files = {p.name for p in output.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "README.md",
        "pipelines.py",
    } <= files
    assert {"modeling_gravityvit.py", "configuration_gravityvit.py", "gravity_spy.py"} <= files
    assert not files & {
        "optimizer.pt",
        "scheduler.pt",
        "rng_state.pth",
        "training_args.bin",
        "trainer_state.json",
    }
    config = json.loads((output / "config.json").read_text())
    assert (
        "AutoModelForImageClassification" in config["auto_map"]
        and "glitch-classification" in config["custom_pipelines"]
    )

    card = ModelCard.load(output / "README.md")
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    accuracy = [e["eval_accuracy"] for e in state["log_history"] if "eval_accuracy" in e][-1]
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results[("validation", "accuracy")] == pytest.approx(accuracy)
    assert "simulated-data" in card.data.tags and "gravityvit/tiny-test" in card.text

    original = AutoModelForImageClassification.from_pretrained(checkpoint).eval()
    converted = AutoModelForImageClassification.from_pretrained(output).eval()
    inputs = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(
            converted(pixel_values=inputs).logits, original(pixel_values=inputs).logits
        )


def test_bad_inputs_and_existing_output(checkpoint, tmp_path, capsys):
    assert script.main(["--checkpoint", str(tmp_path / "nope"), "--output", str(tmp_path / "o")]) == 2
    assert "not a directory" in capsys.readouterr().err
    empty = tmp_path / "checkpoint-0"
    empty.mkdir()
    assert script.main(["--checkpoint", str(empty), "--output", str(tmp_path / "o")]) == 2
    assert "no config.json" in capsys.readouterr().err
    (empty / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (empty / "model.safetensors").write_bytes(b"")
    assert script.main(["--checkpoint", str(empty), "--output", str(tmp_path / "o")]) == 2
    assert "is not a GravityViT model" in capsys.readouterr().err
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    assert script.main(["--checkpoint", str(checkpoint), "--output", str(existing)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (existing / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as help_exit:
        script.main(["--help"])
    assert help_exit.value.code == 0 and "checkpoint-*" in capsys.readouterr().out
