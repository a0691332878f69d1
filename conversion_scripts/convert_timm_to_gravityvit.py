#!/usr/bin/env python
"""Build a ready GravityViT model directory from a local timm (ImageNet) checkpoint, offline.

The directory holds config.json, model.safetensors, preprocessor_config.json and the model code
(so it loads with ``trust_remote_code=True`` where gravityvit is not installed). The backbone gets
the checkpoint's weights (position embedding resampled to the configured image size, classifier
head dropped); the duration embedding, fusion and head are freshly initialised: fine-tune before use.

Example::

    python conversion_scripts/convert_timm_to_gravityvit.py \\
        --backbone-weights vit_base_patch16_224.augreg2_in21k_ft_in1k.safetensors \\
        --config gravityvit/multiview-b16 --output models/gravityvit-b16-imagenet
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of the converter."""
    parser = argparse.ArgumentParser(
        description="Write a GravityViT model directory whose backbone is initialised from a local timm checkpoint.",
    )
    parser.add_argument(
        "--backbone-weights",
        required=True,
        type=Path,
        help=f"timm checkpoint of the config's backbone ({', '.join(SUFFIXES)}), e.g. ImageNet weights",
    )
    parser.add_argument(
        "--config",
        required=True,
        help="a named configuration (e.g. gravityvit/multiview-b16), a config.json path, or inline JSON",
    )
    parser.add_argument("--output", required=True, type=Path, help="model directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the fusion / head initialisation (default 0)"
    )
    return parser


def load_config(spec: str):
    """Resolve ``--config``: a named configuration, a JSON file, or a JSON object string.

    Raises
    ------
    ValueError
        When the spec is none of these, or describes a model without a timm backbone.
    """
    from gravityvit import GravityViTConfig, list_named_configs
    from gravityvit.named_configs import get_named_config

    if spec in list_named_configs():
        config = get_named_config(spec)
    else:
        text = spec
        if not spec.lstrip().startswith("{"):
            path = Path(spec)
            if not path.is_file():
                raise ValueError(
                    f"--config {spec!r} is neither a named configuration {list_named_configs()} nor a JSON file"
                )
            text = path.read_text(encoding="utf-8")
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"--config {spec!r} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"--config {spec!r} must hold a JSON object")
        model_type = values.pop("model_type", GravityViTConfig.model_type)
        if model_type != GravityViTConfig.model_type:
            raise ValueError(
                f"--config describes model_type {model_type!r}; only 'gravityvit' has a timm backbone"
            )
        for key in ("architectures", "auto_map", "transformers_version"):
            values.pop(key, None)
        config = GravityViTConfig(**values)
    if not isinstance(config, GravityViTConfig):
        raise ValueError(
            f"--config {spec!r} is a {type(config).__name__}; only GravityViT configs have a timm backbone"
        )
    return config


def convert(
    backbone_weights: Path, config_spec: str, output: Path, overwrite: bool = False, seed: int = 0
) -> Path:
    """Write the model directory; return its path.

    Raises
    ------
    FileNotFoundError
        When the checkpoint does not exist.
    FileExistsError
        When ``output`` exists and ``overwrite`` is false.
    ValueError
        For a bad config or a checkpoint that does not fit the backbone.
    """
    import torch

    from gravityvit import GravityViTForGlitchClassification, GravityViTImageProcessor
    from gravityvit.file_utils import atomic_path, check_output
    from gravityvit.hub import MODEL_DIRECTORY

    backbone_weights = Path(backbone_weights)
    if not backbone_weights.is_file():
        raise FileNotFoundError(f"--backbone-weights: file not found: {backbone_weights}")
    if backbone_weights.suffix not in SUFFIXES:
        raise ValueError(f"--backbone-weights {backbone_weights} must be one of {SUFFIXES}")
    if Path(output).exists() and not overwrite:
        raise FileExistsError(f"--output {output} already exists; pass --overwrite to replace it")
    # Only an earlier model directory of ours may be replaced, and never one holding the weights read.
    check_output(output, MODEL_DIRECTORY, overwrite=overwrite, inputs=(backbone_weights,))
    config = load_config(config_spec)
    torch.manual_seed(seed)
    model = GravityViTForGlitchClassification(config)
    model.load_backbone_weights(backbone_weights)
    processor = GravityViTImageProcessor.from_config(config)
    with atomic_path(
        output, kind=MODEL_DIRECTORY, overwrite=overwrite, inputs=(backbone_weights,)
    ) as temporary:
        model.save_pretrained(temporary)
        processor.save_pretrained(temporary)
    return Path(output)


def main(argv: list[str] | None = None) -> int:
    """Run the converter; return the exit code (0 success, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        output = convert(
            args.backbone_weights, args.config, args.output, overwrite=args.overwrite, seed=args.seed
        )
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {output} (backbone from {args.backbone_weights}; fusion and head untrained)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
