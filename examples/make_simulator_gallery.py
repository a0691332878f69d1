"""Draw docs/simulator_gallery.png: one simulated sample per Gravity Spy class beside real samples.

Each row shows the four views (0.5, 1, 2, 4 s) of one simulated glitch, in the gray the model sees
(the HDF5 views), with its class name and loudest-tile SNR. Two rows at the end show a real Blip and
a real Scratchy from the Gravity Spy repository's test data (GPL-3.0), read from the real-samples
folder when it is present, so the realism can be judged at a glance.

    python examples/make_simulator_gallery.py --output docs/simulator_gallery.png --seed 3
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from gravityvit import gravity_spy
from gravityvit.data.simulator import simulate_sample
from gravityvit.file_utils import atomic_path

DEFAULT_REAL_SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "real_samples" / "gravityspy"
REAL_ROWS = (("Blip", "H1_0PgqDFdHPl"), ("Scratchy", "H1_0BydFQWn2G"))


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
    parser.add_argument("--dpi", type=int, default=60)
    args = parser.parse_args()

    rows = []
    for index, label in enumerate(gravity_spy.CLASS_NAMES):
        views, metadata = simulate_sample(label, np.random.default_rng([args.seed, index]))
        rows.append((f"{label}\n(sim, {metadata['ifo']}, SNR {metadata['snr']:.0f})", views))
    for label, stem in REAL_ROWS:
        views = real_views(args.real_samples, label, stem)
        if views is not None:
            rows.append((f"{label}\n(real, Gravity Spy\ntest data, GPL-3.0)", views))

    # Two blocks of rows side by side, with room for the labels of the right-hand block.
    columns = 2
    figure_rows = (len(rows) + columns - 1) // columns
    figure, axes = pyplot.subplots(
        figure_rows,
        4 * columns + 1,
        figsize=(15, figure_rows * 1.25 + 0.4),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.9, 1, 1, 1, 1]},
    )
    for axis in axes.flat:
        axis.set_axis_off()
    for position, (title, views) in enumerate(rows):
        block, row = divmod(position, figure_rows)
        first = 5 * block
        for view_index, view in enumerate(views):
            axis = axes[row, first + view_index]
            axis.imshow(view, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
            if row == 0:
                axis.set_title(f"{gravity_spy.VIEW_DURATIONS_S[view_index]:g} s", fontsize=9)
        axes[row, first].text(
            -0.05, 0.5, title, transform=axes[row, first].transAxes, ha="right", va="center", fontsize=7.5
        )
    figure.subplots_adjust(left=0.085, right=0.995, top=0.955, bottom=0.005, wspace=0.05, hspace=0.08)
    figure.text(
        0.5,
        0.995,
        "GravityViT simulator: one simulated sample per class (views as the model sees them); "
        "the last two are real Gravity Spy samples",
        ha="center",
        va="top",
        fontsize=10,
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output) as temporary:
        figure.savefig(temporary, format="png", dpi=args.dpi)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
