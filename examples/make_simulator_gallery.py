"""Draw docs/simulator_gallery.png: simulated samples of every Gravity Spy class beside real samples.

Each row shows, for one class, the four views (0.5, 1, 2, 4 s) of ``--per-class`` simulated
glitches side by side, in the gray the model sees (the HDF5 views), with the loudest-tile SNR of
each. Two rows at the end show real Blips and real Scratchys from the Gravity Spy repository's test
data (GPL-3.0), read from the real-samples folder when it is present, so the realism can be judged
at a glance.

    python examples/make_simulator_gallery.py --output docs/simulator_gallery.png --seed 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gravityvit import gravity_spy
from gravityvit.data.simulator import simulate_sample
from gravityvit.file_utils import OutputKind, atomic_path, is_png_file

DEFAULT_REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real_samples" / "gravityspy"
REAL_ROWS = (
    ("Blip", ("H1_0PgqDFdHPl", "H1_0VWrQ6qp1z")),
    ("Scratchy", ("H1_0BydFQWn2G", "H1_0NcTUtcUQE")),
)


def real_views(folder: Path, label: str, stem: str) -> np.ndarray | None:
    """The four views of a real sample from its PNGs, or None when they are not there."""
    from PIL import Image

    paths = [
        folder / label / f"{stem}_spectrogram_{gravity_spy.duration_label(d)}.png"
        for d in gravity_spy.VIEW_DURATIONS_S
    ]
    if not all(path.is_file() for path in paths):
        return None
    return np.stack([gravity_spy.png_to_view(Image.open(path)) for path in paths])


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path, default=Path("docs/simulator_gallery.png"))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--real-samples", type=Path, default=DEFAULT_REAL_SAMPLES)
    parser.add_argument("--dpi", type=int, default=50)
    parser.add_argument("--per-class", type=int, default=2, help="simulated samples shown per class")
    args = parser.parse_args()

    rows = []  # (title, [four views per sample], [caption per sample])
    for index, label in enumerate(gravity_spy.CLASS_NAMES):
        samples, captions = [], []
        for k in range(args.per_class):
            views, metadata = simulate_sample(label, np.random.default_rng([args.seed, index, k]))
            samples.append(views)
            captions.append(f"{metadata['ifo']}, SNR {metadata['snr']:.0f}")
        rows.append((f"{label}\n(simulated)\n" + " | ".join(captions), samples, captions))
    for label, stems in REAL_ROWS:
        samples = [
            views for stem in stems if (views := real_views(args.real_samples, label, stem)) is not None
        ]
        if samples:
            rows.append((f"{label}\n(real, Gravity Spy\ntest data, GPL-3.0)", samples, []))

    # Two blocks of rows side by side; in each row the samples' four views, with small gaps between
    # samples and room for the labels of the right-hand block.
    per_row = max(len(samples) for _, samples, _ in rows)
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
    for position, (title, samples, _captions) in enumerate(rows):
        block_index, row = divmod(position, figure_rows)
        first = block_width * block_index
        for sample_index, views in enumerate(samples):
            start = first + 5 * sample_index
            for view_index, view in enumerate(views):
                axis = axes[row, start + view_index]
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
        f"GravityViT simulator: {args.per_class} simulated samples per class (views as the model sees them); "
        "the last two rows are real Gravity Spy samples",
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
