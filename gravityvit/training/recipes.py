"""Training recipes shared by the scripts that run them, as field values of ``parse_train_arguments``.

Plain values, no heavy imports: a script can read them to build its command line before importing torch.
"""

from __future__ import annotations

from typing import Any

# `make demo`'s recipe (examples/demo.py): the CPU demo model trained from scratch on simulated data.
# Benchmarks that measure "the demo's recipe" (benchmarks/open_set.py) train with the same values;
# what each choice bought is in docs/training.md ("The demo").
DEMO_RECIPE: dict[str, Any] = {
    "model": "gravityvit/multiview-demo",
    # On DEMO_SAMPLES_PER_CLASS simulated samples per class; 380 for 15 epochs (the same steps) is
    # level on the real samples and costs twice the simulation (docs/training.md).
    "num_train_epochs": 30,
    "learning_rate": 3e-3,
    "warmup_epochs": 1.0,
    "per_device_train_batch_size": 32,
    "per_device_eval_batch_size": 64,
    "early_stopping_patience": 10,
    "save_total_limit": 2,
    "dataloader_num_workers": 0,
    # Augmentation with view dropout 0.5: real Gravity Spy samples often come with only one or two
    # durations, which a model trained on complete samples misreads (docs/simulator.md, "Sim-to-real
    # accuracy").
    "augment": True,
    "view_dropout": 0.5,
    # No experiment tracking by default (MLflow would write mlflow.db and mlruns/ into the working
    # directory); `--report_to mlflow,tensorboard` turns it on.
    "report_to": "none",
}

# Simulated samples per class of `make demo`'s data set (15 % each for validation and test).
DEMO_SAMPLES_PER_CLASS = 190

__all__ = ["DEMO_RECIPE", "DEMO_SAMPLES_PER_CLASS"]
