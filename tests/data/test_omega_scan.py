"""Omega scan front end: agreement with gwpy, peak placement, views, PNG round trip, bad strain."""

from __future__ import annotations

import math

import numpy as np
import pytest

gwpy_timeseries = pytest.importorskip("gwpy.timeseries")
from PIL import Image  # noqa: E402

from gravityvit import gravity_spy  # noqa: E402
from gravityvit.data import omega  # noqa: E402
from gravityvit.data.omega import qscan  # noqa: E402

TimeSeries = gwpy_timeseries.TimeSeries
SAMPLE_RATE_HZ = 8192
GPS = 1_000_000_008.0


def sine_gaussian_strain(
    frequency_hz: float = 150.0,
    q: float = 8.0,
    amplitude: float = 1.0,
    offset_s: float = 0.0,
    duration_s: float = 16.0,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    seed: int = 0,
) -> TimeSeries:
    """White Gaussian noise with a sine-Gaussian at GPS + offset_s (GPS at the centre of the data)."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz - duration_s / 2 - offset_s
    width = q / (2 * math.sqrt(2) * math.pi * frequency_hz)
    signal = amplitude * np.exp(-(t**2) / (2 * width**2)) * np.sin(2 * math.pi * frequency_hz * t)
    return TimeSeries(
        rng.standard_normal(n) + signal, sample_rate=sample_rate_hz, t0=GPS - duration_s / 2, name="H1:TEST"
    )


def expected_row(frequency_hz: float) -> float:
    """View row (0 = top) of a frequency on the log axis of the cropped, shrunk view."""
    log_top, log_bottom = math.log(omega.FRANGE_HZ[1]), math.log(omega.FRANGE_HZ[0])
    y = omega.AXES_TOP_PX + (log_top - math.log(frequency_hz)) / (log_top - log_bottom) * omega.AXES_HEIGHT_PX
    crop_rows = gravity_spy.PNG_AXES_ROWS
    return (y - crop_rows[0]) * gravity_spy.VIEW_HEIGHT / (crop_rows[1] - crop_rows[0]) - 0.5


def expected_column(offset_s: float, duration_s: float) -> float:
    x = omega.AXES_LEFT_PX + (offset_s / duration_s + 0.5) * omega.AXES_WIDTH_PX
    crop_cols = gravity_spy.PNG_AXES_COLS
    return (x - crop_cols[0]) * gravity_spy.VIEW_WIDTH / (crop_cols[1] - crop_cols[0]) - 0.5


def test_q_scan_matches_gwpy():
    from gwpy.segments import Segment
    from gwpy.signal.qtransform import q_scan as gwpy_q_scan

    strain = sine_gaussian_strain(amplitude=3.0, duration_s=8.0)
    search = (GPS - 0.25, GPS + 0.25)
    reference, _ = gwpy_q_scan(strain, qrange=(4, 64), frange=(10, 2048), search=Segment(*search))
    ours = omega.q_scan(strain.value, SAMPLE_RATE_HZ, float(strain.t0.value), search, normalization="median")
    assert ours.q == pytest.approx(reference.plane.q)
    assert ours.peak_time_s == pytest.approx(float(reference.peak["time"]))
    assert ours.peak_frequency_hz == pytest.approx(float(reference.peak["frequency"]))
    for theirs, mine in zip(reference.energies, ours.energies):
        np.testing.assert_allclose(mine, theirs.value, rtol=2e-4, atol=2e-5)


def test_sine_gaussian_peak_at_injected_time_and_frequency():
    frequency_hz, offset_s = 180.0, 0.1
    strain = sine_gaussian_strain(frequency_hz=frequency_hz, q=6.0, amplitude=2.0, offset_s=offset_s)
    scan = omega.whiten_and_scan(strain, GPS)
    assert abs(scan.peak_time_s - (GPS + offset_s)) < 0.01
    assert abs(math.log(scan.peak_frequency_hz / frequency_hz)) < 0.15
    views = omega.scan_to_views(scan, GPS)
    assert views.shape == (4, *gravity_spy.VIEW_SHAPE) and views.dtype == np.float32
    assert views.min() >= 0.0 and views.max() <= 1.0
    for index, duration in enumerate(gravity_spy.VIEW_DURATIONS_S):
        row, column = np.unravel_index(np.argmax(views[index]), views[index].shape)
        assert abs(column - expected_column(offset_s, duration)) <= 2.5, (duration, column)
        # The brightest pixel lies on the glitch's ridge: within a few rows of its frequency.
        assert abs(row - expected_row(frequency_hz)) <= 6, (duration, row, expected_row(frequency_hz))


def test_png_round_trip_matches_direct_view(tmp_path):
    strain = sine_gaussian_strain(amplitude=2.0)
    scan = omega.whiten_and_scan(strain, GPS)
    views = omega.scan_to_views(scan, GPS)
    durations = (0.5, 4.0)  # two of the four, to keep the test short
    paths = omega.write_gravityspy_pngs(
        scan, GPS, tmp_path, ifo="L1", gravityspy_id="a1B2c3D4e5", durations_s=durations
    )
    assert [path.name for path in paths] == [f"L1_a1B2c3D4e5_spectrogram_{d}.png" for d in ("0.5", "4.0")]
    for duration, path in zip(durations, paths):
        index = gravity_spy.view_position(duration)
        image = Image.open(path)
        assert image.size == gravity_spy.PNG_SIZE
        from_png = gravity_spy.png_to_view(image)
        difference = np.abs(from_png - views[index])
        assert difference.mean() < 0.005 and difference.max() < 0.06


def test_upsamples_4096_hz_strain():
    strain = sine_gaussian_strain(sample_rate_hz=4096, amplitude=2.0, frequency_hz=300.0)
    scan = omega.whiten_and_scan(strain, GPS)
    assert scan.frequencies_hz[-1] > 1800  # the tiling still reaches the top of the view
    assert abs(scan.peak_time_s - GPS) < 0.01


@pytest.mark.parametrize(
    ("strain", "message"),
    [
        (sine_gaussian_strain(duration_s=6.0), "needs at least"),
        (sine_gaussian_strain(sample_rate_hz=2048), "sample rate"),
    ],
)
def test_bad_strain_errors(strain, message):
    with pytest.raises(omega.StrainError, match=message):
        omega.omega_scan_views(strain, GPS)


def test_nan_strain_error():
    strain = sine_gaussian_strain()
    strain.value[5000] = np.nan
    with pytest.raises(omega.StrainError, match="NaN or infinite"):
        omega.omega_scan_views(strain, GPS)


@pytest.mark.slow  # the `gravityvit scan` command end to end
def test_scan_command_and_load_strain(tmp_path):
    from gravityvit.cli import main

    strain = sine_gaussian_strain(duration_s=10.0, amplitude=2.0)
    hdf5 = tmp_path / "strain.hdf5"
    strain.write(hdf5, format="hdf5")
    loaded = omega.load_strain(hdf5, "H1:TEST")
    np.testing.assert_allclose(loaded.value, strain.value)
    # A stretch of a longer file (gwpy reads TXT the same way, but slowly: not tested here).
    part = omega.load_strain(hdf5, "H1:TEST", gps=GPS, pad_s=4.2)
    assert abs(float(part.span[0]) - (GPS - 4.2)) < 1e-3
    with pytest.raises(FileNotFoundError):
        omega.load_strain(tmp_path / "missing.gwf", "H1:X")
    assert (
        main(
            [
                "scan",
                "--strain",
                str(hdf5),
                "--channel",
                "H1:TEST",
                "--gps",
                str(GPS),
                "--output",
                str(tmp_path / "out"),
                "--png",
            ]
        )
        == 0
    )
    with np.load(tmp_path / "out" / "views.npz") as result:
        assert result["views"].shape == (1, 4, 140, 170)
        assert str(result["ifo"]) == "H1"
    assert len(list((tmp_path / "out").glob("H1_*_spectrogram_*.png"))) == 4
    # Bad input: a GPS time without enough data around it gives exit code 1 and no output.
    assert (
        main(
            [
                "scan",
                "--strain",
                str(hdf5),
                "--channel",
                "H1:TEST",
                "--gps",
                str(GPS + 4.5),
                "--output",
                str(tmp_path / "bad"),
            ]
        )
        == 1
    )
    assert not (tmp_path / "bad").exists()


def test_tile_weighted_mean():
    # A constant comes back unchanged in every row of every plane; a step in frequency is seen by
    # the rows whose tiles lie above it.
    duration_s, rate = 8.0, 8192.0
    frequencies = np.fft.rfftfreq(int(duration_s * rate), 1 / rate)
    ones = omega.tile_weighted_mean(np.full(frequencies.size, 2.0), duration_s, rate)
    assert all(np.allclose(plane, 2.0) for plane in ones)
    step = omega.tile_weighted_mean((frequencies > 500).astype(float), duration_s, rate)
    plan = qscan._scan_plan(duration_s, rate, omega.QRANGE, omega.FRANGE_HZ, omega.MISMATCH)
    for values, plane in zip(step, plan):
        assert np.all(values[plane.frequencies_hz < 300] < 0.05) and np.all(
            values[plane.frequencies_hz > 900] > 0.95
        )


def test_mean_averaged_asd_lets_a_loud_glitch_whiten_itself():
    # gwpy's Welch (mean) ASD of the Gravity Spy era is raised by a loud glitch, the median is not;
    # the glitch stays where it is, its normalized energy changes (the row normalisation cancels
    # most of a per-frequency scale, not the change of shape within each tile).
    strain = sine_gaussian_strain(frequency_hz=180.0, q=6.0, amplitude=40.0)
    median = omega.whiten_and_scan(strain, GPS)
    mean = omega.whiten_and_scan(strain, GPS, asd_average="mean")
    assert abs(mean.peak_time_s - median.peak_time_s) < 0.01
    assert abs(math.log(mean.peak_frequency_hz / median.peak_frequency_hz)) < 0.15
    assert abs(mean.peak_energy / median.peak_energy - 1) > 0.01
    with pytest.raises(ValueError, match="asd_average"):
        omega.whiten_and_scan(strain, GPS, asd_average="mode")
