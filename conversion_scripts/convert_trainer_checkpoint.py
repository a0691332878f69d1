#!/usr/bin/env python
"""Turn a ``checkpoint-*`` directory saved by the HF Trainer into a clean, shareable model directory.

The output holds what a user of the Hub needs and nothing else: ``model.safetensors``, ``config.json``
(with ``auto_map`` and the glitch-classification ``custom_pipelines`` entry), the image processor,
the model and pipeline code (for ``trust_remote_code=True``) and a model card (``README.md``) filled
with the evaluation metrics found in ``trainer_state.json``. Optimizer, scheduler, RNG, scaler and
pickled training-argument files are left behind. The output is written atomically.

Example::

    python conversion_scripts/convert_trainer_checkpoint.py \\
        --checkpoint outputs/run1/checkpoint-1200 --output models/gravityvit-b16-gravityspy \\
        --dataset-description "Gravity Spy training set v1d1 (Zenodo 10.5281/zenodo.1486046), train split" \\
        --dataset-version v1d1 --model-id gravityvit/multiview-b16
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INPUT_ERROR = 0, 2
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# Trainer state that stays behind: it is for resuming training, not for using the model.
TRAINING_STATE_FILES = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth", "training_args.bin")
# trainer_state.json fields shown as training hyper-parameters in the card.
_STATE_TO_ARGS = {
    "train_batch_size": "per_device_train_batch_size",
    "num_train_epochs": "num_train_epochs",
    "max_steps": "max_steps",
}


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of the converter."""
    parser = argparse.ArgumentParser(
        description=(
            "Convert a Trainer checkpoint-* directory into a shareable GravityViT model directory: safetensors "
            "weights, config, image processor, model and pipeline code, model card; no optimizer/scheduler/RNG state."
        ),
    )
    parser.add_argument(
        "--checkpoint", required=True, type=Path, help="the checkpoint-* directory of a training run"
    )
    parser.add_argument("--output", required=True, type=Path, help="model directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument(
        "--dataset-description",
        default=None,
        help="sentence(s) on the training data for the model card (default: derived from the other flags)",
    )
    parser.add_argument("--dataset-version", help="Gravity Spy version of the training data, e.g. v1d1")
    parser.add_argument("--dataset-id", default="gravityvit/gravityspy", help="Hub id of the dataset")
    parser.add_argument(
        "--simulated", action="store_true", help="the model was trained on simulated glitches"
    )
    parser.add_argument("--model-name", help="title of the model card (default: the output directory name)")
    parser.add_argument("--model-id", help="Hub id the model will have, used in the card's examples")
    parser.add_argument(
        "--metrics-json", type=Path, help="extra metrics ({split: {metric: value}}) for the card"
    )
    parser.add_argument("--base-model", help="Hub id of the initial backbone weights, for the card")
    return parser


class CheckpointError(ValueError):
    """The checkpoint directory is not a usable Trainer checkpoint of a GravityViT / CNN model."""


def check_checkpoint(checkpoint: Path) -> dict[str, Any]:
    """Check ``checkpoint`` and return its config dict; raise ``CheckpointError`` naming what is wrong."""
    if not checkpoint.is_dir():
        raise CheckpointError(f"{checkpoint}: not a directory")
    config_path = checkpoint / "config.json"
    if not config_path.is_file():
        raise CheckpointError(
            f"{checkpoint}: no config.json (is this a checkpoint-* directory of a Trainer run?)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{config_path}: not valid JSON ({error})") from error
    if not any((checkpoint / name).is_file() for name in WEIGHT_FILES):
        raise CheckpointError(f"{checkpoint}: no model weights (expected one of {', '.join(WEIGHT_FILES)})")
    if config.get("model_type") not in ("gravityvit", "gravityspy_cnn"):
        raise CheckpointError(
            f"{config_path}: model_type {config.get('model_type')!r} is not a GravityViT model "
            "(expected 'gravityvit' or 'gravityspy_cnn')"
        )
    return config


def read_trainer_state(checkpoint: Path) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Evaluation metrics and training hyper-parameters recorded in ``trainer_state.json``.

    The metrics are those of the last evaluation in ``log_history`` (``eval_*`` keys: the validation
    split; ``test_*``: test). A missing or unreadable state gives empty results.
    """
    path = checkpoint / "trainer_state.json"
    if not path.is_file():
        return {}, {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error})") from error
    from gravityvit.modelcard import normalize_metrics

    metrics: dict[str, dict[str, float]] = {}
    for entry in state.get("log_history", []):
        if any(key.startswith(("eval_", "test_")) for key in entry):
            for split, values in normalize_metrics(entry).items():
                metrics[split] = values  # later evaluations replace earlier ones
    args = {target: state[source] for source, target in _STATE_TO_ARGS.items() if state.get(source)}
    if state.get("global_step"):
        args["global_step"] = state["global_step"]
    if state.get("best_model_checkpoint"):
        args["best_model_checkpoint"] = Path(state["best_model_checkpoint"]).name
    return metrics, args


def convert(args: argparse.Namespace) -> Path:
    """Run the conversion; return the output directory."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    import gravityvit
    from gravityvit.hub import save_shareable_model
    from gravityvit.modelcard import render_model_card

    checkpoint: Path = args.checkpoint
    check_checkpoint(checkpoint)
    if args.output.exists() and not args.overwrite:
        raise CheckpointError(f"{args.output} already exists; pass --overwrite to replace it")
    from gravityvit.file_utils import OutputError, check_output
    from gravityvit.hub import MODEL_DIRECTORY

    inputs = (checkpoint, args.metrics_json)
    try:  # before any work: only an earlier model directory may go, never one holding the checkpoint
        check_output(args.output, MODEL_DIRECTORY, overwrite=args.overwrite, inputs=inputs)
    except OutputError as error:
        raise CheckpointError(str(error)) from None
    metrics, training_args = read_trainer_state(checkpoint)
    if args.metrics_json is not None:
        try:
            extra = json.loads(args.metrics_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise CheckpointError(f"{args.metrics_json}: cannot read metrics JSON ({error})") from error
        for split, values in extra.items():
            metrics.setdefault(split, {}).update(values)

    model = AutoModelForImageClassification.from_pretrained(checkpoint).eval()
    if (checkpoint / "preprocessor_config.json").is_file():
        processor = AutoImageProcessor.from_pretrained(checkpoint)
    else:  # the processor follows from the config (input size, view durations, normalisation)
        processor = gravityvit.GravityViTImageProcessor.from_config(model.config)

    description = args.dataset_description or (
        "Simulated Gravity Spy glitches (GravityViT simulator)."
        if args.simulated
        else f"Gravity Spy training set{' ' + args.dataset_version if args.dataset_version else ''}."
    )
    card = render_model_card(
        model.config,
        metrics,
        description,
        training_args or None,
        model_name=args.model_name or args.output.name,
        model_id=args.model_id,
        dataset_id=args.dataset_id,
        dataset_version=args.dataset_version,
        simulated=args.simulated,
        num_parameters=sum(p.numel() for p in model.parameters()),
        base_model=args.base_model,
    )
    output = save_shareable_model(
        model, args.output, image_processor=processor, model_card=card, overwrite=True, inputs=inputs
    )

    # The weights must come out exactly as they went in.
    if (checkpoint / "model.safetensors").is_file():
        before, after = load_file(checkpoint / "model.safetensors"), load_file(output / "model.safetensors")
        differing = [k for k in before if k not in after or not torch.equal(before[k], after[k])]
        if differing:
            raise RuntimeError(f"weights changed during conversion: {differing[:5]}")
    return output


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 done, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        output = convert(args)
    except (CheckpointError, FileExistsError, OSError) as error:
        print(f"convert_trainer_checkpoint: error: {error}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    files = sorted(p.name for p in output.iterdir() if not p.name.startswith("."))
    left = sorted(name for name in TRAINING_STATE_FILES if (args.checkpoint / name).exists())
    print(f"wrote {output}: {', '.join(files)}")
    if left:
        print(f"left behind (training state): {', '.join(left)}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
