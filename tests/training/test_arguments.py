"""The typed arguments of a training run and an evaluation: parsing, file input and caller defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gravityvit.training.arguments import (
    DEFAULT_MODEL,
    EvaluationArguments,
    parse_evaluation_arguments,
    parse_train_arguments,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def test_flags_fill_the_three_dataclasses(tmp_path):
    model_args, data_args, training_args = parse_train_arguments(
        ["--dataset", "data/x", "--focal_gamma", "2", "--output_dir", str(tmp_path), "--use_cpu"]
    )
    assert model_args.model == DEFAULT_MODEL and model_args.focal_gamma == 2.0
    assert data_args.dataset == "data/x" and data_args.augment is True
    assert training_args.output_dir == str(tmp_path) and training_args.metric_for_best_model == "macro_f1"


def test_a_json_file_holds_the_same_arguments(tmp_path):
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"dataset": "data/y", "output_dir": str(tmp_path), "use_cpu": True}))
    _, data_args, training_args = parse_train_arguments([str(path)])
    assert data_args.dataset == "data/y" and training_args.use_cpu


def test_caller_defaults_are_overridden_by_flags(tmp_path):
    defaults = {"augment": False, "seed": 7, "output_dir": str(tmp_path), "use_cpu": True}
    _, data_args, training_args = parse_train_arguments([], defaults=defaults)
    assert data_args.augment is False and training_args.seed == 7
    _, data_args, training_args = parse_train_arguments(
        ["--augment", "True", "--seed", "3"], defaults=defaults
    )
    assert data_args.augment is True and training_args.seed == 3


def test_an_unknown_default_raises():
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['view_drop'\]"):
        parse_train_arguments([], defaults={"view_drop": 0.1})


def test_evaluation_arguments():
    arguments = parse_evaluation_arguments(
        ["--model", "m", "--dataset", "d", "--output", "o", "--no_single_duration", "--max_samples", "5"]
    )
    assert arguments == EvaluationArguments(
        model="m", dataset="d", output="o", no_single_duration=True, max_samples=5
    )


@pytest.mark.slow
def test_the_command_lines_show_their_flags():
    for script in ("train.py", "evaluate.py"):
        result = subprocess.run(
            [sys.executable, str(EXAMPLES_DIR / script), "--help"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        assert "--model" in result.stdout and "--dataset" in result.stdout, script
