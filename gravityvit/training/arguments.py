"""The arguments of a training run and of an evaluation, as typed dataclasses.

``gravityvit.training.run.train`` and ``evaluate`` take these; ``examples/train.py`` and
``examples/evaluate.py`` parse them from the command line (or one YAML / JSON file) with
``parse_train_arguments`` and ``parse_evaluation_arguments``, so the flags are the field names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from transformers import HfArgumentParser, TrainingArguments

DEFAULT_MODEL = "gravityvit/multiview-demo"


@dataclasses.dataclass
class ModelArguments:
    """Which model to train and its loss."""

    model: str = dataclasses.field(
        default=DEFAULT_MODEL,
        metadata={"help": "Local model directory, Hub id, or named configuration (random init)."},
    )
    backbone_weights: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Local timm checkpoint file (ImageNet weights) for the backbone of a named config."
        },
    )
    config_overrides: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "JSON object of configuration arguments for a named configuration, e.g. "
            '\'{"image_size": 64, "backbone_kwargs": {"depth": 4}}\'.'
        },
    )
    label_set: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Classes of a named configuration: v1 (the 22 classes of the v1 training set, the default), "
            "o3 (the 23 classes of Gravity Spy's O3 model) or comma-separated class names; they must be the "
            "dataset's (its `gravityvit convert --label-set`). A trained model keeps its own classes."
        },
    )
    label_smoothing: float = dataclasses.field(default=0.1, metadata={"help": "Label smoothing of the loss."})
    focal_gamma: float = dataclasses.field(
        default=0.0, metadata={"help": "Focal-loss exponent; 0 = cross-entropy."}
    )
    class_weights: bool = dataclasses.field(
        default=False,
        metadata={"help": "Weight the loss by inverse class frequency (the dataset's stats JSON)."},
    )
    trust_remote_code: bool = dataclasses.field(
        default=False, metadata={"help": "Allow remote code for Hub models."}
    )
    cache_dir: str | None = dataclasses.field(default=None, metadata={"help": "Hub download cache."})


@dataclasses.dataclass
class DataArguments:
    """Which data, which splits, which augmentation."""

    dataset: str | None = dataclasses.field(
        default=None,
        metadata={
            "help": "Converted dataset directory or Hub dataset id; without it a simulated dataset is made."
        },
    )
    train_split: str = dataclasses.field(default="train")
    validation_split: str = dataclasses.field(default="validation")
    test_split: str = dataclasses.field(default="test", metadata={"help": "Split of the final report."})
    max_train_samples: int | None = dataclasses.field(default=None, metadata={"help": "Truncate train."})
    max_eval_samples: int | None = dataclasses.field(
        default=None, metadata={"help": "Truncate validation and test."}
    )
    augment: bool = dataclasses.field(default=True, metadata={"help": "Augment the training views."})
    max_time_shift_s: float = dataclasses.field(
        default=0.05, metadata={"help": "Common random time shift of the views, seconds."}
    )
    max_frequency_shift_rows: int = dataclasses.field(
        default=0,
        metadata={
            "help": "Random frequency shift, rows (off: classes such as Power_Line sit at fixed frequencies)."
        },
    )
    noise_std: float = dataclasses.field(default=0.01, metadata={"help": "Pixel noise added."})
    view_dropout: float = dataclasses.field(
        default=0.25, metadata={"help": "Probability of masking some views of a sample (one kept)."}
    )
    in_memory_max_gib: float = dataclasses.field(
        default=2.0,
        metadata={
            "help": "Decode the train and validation views once into memory when each split's 16-bit views "
            "fit in this many GiB (190 kB per sample; the v1 dataset's train split is about 1.5 GiB); "
            "0 decodes the PNGs at every batch."
        },
    )
    simulate_samples_per_class: int = dataclasses.field(
        default=60, metadata={"help": "Without --dataset: simulated samples per class."}
    )
    simulate_seed: int = dataclasses.field(default=0, metadata={"help": "Without --dataset: simulator seed."})
    data_cache_dir: str | None = dataclasses.field(
        default=None,
        metadata={"help": "Without --dataset: where the simulated data is kept (default OUTPUT_DIR/data)."},
    )
    preprocessing_num_workers: int = dataclasses.field(
        default=2, metadata={"help": "Processes for simulation and conversion."}
    )


@dataclasses.dataclass
class GlitchTrainingArguments(TrainingArguments):
    """TrainingArguments with this project's defaults and a few additions."""

    output_dir: str = dataclasses.field(default="outputs/train")
    num_train_epochs: float = dataclasses.field(default=50.0)
    learning_rate: float = dataclasses.field(default=5e-4)
    weight_decay: float = dataclasses.field(default=0.05)
    per_device_train_batch_size: int = dataclasses.field(default=32)
    per_device_eval_batch_size: int = dataclasses.field(default=64)
    lr_scheduler_type: str = dataclasses.field(default="cosine")
    max_grad_norm: float = dataclasses.field(default=1.0)
    eval_strategy: str = dataclasses.field(default="epoch")
    save_strategy: str = dataclasses.field(default="epoch")
    logging_strategy: str = dataclasses.field(default="epoch")
    load_best_model_at_end: bool = dataclasses.field(default=True)
    metric_for_best_model: str | None = dataclasses.field(default="macro_f1")
    greater_is_better: bool | None = dataclasses.field(default=True)
    # With load_best_model_at_end the Trainer never deletes the best checkpoint: 2 = best + last.
    save_total_limit: int | None = dataclasses.field(default=2)
    remove_unused_columns: bool = dataclasses.field(default=False)
    report_to: str | None = dataclasses.field(
        default="auto",
        metadata={
            "help": "'auto' = mlflow and tensorboard when installed; 'none'; 'all'; or names joined by commas."
        },
    )
    warmup_epochs: float = dataclasses.field(
        default=5.0, metadata={"help": "Linear warm-up length in epochs (used when --warmup_steps is 0)."}
    )
    early_stopping_patience: int = dataclasses.field(
        default=10, metadata={"help": "Evaluations without validation improvement before stopping; 0 = off."}
    )
    mixed_precision: str = dataclasses.field(
        default="auto",
        metadata={
            "help": "'auto': bf16 on CUDA where supported, else fp16 on CUDA, fp32 on CPU/MPS; or 'no'."
        },
    )
    evaluate_test: bool = dataclasses.field(
        default=True, metadata={"help": "Write the evaluation report on the test split at the end."}
    )
    unknown_score_method: str = dataclasses.field(
        default="relative_mahalanobis",
        metadata={
            "help": "Unknown-glitch score fitted at the end: 'relative_mahalanobis' (class statistics of the "
            "pooled features of the training split, saved with the weights) or 'energy' (of the logits)."
        },
    )

    def __post_init__(self) -> None:
        if self.report_to in ("auto", ["auto"]):
            from transformers.integrations import is_mlflow_available, is_tensorboard_available

            self.report_to = [
                name
                for name, available in (
                    ("mlflow", is_mlflow_available()),
                    ("tensorboard", is_tensorboard_available()),
                )
                if available
            ] or "none"
        elif isinstance(self.report_to, str) and "," in self.report_to:
            self.report_to = [name.strip() for name in self.report_to.split(",") if name.strip()]
        if self.mixed_precision == "auto" and not (self.bf16 or self.fp16) and not self.use_cpu:
            if torch.cuda.is_available():
                if torch.cuda.is_bf16_supported():
                    self.bf16 = True
                else:
                    self.fp16 = True
        elif self.mixed_precision not in ("auto", "no"):
            raise ValueError(f"mixed_precision must be 'auto' or 'no'; got {self.mixed_precision!r}")
        from gravityvit.configuration_common import check_unknown_score_method

        check_unknown_score_method(self.unknown_score_method)
        if self.dataloader_pin_memory and not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # pinned memory only helps host-to-GPU copies
        if self.remove_unused_columns:
            raise ValueError(
                "remove_unused_columns must stay False: the data transform needs the Image columns"
            )
        super().__post_init__()


@dataclasses.dataclass
class EvaluationArguments:
    """Which trained model to evaluate, on which split, and where the report goes."""

    model: str = dataclasses.field(metadata={"help": "Trained model directory or Hub id."})
    dataset: str = dataclasses.field(metadata={"help": "Converted dataset directory or Hub dataset id."})
    output: str = dataclasses.field(
        metadata={
            "help": "Report directory; replaces only an earlier report (anything else there is refused)."
        }
    )
    split: str = dataclasses.field(default="test", metadata={"help": "Split to evaluate."})
    batch_size: int = dataclasses.field(default=64, metadata={"help": "Samples per forward pass."})
    device: str | None = dataclasses.field(
        default=None, metadata={"help": "cpu, cuda, mps; default: the best available."}
    )
    max_samples: int | None = dataclasses.field(
        default=None, metadata={"help": "Evaluate only the first N samples."}
    )
    gallery_size: int = dataclasses.field(default=12, metadata={"help": "Mistakes shown in the gallery."})
    no_single_duration: bool = dataclasses.field(
        default=False, metadata={"help": "Skip the one-duration-only scores (4 extra passes)."}
    )
    time_shift_samples_per_class: int = dataclasses.field(
        default=0,
        metadata={
            "help": "Also measure label flips when the glitch moves by 1, 5 and 10 ms, on this many "
            "simulated glitches per class (7 Omega scans each; 0 = skip)."
        },
    )
    trust_remote_code: bool = dataclasses.field(
        default=False, metadata={"help": "Allow remote code for Hub models."}
    )


TrainArguments = tuple[ModelArguments, DataArguments, GlitchTrainingArguments]


def _parse(
    dataclass_types: tuple[type, ...], argv: Sequence[str] | None, defaults: Mapping[str, Any] | None
) -> tuple[Any, ...]:
    """Parse ``argv`` (or one YAML / JSON file) into ``dataclass_types``, ``defaults`` replacing field defaults.

    Raises:
        ValueError: for a key of ``defaults`` that is no field of ``dataclass_types`` (a renamed
            argument fails here rather than being ignored).
    """
    parser = HfArgumentParser(dataclass_types)
    if defaults:
        known = {field.name for cls in dataclass_types for field in dataclasses.fields(cls)}
        unknown = sorted(set(defaults) - known)
        if unknown:
            raise ValueError(
                f"unknown argument(s) {unknown}: not a field of {[c.__name__ for c in dataclass_types]}"
            )
        parser.set_defaults(**defaults)
    argv = list(argv or [])
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(os.path.abspath(argv[0]))
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(args=argv)


def parse_train_arguments(
    argv: Sequence[str] | None = None, defaults: Mapping[str, Any] | None = None
) -> TrainArguments:
    """The arguments of ``train`` from command-line flags (``--model NAME ...``) or one YAML / JSON file.

    Args:
        argv (`Sequence[str]`, *optional*): the flags; None or empty gives the defaults.
        defaults (`Mapping[str, Any]`, *optional*): field values that replace the dataclasses'
            defaults (what a caller such as the demo sets); ``argv`` still overrides them.

    Returns:
        `(ModelArguments, DataArguments, GlitchTrainingArguments)`.
    """
    return _parse((ModelArguments, DataArguments, GlitchTrainingArguments), argv, defaults)


def parse_evaluation_arguments(argv: Sequence[str] | None = None) -> EvaluationArguments:
    """The arguments of ``evaluate`` from command-line flags or one YAML / JSON file."""
    (arguments,) = _parse((EvaluationArguments,), argv, None)
    return arguments


__all__ = [
    "DEFAULT_MODEL",
    "DataArguments",
    "EvaluationArguments",
    "GlitchTrainingArguments",
    "ModelArguments",
    "TrainArguments",
    "parse_evaluation_arguments",
    "parse_train_arguments",
]
