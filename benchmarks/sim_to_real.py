"""Sim-to-real: how a model trained on simulated glitches does on real ones, and where the simulated
views differ from the real ones, class by class.

Usage::

    python benchmarks/sim_to_real.py --model outputs/demo/model [--real DIR ...] [--simulated-per-class N] [--output OUTDIR]
    python benchmarks/sim_to_real.py --no-model [--classes Whistle Koi_Fish]      # statistics only

Real samples are Gravity Spy PNG folders, ``<Class>/<ifo>_<id>_spectrogram_<d>.png`` (800x600
renderings or 569x479 Kaggle crops, any tree above the class folders); a sample may lack some
durations, which are masked. Without ``--real`` the ``gravityspy/`` and ``kaggle/`` folders of
``$GRAVITYVIT_REAL_SAMPLES`` (default: ``shared/real_samples`` beside the checkout) are used.

With a model it reports the accuracy on every real sample, per class (with counts) and per folder,
the confusion (true -> predicted counts) and draws every mistake (the sample's views, true and
predicted class, score). The model also classifies the simulated samples, so each class's real
accuracy stands beside its simulated one.

For every class with real samples it simulates ``--simulated-per-class`` samples
(``gravityvit.data.simulation.simulate_sample``, cached as .npz under ``OUTDIR/simulated/<fingerprint>``,
where the fingerprint hashes the simulator's source so that a changed simulator simulates afresh)
and compares real and simulated views per view duration with
``gravityvit.data.view_statistics.class_statistics_table``: the frequency band and time extent of the
bright region, its peak and size, and the background's level and texture.

Writes into OUTDIR (default ``outputs/sim_to_real``): ``report.md``, ``report.json``,
``statistics.csv`` (every class x duration x statistic row), ``real_vs_simulated.png`` (real and
simulated views of each class side by side) and, with a model, ``confusion.png`` and
``mistakes-NN.png`` (20 mistakes a page).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(REPO_ROOT))

from gravityvit import gravity_spy  # noqa: E402
from gravityvit.data import view_statistics as vs  # noqa: E402
from gravityvit.file_utils import (  # noqa: E402
    OutputKind,
    atomic_path,
    csv_with_header,
    is_json_document,
    is_png_file,
    read_head,
)
from gravityvit.inference.real_samples import (  # noqa: E402
    Predictions,
    RealSample,
    accuracy_summary,
    classify,
    default_real_dirs,
    load_pipeline,
    load_real_samples,
    single_duration_accuracy,
)

DEFAULT_OUTPUT = REPO_ROOT / "outputs" / "sim_to_real"
DEFAULT_SIMULATED_PER_CLASS = 6
MISTAKES_PER_PAGE = 20
# The statistics shown per class in the Markdown report (statistics.csv has them all).
KEY_STATISTICS: tuple[str, ...] = (
    "band_low_hz",
    "band_high_hz",
    "peak_frequency_hz",
    "time_extent_s",
    "peak_energy",
    "bright_fraction",
    "background_level",
    "background_roughness_time",
)
# Files of the simulator's output whose source decides the simulated views (the cache fingerprint).
SIMULATOR_SOURCES = ("data/simulation", "data/omega", "gravity_spy.py")  # in the package
OUTPUT_MARKER = "report.json"  # an OUTDIR holding this (or nothing) is ours to write into
# What this script writes: a later run replaces only these (an earlier run's files), nothing else.
SIMULATED_SAMPLE = OutputKind(
    "simulated sample (.npz)", recognise=lambda path: read_head(path, 4) == b"PK\x03\x04"
)
FIGURE = OutputKind("sim_to_real figure (PNG)", recognise=is_png_file)
STATISTICS_TABLE = OutputKind("sim_to_real statistics table", recognise=csv_with_header("class"))
MARKDOWN_REPORT = OutputKind(
    "sim_to_real report", recognise=lambda path: read_head(path).startswith(b"# Sim-to-real report")
)
JSON_REPORT = OutputKind("sim_to_real report (JSON)", recognise=is_json_document)


# ---------------------------------------------------------------------------------------------------
# Inputs: real samples and simulated ones
# ---------------------------------------------------------------------------------------------------


def simulator_fingerprint() -> str:
    """First 12 hex digits of a hash of the simulator's source: the cache key of simulated samples."""
    digest = hashlib.sha256()
    package = Path(gravity_spy.__file__).parent
    for relative in SIMULATOR_SOURCES:
        source = package / relative
        for path in sorted(source.rglob("*.py")) if source.is_dir() else [source]:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _simulate_one(job: tuple[str, int, int, int, str]) -> str:
    """Simulate sample ``index`` of ``label`` and save it as .npz at ``path`` (runs in a worker)."""
    label, class_index, seed, index, path = job
    from gravityvit.data.simulation import simulate_sample

    views, metadata = simulate_sample(label, np.random.SeedSequence((seed, class_index, index)))
    with atomic_path(Path(path), kind=SIMULATED_SAMPLE) as temporary, temporary.open("wb") as handle:
        np.savez_compressed(handle, views=views, metadata=json.dumps(_jsonable(metadata)))
    return path


def simulate_classes(
    classes: Sequence[str], per_class: int, seed: int, cache_dir: Path, num_proc: int = 1
) -> tuple[dict[str, list[np.ndarray]], int]:
    """``per_class`` simulated samples (4, 140, 170) of each class, from the cache where there.

    Returns the samples by class and how many were simulated now (the others came from the cache).
    """
    jobs = []
    for label in classes:
        class_index = gravity_spy.CLASS_NAMES.index(label)
        for index in range(per_class):
            path = cache_dir / label / f"seed{seed}-{index}.npz"
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                jobs.append((label, class_index, seed, index, str(path)))
    if jobs:
        if num_proc > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=num_proc) as pool:
                list(pool.map(_simulate_one, jobs))
        else:
            for job in jobs:
                _simulate_one(job)
    simulated = {}
    for label in classes:
        simulated[label] = []
        for index in range(per_class):
            with np.load(cache_dir / label / f"seed{seed}-{index}.npz") as data:
                simulated[label].append(data["views"].astype(np.float32))
    return simulated, len(jobs)


# ---------------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _show_views(axes, views: Sequence[np.ndarray | None], first_row: bool) -> None:
    for column, (ax, view) in enumerate(zip(axes, views)):
        if view is not None:
            ax.imshow(view, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        else:
            ax.text(0.5, 0.5, "missing", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        if first_row:
            ax.set_title(f"{gravity_spy.VIEW_DURATIONS_S[column]:g} s", fontsize=9)


def plot_mistakes(samples: Sequence[RealSample], predictions: Predictions, output_dir: Path) -> list[str]:
    """Draw every misclassified sample's four views (missing ones marked), 20 a page; return the file names."""
    plt = _pyplot()
    wrong = [i for i, sample in enumerate(samples) if predictions.predicted[i] != sample.label]
    names = []
    for page, start in enumerate(range(0, len(wrong), MISTAKES_PER_PAGE), start=1):
        chunk = wrong[start : start + MISTAKES_PER_PAGE]
        fig, axes = plt.subplots(len(chunk), 4, figsize=(8.8, 1.9 * len(chunk)), squeeze=False)
        for row, index in enumerate(chunk):
            sample = samples[index]
            _show_views(axes[row], sample.present_views, row == 0)
            axes[row, 0].set_ylabel(
                f"{sample.folder}/{sample.sample_id}\ntrue {sample.label}\n"
                f"pred {predictions.predicted[index]} ({predictions.scores[index]:.2f})",
                fontsize=7,
            )
        fig.suptitle(f"Misclassified real samples ({start + 1}-{start + len(chunk)} of {len(wrong)})")
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / (1.9 * len(chunk))))  # room for the title
        name = f"mistakes-{page:02d}.png"
        _save_figure(fig, output_dir / name, dpi=80)
        plt.close(fig)
        names.append(name)
    return names


def _common_duration(samples: Sequence[RealSample]) -> int:
    """The view index most real samples of a class have (1 s first on ties: Gravity Spy's reference)."""
    counts = np.sum([s.view_mask for s in samples], axis=0)
    preference = [1, 0, 2, 3]
    return max(preference, key=lambda i: (counts[i], -preference.index(i)))


def plot_real_vs_simulated(
    real_by_class: Mapping[str, Sequence[RealSample]],
    simulated_by_class: Mapping[str, Sequence[np.ndarray]],
    path: Path,
    per_side: int = 3,
) -> None:
    """One row per class: up to ``per_side`` real views, then as many simulated, of one duration."""
    plt = _pyplot()
    classes = [c for c in gravity_spy.CLASS_NAMES if real_by_class.get(c)]
    fig, axes = plt.subplots(
        len(classes), 2 * per_side, figsize=(1.7 * 2 * per_side + 1.5, 1.45 * len(classes)), squeeze=False
    )
    for row, label in enumerate(classes):
        index = _common_duration(real_by_class[label])
        real = [s.views[index] for s in real_by_class[label] if s.view_mask[index]][:per_side]
        simulated = [views[index] for views in simulated_by_class.get(label, [])][:per_side]
        shown = [*real, *[None] * (per_side - len(real)), *simulated, *[None] * (per_side - len(simulated))]
        for column, view in enumerate(shown):
            ax = axes[row, column]
            ax.set_xticks([])
            ax.set_yticks([])
            if view is not None:
                ax.imshow(view, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            else:
                ax.axis("off")
            if row == 0:
                ax.set_title("real" if column < per_side else "simulated", fontsize=9)
        axes[row, 0].set_ylabel(f"{label}\n{gravity_spy.VIEW_DURATIONS_S[index]:g} s", fontsize=8)
    fig.suptitle("Real (left) and simulated (right) views, one duration per class")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / (1.45 * len(classes))))  # room for the title
    _save_figure(fig, path, dpi=60)
    plt.close(fig)


def plot_confusion(summary: Mapping[str, Any], path: Path) -> None:
    """Row-normalised confusion matrix over the classes that occur (true or predicted)."""
    from gravityvit.training.evaluation import plot_confusion_matrix

    names = [
        c
        for c in gravity_spy.CLASS_NAMES
        if c in summary["confusion"] or any(c in row for row in summary["confusion"].values())
    ]
    matrix = np.zeros((len(names), len(names)))
    for true, row in summary["confusion"].items():
        for predicted, count in row.items():
            matrix[names.index(true), names.index(predicted)] = count
    with atomic_path(path, kind=FIGURE) as temporary:  # keeps the .png suffix, which sets the format
        plot_confusion_matrix(matrix, names, temporary, "Real samples: true -> predicted")


def _save_figure(fig, path: Path, dpi: int) -> None:
    with atomic_path(path, kind=FIGURE) as temporary:
        fig.savefig(temporary, dpi=dpi, format="png")


# ---------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Replace NaN / infinities by None and numpy scalars by Python ones, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _format(value: Any, statistic: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if statistic.endswith("_hz"):
        return f"{value:.0f}"
    if statistic.endswith("_s"):
        return f"{value:.3f}"
    if statistic == "peak_energy":
        return f"{value:.1f}"
    return f"{value:.3f}"


def markdown_report(report: Mapping[str, Any]) -> str:
    """The human-readable report."""
    lines = [
        "# Sim-to-real report",
        "",
        f"- command: `{report['command']}`",
        f"- date: {report['date']}; hardware: {report['hardware']}; {report['seconds']:.0f} s",
        f"- model: {report['model'] or 'none (statistics only)'}",
        f"- real samples: {report['real']['n']} from {', '.join(report['real']['folders']) or 'no folder'}"
        f" ({report['real']['with_missing_views']} with missing durations)",
        f"- simulated: {report['simulated']['per_class']} per class, seed {report['simulated']['seed']}, "
        f"simulator fingerprint {report['simulated']['fingerprint']} ({report['simulated']['simulated_now']} simulated now, "
        "the rest from the cache)",
    ]
    if report["real"]["failures"]:
        lines += ["", f"Unreadable real samples ({len(report['real']['failures'])}):", ""]
        lines += [f"- {f['source']}: {f['error']}" for f in report["real"]["failures"]]
    accuracy = report.get("accuracy")
    if accuracy:
        lines += [
            "",
            "## Accuracy on the real samples",
            "",
            f"**{accuracy['accuracy']:.3f}** ({accuracy['correct']} / {accuracy['n']}); chance is "
            f"{1 / len(gravity_spy.CLASS_NAMES):.3f}. "
            + "; ".join(
                f"{name}: {row['accuracy']:.3f} ({row['correct']} / {row['n']})"
                for name, row in accuracy["per_folder"].items()
            ),
            "",
            f"Classes never right: {', '.join(accuracy['classes_never_right']) or 'none'}.",
            "",
            "| class | real n | right | real accuracy | simulated accuracy | predicted as (count) |",
            "|---|---:|---:|---:|---:|---|",
        ]
        simulated_accuracy = report.get("simulated_accuracy", {}).get("per_class", {})
        for label, row in accuracy["per_class"].items():
            simulated = simulated_accuracy.get(label)
            simulated_text = f"{simulated['accuracy']:.2f} ({simulated['n']})" if simulated else "-"
            confusion = ", ".join(f"{p} {c}" for p, c in accuracy["confusion"][label].items())
            lines.append(
                f"| {label} | {row['n']} | {row['correct']} | {row['accuracy']:.2f} | {simulated_text} | {confusion} |"
            )
        pages = report["figures"].get("mistakes", [])
        lines += [
            "",
            f"The confusion matrix is `confusion.png`; every mistake is drawn in {', '.join(f'`{p}`' for p in pages) or 'no figure (no mistakes)'}.",
        ]
    single = report.get("single_duration")
    if single and single["all"]["n"]:
        lines += [
            "",
            "## One duration at a time",
            "",
            "Each real sample with all four durations, classified from each duration alone (the others "
            "masked), as a sample that comes with one duration only would be:",
            "",
            "| duration | right | accuracy | mistakes (true -> predicted: count) |",
            "|---|---:|---:|---|",
        ]
        for name, row in single.items():
            if name == "all":
                continue
            mistakes = "; ".join(
                f"{true} -> " + ", ".join(f"{p} {c}" for p, c in row_.items())
                for true, row_ in row["confusion"].items()
            )
            lines.append(
                f"| {name} s | {row['correct']} / {row['n']} | {row['accuracy']:.3f} | {mistakes or '-'} |"
            )
        total = single["all"]
        lines.append(f"| all | {total['correct']} / {total['n']} | **{total['accuracy']:.3f}** | |")
    lines += [
        "",
        "## Where the simulated views differ from the real ones",
        "",
        f"Statistics of each view (`gravityvit.data.view_statistics`): the bright region is the pixels at "
        f"normalized energy >= {report['threshold_energy']:g}; band and time extent are its 5 %-95 % "
        "quantiles in frequency (Hz, log axis) and time (s from the window's centre); the background is the "
        "darkest half of the pixels. Each cell is the real median -> the simulated median (view counts in "
        "brackets). `separation` is |difference of the medians| over the range of the statistic's central "
        "80 % among the real views of that duration of all classes, at least one pixel (frequencies in "
        "octaves); the largest per "
        "class are listed first. All rows: `statistics.csv`; the views side by side: `real_vs_simulated.png`.",
    ]
    rows = report["statistics"]
    for label in dict.fromkeys(row["class"] for row in rows):
        class_rows = [row for row in rows if row["class"] == label]
        ranked = sorted(
            (r for r in class_rows if r["separation"] is not None and r["real_n"] and r["simulated_n"]),
            key=lambda r: -r["separation"],
        )[:5]
        lines += ["", f"### {label}", ""]
        if ranked:
            lines.append(
                "Largest differences: "
                + "; ".join(
                    f"{r['statistic']} at {r['duration_s']:g} s: {_format(r['real_median'], r['statistic'])} -> "
                    f"{_format(r['simulated_median'], r['statistic'])} ({r['difference']:+.2f} {r['unit']}, "
                    f"separation {r['separation']:.1f})"
                    for r in ranked
                )
                + "."
            )
            lines.append("")
        durations = gravity_spy.VIEW_DURATIONS_S
        lines += [
            "| statistic | " + " | ".join(f"{d:g} s (n real/sim)" for d in durations) + " |",
            "|---|" + "---|" * len(durations),
        ]
        by_key = {(r["statistic"], r["duration_s"]): r for r in class_rows}
        for statistic in KEY_STATISTICS:
            cells = []
            for duration in durations:
                row = by_key.get((statistic, duration))
                if row is None or not (row["real_n"] or row["simulated_n"]):
                    cells.append("-")
                    continue
                cells.append(
                    f"{_format(row['real_median'], statistic)} -> {_format(row['simulated_median'], statistic)}"
                    f" ({row['real_n']}/{row['simulated_n']})"
                )
            lines.append(f"| {statistic} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_statistics_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    with (
        atomic_path(path, kind=STATISTICS_TABLE) as temporary,
        temporary.open("w", newline="", encoding="utf-8") as handle,
    ):
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["class"])
        writer.writeheader()
        writer.writerows(rows)


def _check_output_dir(output: Path) -> None:
    """Refuse an existing, non-empty OUTDIR that is not an earlier output of this script."""
    if output.exists() and not output.is_dir():
        raise SystemExit(f"sim_to_real: --output {output} exists and is not a folder")
    if (
        output.is_dir()
        and any(output.iterdir())
        and not (output / OUTPUT_MARKER).is_file()
        and not (output / "simulated").is_dir()
    ):
        raise SystemExit(
            f"sim_to_real: --output {output} holds other files; give an empty or new folder, or an earlier "
            "sim_to_real output"
        )


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="model directory or Hub id (omit with --no-model)")
    parser.add_argument("--no-model", action="store_true", help="statistics only: classify nothing")
    parser.add_argument(
        "--real",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="real PNG folders (<Class>/*.png under them); default: gravityspy/ and kaggle/ of $GRAVITYVIT_REAL_SAMPLES",
    )
    parser.add_argument("--simulated-per-class", type=int, default=DEFAULT_SIMULATED_PER_CLASS, metavar="N")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated samples (default 0)")
    parser.add_argument(
        "--classes", nargs="+", metavar="CLASS", help="only these classes (default: all with real samples)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, metavar="OUTDIR")
    parser.add_argument(
        "--threshold-energy",
        type=float,
        default=vs.DEFAULT_THRESHOLD_ENERGY,
        help=f"normalized energy from which a pixel is bright (default {vs.DEFAULT_THRESHOLD_ENERGY:g})",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    parser.add_argument("--num-proc", type=int, default=1, help="processes that simulate (default 1)")
    parser.add_argument("--trust-remote-code", action="store_true")
    return parser


def _usage_error(args: argparse.Namespace) -> str | None:
    if args.no_model == (args.model is not None):
        return "give --model DIR, or --no-model for the statistics only"
    if args.simulated_per_class < 1:
        return f"--simulated-per-class must be at least 1; got {args.simulated_per_class}"
    if args.batch_size < 1 or args.num_proc < 1:
        return "--batch-size and --num-proc must be at least 1"
    unknown = [c for c in args.classes or () if c not in gravity_spy.CLASS_NAMES]
    if unknown:
        return f"unknown classes {unknown}; expected Gravity Spy class names such as Blip"
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Measure and write the report; return it."""
    started = time.perf_counter()
    real_dirs = list(args.real) if args.real else default_real_dirs()
    if not real_dirs:
        raise SystemExit(
            "sim_to_real: no real samples: give --real DIR or set GRAVITYVIT_REAL_SAMPLES to a folder holding "
            "gravityspy/ or kaggle/"
        )
    _check_output_dir(args.output)
    args.output.mkdir(parents=True, exist_ok=True)
    # Figures of an earlier run of this script into the same folder (it may have had more mistakes, or
    # a model where this run has none) would otherwise stand beside this run's report.
    for stale in [*args.output.glob("mistakes-*.png"), args.output / "confusion.png"]:
        stale.unlink(missing_ok=True)
    print(f"reading real samples from {', '.join(map(str, real_dirs))}", file=sys.stderr)
    samples, failures = load_real_samples(real_dirs, args.classes)
    if not samples:
        raise SystemExit(
            f"sim_to_real: no readable real sample in {', '.join(map(str, real_dirs))}: {failures[:3]}"
        )
    real_by_class: dict[str, list[RealSample]] = {}
    for sample in samples:
        real_by_class.setdefault(sample.label, []).append(sample)
    classes = [c for c in gravity_spy.CLASS_NAMES if c in real_by_class]

    fingerprint = simulator_fingerprint()
    print(
        f"simulating {args.simulated_per_class} sample(s) of each of {len(classes)} classes (cache "
        f"{args.output / 'simulated' / fingerprint})",
        file=sys.stderr,
    )
    simulated, simulated_now = simulate_classes(
        classes, args.simulated_per_class, args.seed, args.output / "simulated" / fingerprint, args.num_proc
    )

    report: dict[str, Any] = {
        "command": " ".join(["python benchmarks/sim_to_real.py", *sys.argv[1:]])
        if Path(sys.argv[0]).name == "sim_to_real.py"
        else "sim_to_real.main(...)",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "hardware": f"{os.cpu_count()}-core {platform.machine()} CPU",
        "model": args.model,
        "threshold_energy": args.threshold_energy,
        "real": {
            "folders": [str(d) for d in real_dirs],
            "n": len(samples),
            "with_missing_views": sum(not s.view_mask.all() for s in samples),
            "per_class": {label: len(real_by_class[label]) for label in classes},
            "failures": failures,
        },
        "simulated": {
            "per_class": args.simulated_per_class,
            "seed": args.seed,
            "fingerprint": fingerprint,
            "simulated_now": simulated_now,
            "cache": str(args.output / "simulated" / fingerprint),
        },
        "figures": {},
    }

    if args.model is not None:
        print(f"classifying {len(samples)} real samples with {args.model}", file=sys.stderr)
        pipe = load_pipeline(args.model, args.device, args.trust_remote_code)
        predictions = classify(
            pipe, [s.present_views for s in samples], [s.sample_id for s in samples], args.batch_size
        )
        report["accuracy"] = accuracy_summary(
            [s.label for s in samples], predictions.predicted, [s.folder for s in samples]
        )
        report["predictions"] = [
            {
                "sample_id": s.sample_id,
                "folder": s.folder,
                "source": s.source,
                "true_label": s.label,
                "label": predictions.predicted[i],
                "score": predictions.scores[i],
                "views": [
                    gravity_spy.duration_label(d)
                    for d, m in zip(gravity_spy.VIEW_DURATIONS_S, s.view_mask)
                    if m
                ],
                "view_weights": predictions.view_weights[i],
            }
            for i, s in enumerate(samples)
        ]
        simulated_labels = [label for label in classes for _ in simulated[label]]
        simulated_views = [list(views) for label in classes for views in simulated[label]]
        simulated_predictions = classify(
            pipe, simulated_views, [f"simulated-{i}" for i in range(len(simulated_views))], args.batch_size
        )
        report["simulated_accuracy"] = accuracy_summary(simulated_labels, simulated_predictions.predicted)
        report["single_duration"] = single_duration_accuracy(pipe, samples, args.batch_size)
        report["figures"]["mistakes"] = plot_mistakes(samples, predictions, args.output)
        plot_confusion(report["accuracy"], args.output / "confusion.png")
        report["figures"]["confusion"] = "confusion.png"
        print(
            f"accuracy on real samples {report['accuracy']['accuracy']:.3f} "
            f"({report['accuracy']['correct']} / {report['accuracy']['n']})",
            file=sys.stderr,
        )

    print("comparing view statistics", file=sys.stderr)
    rows = vs.class_statistics_table(
        {label: [s.present_views for s in real_by_class[label]] for label in classes},
        simulated,
        threshold_energy=args.threshold_energy,
    )
    report["statistics"] = _jsonable(rows)
    plot_real_vs_simulated(real_by_class, simulated, args.output / "real_vs_simulated.png")
    report["figures"]["real_vs_simulated"] = "real_vs_simulated.png"
    report["seconds"] = time.perf_counter() - started

    write_statistics_csv(rows, args.output / "statistics.csv")
    with atomic_path(args.output / "report.md", kind=MARKDOWN_REPORT) as temporary:
        temporary.write_text(markdown_report(report), encoding="utf-8")
    with atomic_path(args.output / OUTPUT_MARKER, kind=JSON_REPORT) as temporary:
        temporary.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output / 'report.md'} and report.json ({report['seconds']:.0f} s)", file=sys.stderr)
    return report


def main(argv: Iterable[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    problem = _usage_error(args)
    if problem:
        parser.error(problem)
    return run(args)


if __name__ == "__main__":
    main()
