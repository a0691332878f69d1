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

The run itself is ``gravityvit.training.run.train``; the flags are the fields of the dataclasses in
``gravityvit.training.arguments``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# examples/evaluate.py has the name of the `evaluate` library that the metrics import: keep this
# folder off sys.path (python puts a script's folder first) so that `import evaluate` finds the library.
_EXAMPLES_DIR = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != _EXAMPLES_DIR]

from gravityvit.training.arguments import parse_train_arguments  # noqa: E402
from gravityvit.training.run import train  # noqa: E402

if __name__ == "__main__":
    train(*parse_train_arguments(sys.argv[1:]))
