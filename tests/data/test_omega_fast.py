"""The fast Omega-scan backend against the gwpy reference: same planes, peaks and views (within 0.01)."""

from __future__ import annotations

import math

import numpy as np
import pytest

gwpy_timeseries = pytest.importorskip("gwpy.timeseries")

from gravityvit import gravity_spy  # noqa: E402
from gravityvit.data import omega  # noqa: E402
from gravityvit.data.omega import views as omega_views  # noqa: E402
from gravityvit.data.omega import whitening  # noqa: E402

TimeSeries = gwpy_timeseries.TimeSeries
VIEW_TOLERANCE = 0.01  # on the [0, 1] view scale


def loud_glitch_strain(sample_rate_hz: int, duration_s: float, amplitude: float, seed: int = 0) -> tuple:
    """Gaussian noise with a sine-Gaussian at its centre, as a GWOSC-like segment: (strain, gps)."""
    gps = 1_126_259_462.0
    rng = np.random.default_rng(seed)
    t = np.arange(int(sample_rate_hz * duration_s)) / sample_rate_hz - duration_s / 2
    width = 6.0 / (2 * math.sqrt(2) * math.pi * 240.0)
    signal = amplitude * np.exp(-(t**2) / (2 * width**2)) * np.sin(2 * math.pi * 240.0 * t)
    strain = TimeSeries(
        rng.standard_normal(t.size) + signal,
        sample_rate=sample_rate_hz,
        t0=gps - duration_s / 2,
        name="L1:TEST",
    )
    return strain, gps


def assert_same_scan(reference: omega.QScan, fast: omega.QScan) -> None:
    assert fast.q == reference.q
    assert fast.peak_time_s == reference.peak_time_s
    assert fast.peak_frequency_hz == reference.peak_frequency_hz
    assert fast.peak_energy == pytest.approx(reference.peak_energy, rel=1e-4)


@pytest.mark.parametrize("label", ["Blip", "Extremely_Loud", "Scattered_Light", "Whistle", "No_Glitch"])
def test_fast_backend_matches_gwpy_on_simulated_strain(label):
    # The simulator's own settings: its ASD, 8 s normalised as 64 s, its noise reference.
    from gravityvit.data.simulation import noise_asd, noise_reference, simulate_strain

    strain, gps, _ = simulate_strain(label, 7, ifo="H1")
    settings = dict(
        whiten=noise_asd("H1"), data_span_s=8.0, reference_span_s=64.0, noise_energy=noise_reference("H1")
    )
    scans = {
        backend: omega.whiten_and_scan(strain, gps, backend=backend, **settings) for backend in omega.BACKENDS
    }
    assert_same_scan(scans["gwpy"], scans["fast"])
    views = {backend: omega.scan_to_views(scans[backend], gps, backend=backend) for backend in omega.BACKENDS}
    assert views["fast"].shape == (4, *gravity_spy.VIEW_SHAPE) and views["fast"].dtype == np.float32
    assert np.abs(views["fast"] - views["gwpy"]).max() <= VIEW_TOLERANCE


@pytest.mark.parametrize(
    ("sample_rate_hz", "duration_s", "amplitude"),
    [
        pytest.param(16384, 64.0, 60.0, id="16384Hz-64s-loud", marks=pytest.mark.slow),
        pytest.param(4096, 32.0, 30.0, id="4096Hz-32s-loud"),
        pytest.param(8192, 16.0, 0.0, id="8192Hz-16s-noise"),
    ],
)
def test_fast_backend_matches_gwpy_on_real_format_strain(sample_rate_hz, duration_s, amplitude):
    # GWOSC-like segments: the ASD estimated from the data, the rows normalised over all of them;
    # 4096 Hz strain goes through the upsampling.
    strain, gps = loud_glitch_strain(sample_rate_hz, duration_s, amplitude)
    scans = {backend: omega.whiten_and_scan(strain, gps, backend=backend) for backend in omega.BACKENDS}
    assert_same_scan(scans["gwpy"], scans["fast"])
    reference = omega.scan_to_views(scans["gwpy"], gps, backend="gwpy")
    fast = omega.omega_scan_views(strain, gps, backend="fast")
    assert np.abs(fast - reference).max() <= VIEW_TOLERANCE
    if amplitude:  # the glitch is what the views show
        assert fast.max() > 0.8  # yellow, the top of the colour scale, is 0.87 in gray


def test_fast_whitening_is_gwpys():
    # One FFT convolution at 8 s, overlap-save blocks at 40 s of 16384 Hz: gwpy's arithmetic.
    from gravityvit.data.simulation import noise_asd

    for strain, gps, whiten in [
        (*loud_glitch_strain(8192, 8.0, 5.0), noise_asd("L1")),
        (*loud_glitch_strain(16384, 40.0, 5.0), True),
    ]:
        results = [
            whitening.prepare_whitened(
                strain, gps, gravity_spy.VIEW_DURATIONS_S, 64.0, whiten, backend=backend
            )
            for backend in omega.BACKENDS
        ]
        np.testing.assert_allclose(results[1][0], results[0][0], rtol=0, atol=1e-9)
        assert results[1][1:] == results[0][1:]


@pytest.mark.parametrize("coloured", [False, True], ids=["white", "steep-low-frequency"])
def test_band_limited_whitening_keeps_the_scanned_band(coloured):
    # 16384 Hz strain whitened at 8192 Hz from its band below 4096 Hz: the spectrum below 3.75 kHz
    # (all the Q tiling up to 2048 Hz reads) is gwpy's, in the units of unit-variance noise at 8192 Hz.
    # The coloured case has a detector-like low-frequency wall: 1e3 at 10 Hz, 1e7 at 1 Hz (amplitude).
    strain, gps = loud_glitch_strain(16384, 40.0, 5.0)
    if coloured:
        frequencies = np.fft.rfftfreq(strain.size, 1 / 16384)
        shape = 1e3 * (np.maximum(frequencies, 1.0) / 10.0) ** -4 + 1.0 + (frequencies / 800.0) ** 2
        values = np.fft.irfft(np.fft.rfft(strain.value) * shape, strain.size) * 1e-21 + 3e-18
        strain = TimeSeries(values, sample_rate=16384, t0=strain.t0, name="L1:TEST")
    reference, reference_rate, reference_epoch = whitening.prepare_whitened(
        strain, gps, gravity_spy.VIEW_DURATIONS_S, 64.0, True, backend="gwpy"
    )
    values, rate, epoch = whitening.prepare_whitened(
        strain, gps, gravity_spy.VIEW_DURATIONS_S, 64.0, True, backend="fast", max_rate_hz=8192.0
    )
    assert (rate, epoch, values.size) == (8192.0, reference_epoch, reference.size // 2)
    band = np.arange(values.size // 2 + 1) / 40.0 < 3750.0
    expected = np.fft.rfft(reference)[: band.size][band] / reference.size * math.sqrt(reference_rate / rate)
    got = np.fft.rfft(values)[band] / values.size
    typical = np.sqrt(np.mean(np.abs(expected) ** 2))
    assert np.abs(got - expected).max() < 1e-4 * typical


@pytest.mark.parametrize("average", ["median", "mean"])
@pytest.mark.parametrize("duration_s", [8.0, 9.3, 16.0])  # 7, 8 and 15 segments, one length off the hop
def test_fast_asd_is_gwpys(average, duration_s):
    strain, _ = loud_glitch_strain(4096, duration_s, 20.0)
    method = whitening.ASD_AVERAGES[average]
    reference = strain.asd(
        whitening.ASD_FFT_LENGTH_S, whitening.ASD_FFT_LENGTH_S / 2, window="hann", method=method
    )
    fast = whitening.estimate_asd(strain.value, 4096.0, average)
    assert reference.f0.value == 0.0 and reference.df.value == 1 / whitening.ASD_FFT_LENGTH_S
    np.testing.assert_allclose(fast, reference.value, rtol=1e-12, atol=0)
    # The bins up to a frequency only (what band-limited whitening needs).
    below = whitening.estimate_asd(strain.value, 4096.0, average, max_frequency_hz=1000.0)
    np.testing.assert_allclose(below, reference.value[: 1000 * 2 + 1], rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("sample_rate_hz", "duration_s", "normalization", "reference_span_s"),
    [
        pytest.param(16384, 64.0, "mean", None, marks=pytest.mark.slow),
        (8192, 32.0, "mean", None),
        (8192, 8.0, "mean", 64.0),
        (8192, 16.0, "median", None),
    ],
)
def test_fast_scan_keeps_the_reference_energies(sample_rate_hz, duration_s, normalization, reference_span_s):
    # Every kept tile of the chosen plane, not only what the views show: the segment transforms
    # agree with the full-length ones to ~1e-5.
    strain, gps = loud_glitch_strain(sample_rate_hz, duration_s, 30.0)
    values, rate, epoch = whitening.prepare_whitened(
        strain, gps, gravity_spy.VIEW_DURATIONS_S, 64.0, True, backend="fast"
    )
    search = (gps - 0.25, gps + 0.25)
    settings = dict(normalization=normalization, reference_span_s=reference_span_s)
    reference = omega.q_scan(values, rate, epoch, search, **settings)
    fast = omega.fast_q_scan(values, rate, epoch, search, keep_s=(gps - 2.2, gps + 2.2), **settings)
    assert_same_scan(reference, fast)
    for row, energy in enumerate(fast.energies):
        start = fast.row_offset(row)
        expected = reference.energies[row][start : start + energy.size]
        np.testing.assert_allclose(energy, expected, rtol=1e-4, atol=1e-4)


def test_shrink_matrices_reproduce_resize_view():
    gray = np.random.default_rng(0).random((466, 566), dtype=np.float32)
    rows = omega_views._bilinear_shrink_matrix(466, gravity_spy.VIEW_HEIGHT)
    columns = omega_views._bilinear_shrink_matrix(566, gravity_spy.VIEW_WIDTH)
    np.testing.assert_allclose((columns @ (rows @ gray).T).T, gravity_spy.resize_view(gray), atol=1e-6)


def test_cropped_scan_renders_its_durations_and_refuses_longer_ones(tmp_path):
    strain, gps = loud_glitch_strain(8192, 16.0, 20.0)
    scan = omega.whiten_and_scan(strain, gps, durations_s=(0.5, 1.0), backend="fast")
    assert scan.tile_offsets is not None and scan.row_tiles is not None
    assert all(energy.size < size for energy, size in zip(scan.energies, scan.row_tiles))
    path = omega.render_gravityspy_png(scan, gps, 1.0, tmp_path / "one.png")
    assert path.stat().st_size > 0
    with pytest.raises(ValueError, match="keeps tiles"):
        omega.scan_to_views(scan, gps, durations_s=(4.0,))


def test_unknown_backend():
    strain, gps = loud_glitch_strain(8192, 16.0, 0.0)
    with pytest.raises(ValueError, match="backend must be one of"):
        omega.omega_scan_views(strain, gps, backend="torch")
