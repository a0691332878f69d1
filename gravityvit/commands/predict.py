"""``gravityvit predict``: classify glitches from PNGs, folders, HDF5 files, Arrow datasets or strain.

Inputs are grouped into samples by ``gravityvit.pipelines.expand_inputs`` and classified by the
glitch-classification pipeline's own preprocess / forward / postprocess steps, so the command and
``pipeline("glitch-classification")`` give the same predictions. A sample that cannot be read is
reported by name and the others are still classified. ``--backend onnx`` runs the model's ONNX export
with ONNX Runtime (``gravityvit.inference.onnx_runtime``); ``--num-processes N`` classifies in N worker
processes with the same output as one (``gravityvit.inference.parallel``).

Exit codes: 0 every input classified, 1 some inputs failed, 2 usage or model error.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gravityvit.commands import common

HELP = "classify glitches with a trained model"
DESCRIPTION = """
Classify glitches with a GravityViT (or CNN-baseline) model. INPUT may be Gravity Spy PNGs
({ifo}_{id}_spectrogram_{d}.png, 800x600 renderings or 569x479 Kaggle crops, grouped by sample id;
durations a sample lacks are masked), folders of them (e.g. a Kaggle tree
train|validation|test/<Class>/, the class folder giving the true label), other images (a lone view
or a 2x2 merged view), a Gravity Spy HDF5 file or an Arrow dataset directory (save_to_disk); or give
--strain FILE --gps T [T ...] to Omega-scan strain first. Writes one row per sample: id, top-k
labels and (calibrated) scores, view weights per duration, the unknown-glitch score and flag.
"""
EPILOG = (
    "Exit status: 0 all inputs classified, 1 some inputs failed (reported by name), 2 usage or model error."
)

EXIT_OK, EXIT_INPUT_FAILED, EXIT_USAGE = 0, 1, 2
OUTPUT_SUFFIXES = (".csv", ".json")
# Show a progress bar from this many samples on.
PROGRESS_MIN_SAMPLES = 64
# The columns a predictions CSV starts with (``prediction_rows``).
CSV_KEY_COLUMNS = ("sample_id", "source", "true_label", "label", "score")


def output_kind(path: Path):
    """The kind of a predictions file: an existing ``path`` is replaced only by the same kind."""
    from gravityvit.file_utils import OutputKind, csv_with_header, json_with_keys

    if path.suffix.lower() == ".json":
        return OutputKind("predictions JSON", recognise=json_with_keys("model", "predictions", "failures"))
    return OutputKind("predictions CSV", recognise=csv_with_header(*CSV_KEY_COLUMNS))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``predict`` subcommand."""
    parser = common.add_subcommand(subparsers, "predict", run, HELP, DESCRIPTION, EPILOG)
    parser.add_argument(
        "inputs", nargs="*", metavar="INPUT", help="PNG files, folders, HDF5 files, Arrow dataset dirs"
    )
    common.add_model_argument(parser, help="model directory or Hub id (e.g. gravityvit/multiview-b16)")
    parser.add_argument(
        "--output", type=Path, help="write predictions to this .csv or .json file (default: print)"
    )
    common.add_batch_size_argument(parser, default=16)
    parser.add_argument(
        "--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps"
    )
    parser.add_argument("--top-k", type=int, default=3, help="classes listed per sample (default 3)")
    parser.add_argument("--strain", type=Path, help="strain file gwpy reads (GWOSC HDF5, GWF, TXT)")
    parser.add_argument(
        "--gps", type=float, nargs="+", metavar="T", help="GPS time(s) of the glitches in --strain"
    )
    parser.add_argument("--channel", help="strain channel (GWF files, e.g. H1:GWOSC-16KHZ_R1_STRAIN)")
    parser.add_argument("--ifo", help="detector of --strain (H1, L1), used in sample ids")
    parser.add_argument(
        "--unknown-label",
        metavar="LABEL",
        help="replace the label of samples flagged as unknown glitches (is_unknown) by LABEL, e.g. Unknown; "
        "needs a model calibrated with an unknown threshold",
    )
    parser.add_argument(
        "--backend",
        choices=("torch", "onnx"),
        default="torch",
        help="torch (default), or onnx: run MODEL/model.onnx (from gravityvit export-onnx) with ONNX Runtime",
    )
    parser.add_argument(
        "--onnx-file", type=Path, help="with --backend onnx: the ONNX file (default MODEL/model.onnx)"
    )
    parser.add_argument(
        "--num-processes",
        type=int,
        default=1,
        metavar="N",
        help="classify in N worker processes (one GPU each where CUDA is present, else the CPU cores shared "
        "out); the output is the same as with one process (default 1)",
    )
    common.add_trust_remote_code_argument(parser)


def _usage_error(args: argparse.Namespace) -> str | None:
    if not args.inputs and args.strain is None:
        return "give at least one INPUT or --strain FILE --gps T"
    if (args.strain is None) != (args.gps is None):
        return "--strain and --gps go together"
    if args.output is not None and args.output.suffix.lower() not in OUTPUT_SUFFIXES:
        return f"--output must end in {' or '.join(OUTPUT_SUFFIXES)}; got {args.output}"
    if args.batch_size < 1:
        return f"--batch-size must be at least 1; got {args.batch_size}"
    if args.top_k < 1:
        return f"--top-k must be at least 1; got {args.top_k}"
    if args.num_processes < 1:
        return f"--num-processes must be at least 1; got {args.num_processes}"
    if args.onnx_file is not None and args.backend != "onnx":
        return "--onnx-file goes with --backend onnx"
    if args.unknown_label is not None and not args.unknown_label.strip():
        return "--unknown-label must not be empty"
    if args.output is not None:
        from gravityvit.file_utils import OutputError, check_output

        # Before the model is loaded: the results must have somewhere to go.
        try:
            check_output(args.output, output_kind(args.output), inputs=[*args.inputs, args.strain])
        except OutputError as error:
            return f"--output {error}"
    return None


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def classify_samples(
    pipe: Any, samples: Sequence[Any], *, batch_size: int, top_k: int, progress: bool = False
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Classify ``GlitchSample``s with a glitch-classification pipeline, isolating bad samples.

    Each sample goes through ``pipe.preprocess`` alone (a failure is recorded with its source and
    the others go on), then ``batch_size`` samples at a time through ``pipe.forward`` and
    ``pipe.postprocess``.

    Returns
    -------
    predictions : list of dict
        The pipeline's result per sample plus ``source`` and ``true_label``.
    failures : list of (source, message)
    """
    from tqdm.auto import tqdm

    from gravityvit.pipelines import InputError

    predictions: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    bar = tqdm(total=len(samples), unit="sample", disable=not progress, file=sys.stderr)
    for chunk in _batches(samples, batch_size):
        prepared, kept = [], []
        for sample in chunk:
            try:
                prepared.append(pipe.preprocess(sample))
                kept.append(sample)
            except InputError as error:
                failures.append((error.source, error.reason))  # the innermost source: the bad file
            except ImportError as error:
                failures.append((sample.source, str(error)))
        if prepared:
            outputs = pipe.forward(pipe.collate(prepared))
            for index, sample in enumerate(kept):
                item = {
                    "logits": outputs["logits"][index : index + 1],
                    "view_weights": outputs["view_weights"][index : index + 1],
                    "sample_id": outputs["sample_id"][index],
                }
                if "unknown_score" in outputs:
                    item["unknown_score"] = outputs["unknown_score"][index : index + 1]
                try:
                    result = pipe.postprocess(item, top_k=top_k)
                except InputError as error:  # NaN scores: reported, never printed as a prediction
                    failures.append((sample.source, error.reason))
                    continue
                result["source"] = sample.source
                result["true_label"] = sample.label
                predictions.append(result)
        bar.update(len(chunk))
    bar.close()
    return predictions, failures


def prediction_rows(
    predictions: Sequence[dict[str, Any]], top_k: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """Flatten predictions into CSV columns: id, source, true label, top-k labels/scores, view weights."""
    durations: list[str] = []
    for prediction in predictions:
        durations.extend(d for d in prediction["view_weights"] if d not in durations)
    columns = list(CSV_KEY_COLUMNS)
    for rank in range(1, top_k + 1):
        columns += [f"label_{rank}", f"score_{rank}"]
    columns += [f"view_weight_{d}s" for d in durations]
    columns += ["unknown_score", "is_unknown"]
    rows = []
    for prediction in predictions:
        row = {key: prediction.get(key) for key in ("sample_id", "source", "true_label", "label")}
        row["score"] = f"{prediction['score']:.6f}"
        for rank, entry in enumerate(prediction["top_k"], start=1):
            row[f"label_{rank}"], row[f"score_{rank}"] = entry["label"], f"{entry['score']:.6f}"
        for duration, weight in prediction["view_weights"].items():
            row[f"view_weight_{duration}s"] = f"{weight:.6f}"
        if prediction.get("unknown_score") is not None:
            row["unknown_score"] = f"{prediction['unknown_score']:.6f}"
        row["is_unknown"] = prediction.get("is_unknown")
        rows.append(row)
    return columns, rows


def write_predictions(
    path: Path,
    predictions: Sequence[dict[str, Any]],
    failures: Sequence[tuple[str, str]],
    *,
    top_k: int,
    model: str,
) -> None:
    """Write predictions atomically as CSV (one row per sample) or JSON (predictions + failures)."""
    from gravityvit.file_utils import atomic_path

    with atomic_path(path, kind=output_kind(path)) as temporary:
        if path.suffix.lower() == ".json":
            document = {
                "model": model,
                "predictions": list(predictions),
                "failures": [{"source": source, "error": message} for source, message in failures],
            }
            temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        else:
            columns, rows = prediction_rows(predictions, top_k)
            with temporary.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)


def _print_predictions(predictions: Sequence[dict[str, Any]]) -> None:
    for prediction in predictions:
        weights = " ".join(f"{d}s={w:.2f}" for d, w in prediction["view_weights"].items())
        others = ", ".join(f"{e['label']} {e['score']:.3f}" for e in prediction["top_k"][1:])
        unknown = " UNKNOWN" if prediction.get("is_unknown") else ""
        print(
            f"{prediction['sample_id']}\t{prediction['label']}\t{prediction['score']:.3f}"
            f"\t[{others}]\tviews: {weights}\tunknown score {prediction.get('unknown_score', float('nan')):.3f}"
            f"{unknown}"
        )


def run(args: argparse.Namespace) -> int:
    """Run ``gravityvit predict``; return the exit code."""
    problem = _usage_error(args)
    if problem is not None:
        print(f"gravityvit predict: error: {problem}", file=sys.stderr)
        return EXIT_USAGE

    from gravityvit.hub import HubUnavailableError
    from gravityvit.inference.parallel import (
        PredictorSpec,
        build_pipeline,
        classify_in_processes,
        describe_device,
    )
    from gravityvit.pipelines import InputError, expand_inputs

    spec = PredictorSpec(
        model=str(args.model),
        backend=args.backend,
        onnx_file=None if args.onnx_file is None else str(args.onnx_file),
        device=args.device,
        trust_remote_code=args.trust_remote_code,
    )
    try:
        # Loaded here also with --num-processes, so that model errors are reported once before any work
        # (then on the CPU: the GPUs are the workers').
        several = args.num_processes > 1 and spec.backend == "torch"
        pipe = build_pipeline(spec, device="cpu" if several else None)
    except (HubUnavailableError, OSError, ValueError, RuntimeError, ImportError) as error:
        print(f"gravityvit predict: cannot load model {args.model}: {error}", file=sys.stderr)
        return EXIT_USAGE
    model = pipe.model
    if args.unknown_label is not None and getattr(model.config, "unknown_threshold", None) is None:
        print(
            f"gravityvit predict: error: --unknown-label needs a model with an unknown threshold; {args.model} "
            "has none (fit one with `gravityvit calibrate`)",
            file=sys.stderr,
        )
        return EXIT_USAGE

    inputs: list[Any] = [str(path) for path in args.inputs]
    if args.strain is not None:
        inputs.append({"strain": str(args.strain), "gps": args.gps, "channel": args.channel, "ifo": args.ifo})
    samples, failures = [], []
    for item in expand_inputs(inputs, errors="yield"):
        if isinstance(item, InputError):
            failures.append((item.source, item.reason))
        else:
            samples.append(item)

    progress = len(samples) >= PROGRESS_MIN_SAMPLES
    if args.num_processes > 1 and samples:
        from tqdm.auto import tqdm

        del pipe, model  # the workers build their own
        bar = tqdm(total=len(samples), unit="sample", disable=not progress, file=sys.stderr)
        predictions, sample_failures, devices = classify_in_processes(
            inputs,
            spec,
            len(samples),
            num_processes=args.num_processes,
            batch_size=args.batch_size,
            top_k=args.top_k,
            on_job_done=bar.update,
        )
        bar.close()
        where = f"{len(devices)} process(es) ({', '.join(sorted(set(devices)))})"
    else:
        predictions, sample_failures = classify_samples(
            pipe, samples, batch_size=args.batch_size, top_k=args.top_k, progress=progress
        )
        where = describe_device(pipe)
    failures.extend(sample_failures)
    if args.unknown_label is not None:
        from gravityvit.inference.unknown import replace_unknown_labels

        flagged = replace_unknown_labels(predictions, args.unknown_label)
        print(f"gravityvit predict: {flagged} sample(s) labelled {args.unknown_label}", file=sys.stderr)
    for source, message in failures:
        print(f"gravityvit predict: failed: {source}: {message}", file=sys.stderr)

    if args.output is not None:
        write_predictions(args.output, predictions, failures, top_k=args.top_k, model=str(args.model))
    else:
        _print_predictions(predictions)
    labelled = [p for p in predictions if p.get("true_label")]
    summary = f"classified {len(predictions)} sample(s) on {where}; {len(failures)} input(s) failed"
    if labelled:
        correct = sum(p["label"] == p["true_label"] for p in labelled)
        summary += f"; accuracy {correct / len(labelled):.4f} on {len(labelled)} labelled sample(s)"
    if args.output is not None:
        summary += f"; wrote {args.output}"
    print(summary, file=sys.stderr)
    return EXIT_INPUT_FAILED if failures else EXIT_OK
