"""What a model costs to train and to run: parameters, FLOPs, samples per second, a wall-clock budget.

``examples/compare_models.py`` reports these next to accuracy, so that a more accurate model is also
seen to be a more expensive one (or not):

- ``count_parameters``: trainable and total parameters;
- ``forward_flops_per_sample``: FLOPs of one sample's forward pass, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (matrix products and convolutions, 2 FLOPs per
  multiply-add; element-wise work is not counted);
- ``training_flops``: 3 x forward FLOPs x samples seen, the usual estimate of forward plus backward
  (the backward pass costs about twice the forward);
- ``samples_seen``: training samples processed in a number of optimizer steps;
- ``inference_throughput``: samples per second of the model's forward pass on a synthetic batch
  (model only: no PNG decoding, no resizing);
- ``TrainingBudgetCallback``: stops training when a wall-clock budget is spent, with a learning-rate
  schedule that runs on the clock.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from transformers import TrainerCallback


def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """``{"total": ..., "trainable": ...}`` parameter counts of ``model``."""
    return {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def synthetic_inputs(config: Any, batch_size: int = 1, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Model inputs of ``batch_size`` samples with every view present: the shape the processor gives.

    ``pixel_values`` (B, num_views, 3, H, W) of ``config.image_size`` and an all-True ``view_mask``.
    Values are random (FLOPs and time do not depend on them).
    """
    height, width = config.image_size_hw
    num_views = int(config.num_views)
    generator = torch.Generator().manual_seed(0)
    return {
        "pixel_values": torch.rand(batch_size, num_views, 3, height, width, generator=generator).to(device),
        "view_mask": torch.ones(batch_size, num_views, dtype=torch.bool, device=device),
    }


@torch.no_grad()
def forward_flops_per_sample(model: torch.nn.Module, batch_size: int = 2) -> float:
    """FLOPs of one sample's forward pass with every view present (``FlopCounterMode``, averaged over a batch).

    A batch of 2 rather than 1 keeps batch-dependent shortcuts (e.g. the fusion skipping its mask when
    every view is present) the same as in training.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    inputs = synthetic_inputs(model.config, batch_size, device)
    counter = FlopCounterMode(display=False)
    with counter:
        model(**inputs)
    model.train(was_training)
    return counter.get_total_flops() / batch_size


def samples_seen(global_step: int, num_train_samples: int, batch_size: int) -> int:
    """Training samples processed in ``global_step`` optimizer steps of ``batch_size`` (the last batch of an epoch may be short).

    ``batch_size`` is the effective one: per device x devices x gradient accumulation.
    """
    if num_train_samples <= 0 or batch_size <= 0 or global_step < 0:
        raise ValueError(
            f"need num_train_samples > 0, batch_size > 0 and global_step >= 0; got "
            f"{num_train_samples}, {batch_size}, {global_step}"
        )
    steps_per_epoch = math.ceil(num_train_samples / batch_size)
    epochs, steps = divmod(global_step, steps_per_epoch)
    return epochs * num_train_samples + min(steps * batch_size, num_train_samples)


def training_flops(forward_flops: float, num_samples: int) -> float:
    """Training FLOPs of ``num_samples`` samples: forward plus backward, estimated as 3 x forward."""
    return 3.0 * forward_flops * num_samples


@torch.no_grad()
def inference_throughput(
    model: torch.nn.Module, batch_size: int = 64, min_seconds: float = 1.0, max_batches: int = 50
) -> float:
    """Samples per second of ``model``'s forward pass (eval mode, no gradients) on synthetic batches.

    One warm-up batch, then batches until ``min_seconds`` have passed (at most ``max_batches``). Only
    the model is timed: decoding and resizing the views are the same for every model.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    inputs = synthetic_inputs(model.config, batch_size, device)
    model(**inputs)  # warm-up: first-call allocations and kernel selection
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    synchronize()
    batches, started = 0, time.perf_counter()
    while batches < max_batches and (batches == 0 or time.perf_counter() - started < min_seconds):
        model(**inputs)
        batches += 1
    synchronize()
    elapsed = time.perf_counter() - started
    model.train(was_training)
    return batches * batch_size / elapsed


class TrainingBudgetCallback(TrainerCallback):
    """Stop training once ``budget_seconds`` of wall-clock time have passed since training began.

    The time counts everything inside ``Trainer.train`` after it starts: the steps and the
    validation passes that choose the best checkpoint. When the budget is spent the current epoch
    ends early: the Trainer's end-of-epoch evaluation and checkpoint still run (with
    ``eval_strategy="epoch"``), so the last steps count for the best-model choice.

    With ``time_schedule`` (default) the learning-rate schedule runs on the clock rather than on a
    step count that a budget does not know in advance: a linear warm-up over the first
    ``warmup_fraction`` of the budget, then a cosine decay that reaches zero when the budget is spent.
    It replaces the multiplier of the Trainer's ``LambdaLR`` scheduler (``lr_scheduler_type`` cosine,
    linear, constant, ...: any that is a ``LambdaLR``), so the learning rate is logged as usual.
    Each model thus gets a complete schedule, however many steps fit.

    Args:
        budget_seconds (`float`): the wall-clock budget of training, in seconds.
        warmup_fraction (`float`, *optional*, defaults to 0): share of the budget spent warming up.
        time_schedule (`bool`, *optional*, defaults to True): replace the learning-rate schedule by
            the clock-based one; False keeps the Trainer's (set for its own step count).
        clock (`callable`, *optional*): seconds since an arbitrary origin (``time.perf_counter``);
            tests pass a fake one.
    """

    def __init__(
        self,
        budget_seconds: float,
        warmup_fraction: float = 0.0,
        time_schedule: bool = True,
        clock=time.perf_counter,
    ) -> None:
        if not budget_seconds > 0:
            raise ValueError(f"budget_seconds must be positive; got {budget_seconds}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1); got {warmup_fraction}")
        self.budget_seconds = float(budget_seconds)
        self.warmup_fraction = float(warmup_fraction)
        self.time_schedule = time_schedule
        self.clock = clock
        self.started: float | None = None
        self.stopped_at_step: int | None = None
        self._scheduler_replaced = False

    def elapsed_fraction(self) -> float:
        """Share of the budget spent so far (0 before training begins; may exceed 1 at the end)."""
        if self.started is None:
            return 0.0
        return (self.clock() - self.started) / self.budget_seconds

    def learning_rate_factor(self, step: int = 0) -> float:
        """The multiplier of the base learning rate now: linear warm-up, then cosine decay to 0 over the budget.

        ``step`` is ignored (the schedule follows the clock); it is the argument ``LambdaLR`` passes.
        """
        progress = min(1.0, self.elapsed_fraction())
        if progress < self.warmup_fraction:
            return progress / self.warmup_fraction
        decay = (progress - self.warmup_fraction) / (1.0 - self.warmup_fraction)
        return 0.5 * (1.0 + math.cos(math.pi * decay))

    def _replace_schedule(self, lr_scheduler) -> None:
        # The Trainer may wrap its scheduler (accelerate's AcceleratedScheduler holds it as .scheduler).
        scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)
        if not isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR):
            raise ValueError(
                f"the time-based schedule needs a LambdaLR learning-rate scheduler; the Trainer made a "
                f"{type(scheduler).__name__} (choose a lr_scheduler_type such as 'cosine' or 'constant')"
            )
        scheduler.lr_lambdas = [self.learning_rate_factor for _ in scheduler.lr_lambdas]
        # Apply the new factor to the learning rate the first step will use.
        for group, base_lr in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
            group["lr"] = base_lr * self.learning_rate_factor()
        self._scheduler_replaced = True

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self.clock()
        self.stopped_at_step = None

    def on_step_begin(self, args, state, control, lr_scheduler=None, **kwargs):
        # The scheduler is handed to callbacks once the training loop has made it, not always at
        # on_train_begin: replace its factor before the first optimizer step.
        if self.time_schedule and not self._scheduler_replaced and lr_scheduler is not None:
            self._replace_schedule(lr_scheduler)

    def on_step_end(self, args, state, control, **kwargs):
        if self.time_schedule and not self._scheduler_replaced:
            raise RuntimeError(
                "TrainingBudgetCallback: the Trainer gave no learning-rate scheduler to replace before the "
                "first step; pass time_schedule=False to keep the Trainer's own schedule"
            )
        if self.elapsed_fraction() >= 1.0:
            control.should_training_stop = True
            self.stopped_at_step = state.global_step
        return control


__all__ = [
    "TrainingBudgetCallback",
    "count_parameters",
    "forward_flops_per_sample",
    "inference_throughput",
    "samples_seen",
    "synthetic_inputs",
    "training_flops",
]
