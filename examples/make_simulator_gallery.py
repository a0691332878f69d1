"""Draw docs/simulator_gallery.png: a real sample of every Gravity Spy class beside simulated ones.

Each row shows one class: the four views (0.5, 1, 2, 4 s) of a real Gravity Spy sample (the one with
the most durations among the real samples found, blank where a duration is missing), then those of
``--per-class`` simulated glitches with their loudest-tile SNR, all in the gray the model sees (the
HDF5 views). The real samples are read from ``--real-samples`` or GRAVITYVIT_REAL_SAMPLES (else
``shared/real_samples`` beside the checkout: ``gravityspy/`` and ``kaggle/`` folders of
``<Class>/<ifo>_<id>_spectrogram_<d>.png``); without them the script stops rather than draw a gallery
with nothing to compare. They are never stored in this repository.

    GRAVITYVIT_REAL_SAMPLES=/path/to/real_samples \
        python examples/make_simulator_gallery.py --output docs/simulator_gallery.png --seed 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gravityvit import gravity_spy
from gravityvit.data.png import GravitySpyPNGReader
from gravityvit.data.simulation import simulate_sample
from gravityvit.file_utils import OutputKind, atomic_path, is_png_file
from gravityvit.inference.real_samples import real_samples_root


def real_views(reader: GravitySpyPNGReader, label: str) -> tuple[str, list[np.ndarray | None]] | None:
    """The real sample of ``label`` with the most durations: its name and views (None where missing)."""
    indices = [i for i, entry in enumerate(reader.entries) if entry.label == label]
    if not indices:
        return None
    index = max(indices, key=lambda i: len(reader.entries[i].files))
    sample = reader[index]
    mask = sample.view_mask if sample.view_mask is not None else [True] * len(sample.views)
    views = [view if present else None for view, present in zip(sample.views, mask)]
    return f"{sample.ifo}_{sample.gravityspy_id}", views


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("docs/simulator_gallery.png"))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--real-samples",
        type=Path,
        default=real_samples_root(),
        help="folder of real samples (gravityspy/ and kaggle/ class folders); default: $GRAVITYVIT_REAL_SAMPLES, "
        "else shared/real_samples beside the checkout",
    )
    parser.add_argument("--dpi", type=int, default=50)
    parser.add_argument("--per-class", type=int, default=2, help="simulated samples shown per class")
    args = parser.parse_args()

    if not args.real_samples.is_dir():
        # A gallery without the real samples would silently lose what it is drawn for.
        parser.error(
            f"no real samples at {args.real_samples}: give --real-samples DIR or set GRAVITYVIT_REAL_SAMPLES"
        )
    reader = GravitySpyPNGReader(args.real_samples, allow_missing_views=True)
    rows = []  # (title, [four views per sample]): the real sample first, None for a missing view
    for index, label in enumerate(gravity_spy.CLASS_NAMES):
        real = real_views(reader, label)
        samples, captions = [], []
        if real is not None:
            samples.append(real[1])
            captions.append(f"real {real[0]}")
        for k in range(args.per_class):
            views, metadata = simulate_sample(label, np.random.default_rng([args.seed, index, k]))
            samples.append(list(views))
            captions.append(f"sim. SNR {metadata['snr']:.0f}")
        rows.append((f"{label}\n" + "\n".join(captions), samples))

    # Two blocks of rows side by side; in each row the samples' four views, with small gaps between
    # samples and room for the labels of the right-hand block.
    per_row = max(len(samples) for _, samples in rows)
    columns = 2
    figure_rows = (len(rows) + columns - 1) // columns
    block = [1.0] * 4 + ([0.12] + [1.0] * 4) * (per_row - 1)
    ratios = [*block, 1.6, *block]
    figure, axes = pyplot.subplots(
        figure_rows,
        len(ratios),
        figsize=(4.4 * per_row * columns + 1.2, figure_rows * 1.25 + 0.4),
        squeeze=False,
        gridspec_kw={"width_ratios": ratios},
    )
    for axis in axes.flat:
        axis.set_axis_off()
    block_width = len(block) + 1
    for position, (title, samples) in enumerate(rows):
        block_index, row = divmod(position, figure_rows)
        first = block_width * block_index
        for sample_index, views in enumerate(samples):
            start = first + 5 * sample_index
            for view_index, view in enumerate(views):
                axis = axes[row, start + view_index]
                if view is None:
                    continue
                axis.imshow(view, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
                if row == 0:
                    axis.set_title(f"{gravity_spy.VIEW_DURATIONS_S[view_index]:g} s", fontsize=9)
        axes[row, first].text(
            -0.05, 0.5, title, transform=axes[row, first].transAxes, ha="right", va="center", fontsize=7.5
        )
    figure.subplots_adjust(left=0.075, right=0.998, top=0.965, bottom=0.003, wspace=0.04, hspace=0.08)
    figure.text(
        0.5,
        0.998,
        f"Per class: a real Gravity Spy sample (left, blank where a duration is missing), then "
        f"{args.per_class} simulated ones; views as the model sees them",
        ha="center",
        va="top",
        fontsize=10,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output, kind=OutputKind("PNG image", recognise=is_png_file)) as temporary:
        figure.savefig(temporary, format="png", dpi=args.dpi)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
