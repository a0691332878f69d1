"""A training run and an evaluation, as functions: what ``examples/train.py`` and ``examples/evaluate.py`` run.

``train(model_args, data_args, training_args)`` builds or loads the model, checks the dataset against
it, trains with the HF Trainer (early stopping on validation macro-F1, the best checkpoint reloaded),
evaluates, writes the model card and the test report, and returns a ``TrainResult``.
``evaluate(arguments)`` writes the evaluation report of a trained model on one split. Both run
under ``accelerate launch`` (the Trainer handles the processes; the reports are written by the main
process).

Example:

```python
>>> from gravityvit.training.arguments import parse_train_arguments
>>> from gravityvit.training.run import train
>>> result = train(*parse_train_arguments(["--dataset", "data/arrow", "--output_dir", "outputs/run"]))
>>> result.test["macro_f1"]
```
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
from typing import TYPE_CHECKING, Any

import transformers
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed

import gravityvit  # noqa: F401  (registers the Auto classes)
from gravityvit.data.arrow import STATS_FILENAME
from gravityvit.gravity_spy import VIEW_DURATIONS_S
from gravityvit.inference.calibration import calibrate_and_save
from gravityvit.training.arguments import (
    DataArguments,
    EvaluationArguments,
    GlitchTrainingArguments,
    ModelArguments,
)
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

if TYPE_CHECKING:
    from gravityvit.training.tracking import ExperimentTracker

logger = logging.getLogger("gravityvit.train")

# The headline scores of an evaluation report.
SUMMARY_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")


@dataclasses.dataclass
class TrainResult:
    """What a training run measured and where it wrote it.

    Attributes:
        validation (`dict[str, float]`): the final validation metrics of the best model (accuracy,
            macro_f1, loss, ...), without the ``validation_`` prefix.
        train_seconds (`float`): wall time of ``Trainer.train``.
        output_dir (`str`): the model directory (model, processor, card, ``results.json``).
        dataset (`str`): the dataset trained on (a directory or Hub id).
        test (`dict[str, Any]`, *optional*): the test report's accuracy, balanced accuracy, macro /
            weighted F1, ``single_duration`` accuracies and ``intervals`` (95 % bootstrap intervals of
            accuracy and macro-F1); None without ``--evaluate_test``.
        report_dir (`str`, *optional*): the test report directory.
        calibration (`dict[str, Any]`, *optional*): the temperature and unknown-glitch threshold
            fitted on the validation split (saved in ``config.json``) and their summary.
    """

    validation: dict[str, float]
    train_seconds: float
    output_dir: str
    dataset: str
    test: dict[str, Any] | None = None
    report_dir: str | None = None
    calibration: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as written to ``OUTPUT_DIR/results.json`` (unset fields left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


# ---------------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------------


def _named_config(name: str, overrides: dict[str, Any]):
    """The named configuration ``name`` with ``overrides``, or None when no configuration has that name."""
    from gravityvit.named_configs import get_named_config, list_named_configs

    if name not in list_named_configs():
        return None
    return get_named_config(name, **overrides)


def load_model(model_args: ModelArguments, class_weights: list[float] | None = None):
    """Build or load the model and its image processor; apply the loss settings to its config.

    Returns:
        `(model, image_processor, source)`: ``source`` says where the weights came from (for the
        model card).
    """
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

    from gravityvit.image_processing_gravityvit import GravityViTImageProcessor

    overrides = json.loads(model_args.config_overrides) if model_args.config_overrides else {}
    if model_args.label_set is not None:
        overrides["label_set"] = model_args.label_set
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
    if model_args.label_set is not None:
        raise ValueError(
            f"--label_set applies to named configurations only: the model {model_args.model} keeps the classes "
            "it was trained with"
        )
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
# Model card
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
    intervals: dict[str, dict[str, Any]] | None = None,
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
        metric_intervals=intervals,
        num_parameters=sum(p.numel() for p in model.parameters()),
        base_model=base_model,
    )
    write_card(output_dir, card)
    return card


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------


def setup_logging(training_args: TrainingArguments) -> None:
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


def train(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlitchTrainingArguments,
    callbacks: list[TrainerCallback] | None = None,
) -> TrainResult:
    """Train, evaluate and save a glitch classifier; return what it measured.

    Args:
        model_args (`ModelArguments`): the model and its loss.
        data_args (`DataArguments`): the dataset (simulated without ``dataset``), splits, augmentation.
        training_args (`GlitchTrainingArguments`): the Trainer settings; ``output_dir`` receives the
            model, its processor, the model card, ``results.json`` and the test report.
        callbacks (`list[TrainerCallback]`, *optional*): extra Trainer callbacks (e.g. for tests or
            custom logging).

    Returns:
        `TrainResult`: the validation and test metrics and where they were written.

    Raises:
        GlitchDatasetError: when the dataset does not fit the model (before any training).
    """
    from gravityvit.training.tracking import ExperimentTracker

    setup_logging(training_args)
    set_seed(training_args.seed)
    # One MLflow run around everything (see gravityvit.training.tracking), FAILED when training raises.
    with ExperimentTracker(model_args, data_args, training_args) as tracker:
        return _train(model_args, data_args, training_args, callbacks, tracker)


def _train(
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: GlitchTrainingArguments,
    callbacks: list[TrainerCallback] | None,
    tracker: ExperimentTracker,
) -> TrainResult:
    """The body of ``train`` inside its experiment tracking."""

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
    result = TrainResult(
        validation={k.removeprefix("validation_"): v for k, v in validation_metrics.items()},
        train_seconds=train_seconds,
        output_dir=training_args.output_dir,
        dataset=dataset_source,
    )

    if trainer.is_world_process_zero():
        unwrapped = trainer.accelerator.unwrap_model(trainer.model)
        # Temperature and unknown-glitch threshold fitted on the validation split, saved in config.json;
        # the relative Mahalanobis score's class statistics on the training split (no augmentation).
        result.calibration = calibrate_and_save(
            unwrapped,
            image_processor,
            validation_split,
            training_args.output_dir,
            batch_size=training_args.per_device_eval_batch_size,
            device=trainer.args.device,
            statistics_dataset=train_split,
            unknown_score_method=training_args.unknown_score_method,
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
            result.test = {k: report[k] for k in SUMMARY_METRICS}
            result.test["single_duration"] = report.get("single_duration")
            result.test["intervals"] = {
                k: v for k, v in report["intervals"].items() if k != "per_class_f1"
            }  # the per-class ones are in the report
            result.report_dir = str(Path(training_args.output_dir) / "evaluation")
        card_metrics = {"validation": {k: v for k, v in result.validation.items() if isinstance(v, float)}}
        if result.test is not None:
            card_metrics["test"] = {k: v for k, v in result.test.items() if isinstance(v, float)}
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
            intervals={"test": result.test["intervals"]} if result.test is not None else None,
        )
        results_json = Path(training_args.output_dir) / "results.json"
        results_json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        tracker.log_outputs(
            trainer,
            result.test,
            result.report_dir,
            Path(training_args.output_dir) / "README.md",
            results_json,
        )
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
    return result


# ---------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------


def evaluate(arguments: EvaluationArguments) -> dict[str, Any]:
    """Evaluate a trained model on one split of a converted dataset and write the report.

    Returns:
        `dict`: the report's metrics (``metrics.json`` in ``arguments.output``).

    Raises:
        OutputError: before anything is loaded, when ``arguments.output`` holds something other
            than an earlier evaluation report, or holds the model or the dataset.
    """
    from gravityvit.file_utils import check_output
    from gravityvit.hub import load_model_and_processor
    from gravityvit.training.evaluation import EVALUATION_REPORT, write_evaluation_report

    # Before loading anything: the report may replace only an earlier report, never the model or data.
    check_output(arguments.output, EVALUATION_REPORT, inputs=(arguments.model, arguments.dataset))
    model, processor = load_model_and_processor(
        arguments.model, trust_remote_code=arguments.trust_remote_code
    )
    dataset = load_glitch_dataset(arguments.dataset)
    durations = getattr(model.config, "view_durations_s", None) or VIEW_DURATIONS_S
    check_glitch_dataset(
        dataset, model.config.id2label, durations, splits=(arguments.split,), source=arguments.dataset
    )
    split = _truncate(dataset[arguments.split], arguments.max_samples)
    return write_evaluation_report(
        model,
        processor,
        split,
        arguments.output,
        split=arguments.split,
        batch_size=arguments.batch_size,
        device=arguments.device,
        gallery_size=arguments.gallery_size,
        single_duration=not arguments.no_single_duration,
        time_shift_samples_per_class=arguments.time_shift_samples_per_class,
    )


__all__ = [
    "SUMMARY_METRICS",
    "TrainResult",
    "class_weights_for",
    "default_dataset",
    "evaluate",
    "load_model",
    "resolve_resume",
    "setup_logging",
    "train",
    "warmup_steps_for",
]
