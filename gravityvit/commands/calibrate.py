"""``gravityvit calibrate``: fit the temperature, unknown-glitch score and threshold of a trained model.

``examples/train.py`` does this at the end of training; this command does it for a model trained
before, on the validation split of a converted dataset (see :mod:`gravityvit.inference.calibration`).
The calibrated model is written as a new directory, atomically.

Exit codes: 0 written, 2 usage, model or data error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gravityvit.commands import common

# configuration_common.UNKNOWN_SCORE_METHODS, spelled out: the CLI's help must not import transformers.
UNKNOWN_SCORE_METHODS = ("energy", "relative_mahalanobis")

HELP = "fit a model's temperature and unknown-glitch score and threshold"
DESCRIPTION = """
Fit logit_temperature (temperature scaling: LBFGS on the NLL of the logits) and unknown_threshold
(95 % of the split's samples pass) of a trained model on a labelled split of a converted dataset
(never the test split), and write the model with them to OUTPUT. With --unknown-score
relative_mahalanobis (the default) the class statistics of the pooled features are (re)fitted on
--statistics-split (the training split) first and saved with the weights; --unknown-score energy
scores the logits instead.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` subcommand."""
    parser = common.add_subcommand(subparsers, "calibrate", run, HELP, DESCRIPTION)
    common.add_model_argument(parser)
    parser.add_argument("--dataset", required=True, help="converted dataset directory or Hub dataset id")
    parser.add_argument("--split", default="validation", help="labelled split to fit on (default validation)")
    common.add_model_output_arguments(parser, help="directory of the calibrated model")
    parser.add_argument(
        "--known-pass-rate", type=float, default=0.95, help="known samples under the threshold"
    )
    parser.add_argument("--max-samples", type=int, help="use only the first N samples of the split")
    parser.add_argument(
        "--unknown-score",
        choices=UNKNOWN_SCORE_METHODS,
        default="relative_mahalanobis",
        help="unknown-glitch score to store and threshold (default relative_mahalanobis)",
    )
    parser.add_argument(
        "--statistics-split",
        default="train",
        help="labelled split the relative Mahalanobis class statistics are fitted on (default train)",
    )
    common.add_batch_size_argument(parser, default=64)
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    common.add_trust_remote_code_argument(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``gravityvit calibrate``; return the exit code."""
    from gravityvit.hub import load_model_and_processor, save_shareable_model
    from gravityvit.inference.calibration import calibrate_model
    from gravityvit.training.data import check_glitch_dataset, load_glitch_dataset

    output = args.output
    if output.exists() and not (args.overwrite and (output / "config.json").is_file()):
        return common.fail(
            "calibrate",
            f"{output} already exists (only an earlier model directory is replaced, with --overwrite)",
            2,
        )
    try:
        model, processor = load_model_and_processor(args.model, trust_remote_code=args.trust_remote_code)
        dataset = load_glitch_dataset(args.dataset)
        durations = model.config.view_durations_s
        fit_statistics = args.unknown_score == "relative_mahalanobis"
        splits = (args.split, args.statistics_split) if fit_statistics else (args.split,)
        check_glitch_dataset(dataset, model.config.id2label, durations, splits=splits, source=args.dataset)
        split = dataset[args.split]
        if args.max_samples is not None:
            split = split.select(range(min(args.max_samples, len(split))))
        statistics_split = dataset[args.statistics_split] if fit_statistics else None
        summary = calibrate_model(
            model,
            processor,
            split,
            batch_size=args.batch_size,
            device=args.device,
            known_pass_rate=args.known_pass_rate,
            progress=True,
            statistics_dataset=statistics_split,
            unknown_score_method=args.unknown_score,
        )
    except (OSError, ValueError, KeyError) as error:
        return common.fail("calibrate", str(error), 2)
    card_path = Path(args.model) / "README.md"
    card = card_path.read_text(encoding="utf-8") if card_path.is_file() else None
    save_shareable_model(model, output, image_processor=processor, model_card=card, overwrite=args.overwrite)
    print(json.dumps(summary, indent=2))
    print(f"wrote {output}")
    return 0
