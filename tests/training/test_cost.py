"""Cost reporting of the model comparison: parameters, counted FLOPs, samples seen, throughput, the budget callback."""

from __future__ import annotations

import itertools
import json

import pytest
import torch

from gravityvit import GravitySpyCNNConfig, GravitySpyCNNForGlitchClassification, get_named_config
from gravityvit.training.cost import (
    TrainingBudgetCallback,
    count_parameters,
    forward_flops_per_sample,
    inference_throughput,
    samples_seen,
    training_flops,
)

from .conftest import TINY_MODEL, TINY_OVERRIDES

SMALL_CNN = {"image_size": [32, 48], "conv_channels": [4, 4, 8, 8], "kernel_size": 3, "dense_size": 16}


def small_cnn() -> GravitySpyCNNForGlitchClassification:
    return GravitySpyCNNForGlitchClassification(GravitySpyCNNConfig(**SMALL_CNN))


def test_cnn_flops_match_the_count_by_hand():
    """Convolutions: 2 x C_in x C_out x k^2 per output pixel; dense layers: 2 x in x out."""
    model = small_cnn()
    height, width = 2 * 32, 2 * 48  # the merged view tiles the four views 2x2
    channels = [1, *SMALL_CNN["conv_channels"]]
    expected = 0
    for c_in, c_out in itertools.pairwise(channels):
        expected += 2 * c_in * c_out * 3 * 3 * height * width
        height, width = height // 2, width // 2
    expected += 2 * channels[-1] * height * width * 16 + 2 * 16 * 22
    assert forward_flops_per_sample(model) == expected
    params = count_parameters(model)
    assert params["total"] == params["trainable"] == sum(p.numel() for p in model.parameters()) > 0


def test_vit_flops_are_per_sample_and_grow_with_the_input():
    from gravityvit import GravityViTForGlitchClassification

    torch.manual_seed(0)
    model = GravityViTForGlitchClassification(get_named_config(TINY_MODEL, **TINY_OVERRIDES))
    flops = forward_flops_per_sample(model, batch_size=2)
    assert flops > 0
    assert forward_flops_per_sample(model, batch_size=4) == pytest.approx(flops, rel=1e-6)
    larger = GravityViTForGlitchClassification(
        get_named_config(TINY_MODEL, **{**TINY_OVERRIDES, "image_size": 64})
    )
    # Four times the patches: at least four times the patch-embedding and MLP work.
    assert forward_flops_per_sample(larger) > 3.5 * flops
    assert training_flops(flops, 10) == pytest.approx(30 * flops)
    assert model.training  # the count leaves the model's mode as it was


def test_samples_seen_counts_short_last_batches():
    assert samples_seen(0, 100, 32) == 0
    assert samples_seen(3, 100, 32) == 96
    assert samples_seen(4, 100, 32) == 100  # one epoch: the last batch holds 4 samples
    assert samples_seen(9, 100, 32) == 232  # two epochs and one batch
    with pytest.raises(ValueError, match="num_train_samples"):
        samples_seen(1, 0, 32)


def test_inference_throughput_is_positive():
    assert inference_throughput(small_cnn(), batch_size=4, min_seconds=0.0, max_batches=2) > 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_budget_schedule_warms_up_then_decays_to_zero_on_the_clock():
    clock = FakeClock()
    callback = TrainingBudgetCallback(100.0, warmup_fraction=0.1, clock=clock)
    callback.on_train_begin(None, None, None)
    factors = {}
    for t in (0.0, 5.0, 10.0, 55.0, 100.0, 150.0):
        clock.now = t
        factors[t] = callback.learning_rate_factor()
    assert factors[0.0] == 0.0 and factors[5.0] == pytest.approx(0.5)
    assert factors[10.0] == pytest.approx(1.0) and factors[55.0] == pytest.approx(0.5)
    assert factors[100.0] == pytest.approx(0.0) and factors[150.0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="budget_seconds"):
        TrainingBudgetCallback(0)
    with pytest.raises(ValueError, match="warmup_fraction"):
        TrainingBudgetCallback(10, warmup_fraction=1.0)


def test_budget_stops_training_once_spent():
    from transformers import TrainerControl, TrainerState

    clock = FakeClock()
    callback = TrainingBudgetCallback(60.0, time_schedule=False, clock=clock)
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control)
    clock.now, state.global_step = 59.0, 7
    callback.on_step_end(None, state, control)
    assert not control.should_training_stop and callback.stopped_at_step is None
    clock.now, state.global_step = 60.5, 8
    callback.on_step_end(None, state, control)
    assert control.should_training_stop and callback.stopped_at_step == 8
    # With the clock-based schedule, a step without a scheduler to replace is an error, not a silent
    # fall-back to a schedule set for the Trainer's (huge) epoch count.
    with pytest.raises(RuntimeError, match="no learning-rate scheduler"):
        TrainingBudgetCallback(60.0, clock=clock).on_step_end(None, state, control)


def test_budget_replaces_the_trainers_lambda_schedule():
    from transformers.optimization import get_cosine_schedule_with_warmup

    clock = FakeClock()
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=0, num_training_steps=1000)
    callback = TrainingBudgetCallback(10.0, clock=clock)
    callback.on_train_begin(None, None, None)
    callback.on_step_begin(None, None, None, lr_scheduler=scheduler)
    clock.now = 5.0
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)  # half-way down the cosine, by the clock
    with pytest.raises(ValueError, match="LambdaLR"):
        TrainingBudgetCallback(10.0)._replace_schedule(torch.optim.lr_scheduler.StepLR(optimizer, 1))


class TickingClock:
    """A clock that moves 1 s each time it is read: the budget ends after a fixed number of readings."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.slow
def test_budget_callback_in_a_training_run(tiny_dataset, tmp_path):
    from gravityvit.training.arguments import parse_train_arguments
    from gravityvit.training.run import train

    from .conftest import tiny_train_args

    callback = TrainingBudgetCallback(12.0, warmup_fraction=0.2, clock=TickingClock())
    output_dir = tmp_path / "model"
    argv = tiny_train_args(tiny_dataset, output_dir, "--logging_strategy", "steps", "--logging_steps", "1")
    argv += ["--early_stopping_patience", "0", "--evaluate_test", "false", "--report_to", "none"]
    train(*parse_train_arguments([*argv, "--num_train_epochs", "50"]), callbacks=[callback])
    state = json.loads((output_dir / "trainer_state.json").read_text())
    # 44 samples in batches of 16: 3 steps an epoch; 50 epochs would be 150 steps.
    assert callback.stopped_at_step is not None and state["global_step"] == callback.stopped_at_step < 150
    rates = [entry["learning_rate"] for entry in state["log_history"] if "learning_rate" in entry]
    base = 3e-3
    assert max(rates) <= base + 1e-12 and max(rates) > 0.5 * base  # warmed up to the base rate
    assert rates[-1] < 0.5 * base  # and decayed on the clock towards zero by the end
