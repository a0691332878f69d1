#!/usr/bin/env python
"""Train a glitch classifier (GravityViT or the Gravity Spy CNN baseline) with the HF Trainer.

Usage::

    accelerate launch examples/train.py --dataset DIR_OR_HUB_ID --model NAME_OR_DIR --output_dir OUT \
        [--num_train_epochs 50 --learning_rate 5e-4 ... any TrainingArguments]
    python examples/train.py args.yaml            # the same arguments in one YAML or JSON file
    python examples/train.py --output_dir OUT     # no --dataset: simulate a dataset, convert it, train

``--model`` is a local model directory, a Hub id, or a named configuration (``gravityvit/multiview-ti16``,
``gravityvit/multiview-demo``, the CNN baseline ...; random weights, or ``--backbone_weights FILE`` for a
local timm ImageNet checkpoint). A local directory wins over a named configuration of the same name,
a named configuration over a Hub id.

Defaults follow the Gravity Spy recipe: label smoothing 0.1 (or focal loss with ``--focal_gamma``),
optional class weights from the dataset's stats JSON (``--class_weights``), gradient clipping at 1.0,
linear warm-up for ``--warmup_epochs 5`` then cosine decay, evaluation every epoch, early stopping on
validation macro-F1 (``--early_stopping_patience 10``), the best checkpoint reloaded at the end, the
best and the last checkpoints kept, physically sensible augmentation with random view dropout.
``--resume_from_checkpoint last`` (or a path) continues a killed run.

At the end ``OUT`` holds the model, its image processor and a model card (README.md) filled with the
run's metrics, and ``OUT/evaluation`` the test-split report (see ``examples/evaluate.py``).
``--push_to_hub --hub_model_id USER/NAME`` uploads the model directory.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import (
    EarlyStoppingCallback,
    HfArgumentParser,
    Trainer,
    TrainingArguments,
    set_seed,
)

import gravityvit  # noqa: F401  (registers the Auto classes)
from gravityvit.gravity_spy import VIEW_DURATIONS_S
from gravityvit.inference.calibration import calibrate_and_save
from gravityvit.training.augmentation import SpectrogramAugmentation
from gravityvit.training.data import (
    GlitchCollator,
    GlitchDatasetError,
    balanced_class_weights,
    check_glitch_dataset,
    decoded_size_gib,
    load_glitch_dataset,
    prepare_split,
    split_class_counts,
)
from gravityvit.training.metrics import make_compute_metrics

logger = logging.getLogger("gravityvit.train")

# examples/evaluate.py has the name of the `evaluate` library that the metrics import: keep this
# folder off sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]

DEFAULT_MODEL = "gravityvit/multiview-demo"
STATS_FILENAME = "gravityspy_stats.json"


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
        if self.dataloader_pin_memory and not torch.cuda.is_available():
            self.dataloader_pin_memory = False  # pinned memory only helps host-to-GPU copies
        if self.remove_unused_columns:
            raise ValueError(
                "remove_unused_columns must stay False: the data transform needs the Image columns"
            )
        super().__post_init__()


def parse_arguments(argv: list[str] | None = None):
    """Parse command-line arguments, or one YAML / JSON file holding them."""
    parser = HfArgumentParser((ModelArguments, DataArguments, GlitchTrainingArguments))
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 1 and argv[0].endswith((".yaml", ".yml")):
        return parser.parse_yaml_file(os.path.abspath(argv[0]))
    if len(argv) == 1 and argv[0].endswith(".json"):
        return parser.parse_json_file(os.path.abspath(argv[0]))
    return parser.parse_args_into_dataclasses(args=argv)


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------


def _named_config(name: str, overrides: dict[str, Any]):
    """The named configuration ``name`` with ``overrides``, or None when no configuration has that name."""
    try:
        from gravityvit.named_configs import get_named_config, list_named_configs
    except ImportError:
        return None
    if name not in list_named_configs():
        return None
    return get_named_config(name, **overrides)


def load_model(model_args: ModelArguments, class_weights: list[float] | None = None):
    """Build or load the model and its image processor; apply the loss settings to its config.

    Returns
    -------
    model, image_processor, source
        ``source`` says where the weights came from (for the model card).
    """
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

    from gravityvit.image_processing_gravityvit import GravityViTImageProcessor

    overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    loss_settings = {"label_smoothing": model_args.label_smoothing, "focal_gamma": model_args.focal_gamma}
    hub_kwargs = {"trust_remote_code": model_args.trust_remote_code, "cache_dir": model_args.cache_dir}
    named = (
        None
        if Path(model_args.model).is_dir()
        else _named_config(model_args.model, {**overrides, **loss_settings})
    )
    if named is not None:
        if class_weights is not None:
            named.class_weights = list(class_weights)
        model = AutoModelForImageClassification.from_config(named)
        source = f"named configuration {model_args.model} (random initialisation)"
        if model_args.backbone_weights:
            model.load_backbone_weights(model_args.backbone_weights)
            source = f"named configuration {model_args.model}, backbone from {model_args.backbone_weights}"
        processor = GravityViTImageProcessor.from_config(model.config)
        return model, processor, source
    if overrides:
        raise ValueError("--config_overrides applies to named configurations only")
    config = AutoConfig.from_pretrained(model_args.model, **hub_kwargs)
    for key, value in loss_settings.items():
        setattr(config, key, value)
    config.class_weights = list(class_weights) if class_weights is not None else None
    model = AutoModelForImageClassification.from_pretrained(model_args.model, config=config, **hub_kwargs)
    if model_args.backbone_weights:
        model.load_backbone_weights(model_args.backbone_weights)
    try:
        processor = AutoImageProcessor.from_pretrained(model_args.model, **hub_kwargs)
    except (OSError, ValueError):
        processor = GravityViTImageProcessor.from_config(model.config)
    return model, processor, f"{model_args.model}"


# ---------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------


def default_dataset(data_args: DataArguments, output_dir: str) -> Path:
    """Simulate and convert the embedded default dataset, or reuse it (see gravityvit.data.simulated_dataset)."""
    from gravityvit.data.simulated_dataset import simulated_arrow_dataset

    return simulated_arrow_dataset(
        data_args.data_cache_dir or Path(output_dir) / "data",
        data_args.simulate_samples_per_class,
        data_args.simulate_seed,
        num_proc=data_args.preprocessing_num_workers,
    )


def class_weights_for(dataset_source: str, dataset, label_names: list[str], split: str) -> list[float]:
    """Class weights in the model's label order: the stats JSON beside the dataset, else from the train counts."""
    stats_path = Path(dataset_source) / STATS_FILENAME
    if stats_path.is_file():
        stats = json.loads(stats_path.read_text())
        by_name = stats.get("class_weights_by_name")
        if by_name is None and "class_weights" in stats and "class_names" in stats:
            by_name = dict(zip(stats["class_names"], stats["class_weights"]))
        if by_name is not None:
            missing = [name for name in label_names if name not in by_name]
            if missing:
                raise GlitchDatasetError(f"{stats_path}: no class weight for {missing}")
            logger.info("class weights from %s", stats_path)
            return [float(by_name[name]) for name in label_names]
    logger.info("class weights from the %s split's class counts", split)
    return balanced_class_weights(split_class_counts(dataset, split), label_names)


def _truncate(dataset, count: int | None):
    return dataset if count is None or count >= len(dataset) else dataset.select(range(count))


def fits_in_memory(split, view_durations_s: list[float], max_gib: float) -> bool:
    """Whether ``split``'s decoded views fit the ``--in_memory_max_gib`` budget (then they are decoded once)."""
    return 0 < decoded_size_gib(len(split), len(view_durations_s)) <= max_gib


def warmup_steps_for(training_args: GlitchTrainingArguments, num_train_samples: int) -> int:
    """Optimizer steps in ``warmup_epochs`` epochs of ``num_train_samples`` samples."""
    batch = (
        training_args.per_device_train_batch_size
        * training_args.world_size
        * training_args.gradient_accumulation_steps
    )
    steps_per_epoch = max(1, math.ceil(num_train_samples / batch))
    return round(training_args.warmup_epochs * steps_per_epoch)


# ---------------------------------------------------------------------------------------------------
# Model card and Hub
# ---------------------------------------------------------------------------------------------------


def write_model_card(
    output_dir: str,
    model,
    metrics: dict[str, dict[str, Any]],
    dataset_description: str,
    training_args: GlitchTrainingArguments,
    simulated: bool,
    per_class: dict[str, Any] | None,
    base_model: str | None,
) -> str:
    """Fill MODEL_CARD.md with the run's metrics, write it as OUTPUT_DIR/README.md and return the text."""
    from gravityvit.modelcard import render_model_card
    from gravityvit.modelcard import write_model_card as write_card

    card = render_model_card(
        model.config,
        metrics,
        dataset_description,
        training_args,
        model_name=training_args.hub_model_id or Path(output_dir).name,
        model_id=training_args.hub_model_id,
        simulated=simulated,
        per_class_metrics=per_class,
        num_parameters=sum(p.numel() for p in model.parameters()),
        base_model=base_model,
    )
    write_card(output_dir, card)
    return card


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


def _setup_logging(training_args: TrainingArguments) -> None:
    """Our progress at INFO on the main process (unless --log_level says otherwise); transformers as configured."""
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    level = training_args.get_process_log_level()
    transformers.utils.logging.set_verbosity(level)
    if training_args.log_level == "passive" and training_args.should_log:
        level = logging.INFO
    logger.setLevel(level)
    logging.getLogger("gravityvit").setLevel(level)


def resolve_resume(training_args: GlitchTrainingArguments) -> str | None:
    """The checkpoint to resume from: a path, or for 'last' / 'true' the newest complete one in output_dir.

    Incomplete checkpoints (a run killed while saving or rotating) are removed, never resumed from.
    """
    from gravityvit.training.checkpoints import checkpoint_problem, last_complete_checkpoint

    resume = training_args.resume_from_checkpoint
    if resume is None or str(resume).lower() in ("", "false", "none"):
        return None
    model_only = training_args.save_only_model
    if str(resume).lower() in ("last", "true", "auto"):
        with training_args.main_process_first(desc="find the last complete checkpoint"):
            last = last_complete_checkpoint(
                training_args.output_dir,
                remove_incomplete=training_args.process_index == 0,
                model_only=model_only,
            )
        if last is None:
            logger.warning(
                "no complete checkpoint in %s to resume from; starting afresh", training_args.output_dir
            )
        else:
            logger.info("resuming from %s", last)
        return last
    if not os.path.isdir(resume):
        raise FileNotFoundError(f"--resume_from_checkpoint {resume}: no such checkpoint directory")
    problem = checkpoint_problem(resume, model_only=model_only)
    if problem:
        raise ValueError(f"--resume_from_checkpoint {resume}: incomplete checkpoint ({problem})")
    return resume


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict[str, Any]:
    """Train, evaluate, save; return the final metrics ``{"validation": {...}, "test": {...}}``.

    ``callbacks`` are extra ``TrainerCallback`` objects (e.g. for tests or custom logging).
    """
    model_args, data_args, training_args = parse_arguments(argv)
    _setup_logging(training_args)
    set_seed(training_args.seed)

    # Data first: a dataset that does not fit fails before the model is built.
    simulated = data_args.dataset is None
    if simulated:
        with training_args.main_process_first(desc="simulate and convert the default dataset"):
            dataset_source = str(default_dataset(data_args, training_args.output_dir))
    else:
        dataset_source = data_args.dataset
    dataset = load_glitch_dataset(dataset_source, cache_dir=model_args.cache_dir)

    model, image_processor, model_source = load_model(model_args)
    label_names = [str(model.config.id2label[i]) for i in range(len(model.config.id2label))]
    view_durations_s = list(getattr(model.config, "view_durations_s", None) or VIEW_DURATIONS_S)
    splits = [data_args.train_split, data_args.validation_split]
    if training_args.evaluate_test:
        splits.append(data_args.test_split)
    check_glitch_dataset(
        dataset, model.config.id2label, view_durations_s, splits=splits, source=dataset_source
    )
    if model_args.class_weights:
        weights = class_weights_for(dataset_source, dataset, label_names, data_args.train_split)
        model.config.class_weights = weights

    train_split = _truncate(dataset[data_args.train_split], data_args.max_train_samples)
    validation_split = _truncate(dataset[data_args.validation_split], data_args.max_eval_samples)
    augmentation = None
    if data_args.augment:
        augmentation = SpectrogramAugmentation(
            max_time_shift_s=data_args.max_time_shift_s,
            max_frequency_shift_rows=data_args.max_frequency_shift_rows,
            noise_std=data_args.noise_std,
            view_dropout=data_args.view_dropout,
            view_durations_s=tuple(view_durations_s),
        )
    if training_args.warmup_steps == 0 and training_args.warmup_epochs > 0:
        training_args.warmup_steps = warmup_steps_for(training_args, len(train_split))
    logger.info(
        "model %s (%s, %.2f M parameters); data %s: %d train, %d validation samples; warm-up %d steps",
        model_args.model,
        model_source,
        sum(p.numel() for p in model.parameters()) / 1e6,
        dataset_source,
        len(train_split),
        len(validation_split),
        training_args.warmup_steps,
    )

    # The Trainer would push every checkpoint; the finished model (with its card) is pushed once at the end.
    push_to_hub = training_args.push_to_hub
    if push_to_hub and not training_args.hub_model_id:
        raise ValueError("--push_to_hub needs --hub_model_id USER/NAME")
    training_args.push_to_hub = False
    callbacks = list(callbacks or [])
    if training_args.early_stopping_patience > 0 and training_args.eval_strategy != "no":
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=training_args.early_stopping_patience))
    trainer = Trainer(
        model=model,
        args=training_args,
        train_dataset=prepare_split(
            train_split,
            view_durations_s,
            augmentation=augmentation,
            in_memory=fits_in_memory(train_split, view_durations_s, data_args.in_memory_max_gib),
        ),
        eval_dataset=prepare_split(
            validation_split,
            view_durations_s,
            in_memory=fits_in_memory(validation_split, view_durations_s, data_args.in_memory_max_gib),
        ),
        data_collator=GlitchCollator(image_processor),
        processing_class=image_processor,
        compute_metrics=make_compute_metrics(label_names),
        callbacks=callbacks,
    )

    started = time.perf_counter()
    train_result = trainer.train(resume_from_checkpoint=resolve_resume(training_args))
    train_seconds = time.perf_counter() - started
    trainer.save_model()
    trainer.log_metrics("train", train_result.metrics)
    trainer.save_metrics("train", train_result.metrics)
    trainer.save_state()

    trainer.remove_callback(
        EarlyStoppingCallback
    )  # it looks for eval_* keys, the final pass logs validation_*
    validation_metrics = trainer.evaluate(metric_key_prefix="validation")
    trainer.log_metrics("validation", validation_metrics)
    trainer.save_metrics("validation", validation_metrics)
    results: dict[str, Any] = {
        "validation": {k.removeprefix("validation_"): v for k, v in validation_metrics.items()},
        "train_seconds": train_seconds,
        "output_dir": training_args.output_dir,
        "dataset": dataset_source,
    }

    if trainer.is_world_process_zero():
        unwrapped = trainer.accelerator.unwrap_model(trainer.model)
        # Temperature and unknown-glitch threshold fitted on the validation split, saved in config.json.
        results["calibration"] = calibrate_and_save(
            unwrapped,
            image_processor,
            validation_split,
            training_args.output_dir,
            batch_size=training_args.per_device_eval_batch_size,
            device=trainer.args.device,
        )
        report = None
        if training_args.evaluate_test:
            from gravityvit.training.evaluation import write_evaluation_report

            test_split = _truncate(dataset[data_args.test_split], data_args.max_eval_samples)
            report = write_evaluation_report(
                unwrapped,
                image_processor,
                test_split,
                Path(training_args.output_dir) / "evaluation",
                split=data_args.test_split,
                batch_size=training_args.per_device_eval_batch_size,
                device=trainer.args.device,
            )
            results["test"] = {
                k: report[k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")
            }
            results["test"]["single_duration"] = report.get("single_duration")
            results["report_dir"] = str(Path(training_args.output_dir) / "evaluation")
        card_metrics = {
            "validation": {k: v for k, v in results["validation"].items() if isinstance(v, float)}
        }
        if "test" in results:
            card_metrics["test"] = {k: v for k, v in results["test"].items() if isinstance(v, float)}
        if simulated:
            description = (
                f"Simulated Gravity Spy glitches ({data_args.simulate_samples_per_class} samples per class, "
                f"seed {data_args.simulate_seed}) made by `gravityvit simulate` and converted with "
                "`gravityvit convert`."
            )
        else:
            description = f"The dataset `{dataset_source}` (splits {', '.join(splits)})."
        card = write_model_card(
            training_args.output_dir,
            unwrapped,
            card_metrics,
            description,
            training_args,
            simulated=simulated or "simul" in dataset_source.lower(),
            per_class=report.get("per_class") if report else None,
            base_model=model_args.backbone_weights and Path(model_args.backbone_weights).name,
        )
        (Path(training_args.output_dir) / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        if push_to_hub:
            from gravityvit.hub import push_model_to_hub

            logger.info("pushing the model to the Hub as %s", training_args.hub_model_id)
            push_model_to_hub(
                unwrapped,
                training_args.hub_model_id,
                image_processor=image_processor,
                model_card=card,
                private=training_args.hub_private_repo,
                token=training_args.hub_token,
            )
    trainer.accelerator.wait_for_everyone()
    return results


if __name__ == "__main__":
    main()
