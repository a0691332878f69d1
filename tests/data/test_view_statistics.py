"""View statistics on synthetic views whose band, time extent, peak and background are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gravityvit.data import view_statistics as vs
from gravityvit.gravity_spy import VIEW_DURATIONS_S, VIEW_HEIGHT, VIEW_SHAPE, VIEW_WIDTH

BACKGROUND_ENERGY = 1.0
BRIGHT_ENERGY = 20.0


def flat_view(energy: float = BACKGROUND_ENERGY) -> np.ndarray:
    return np.full(VIEW_SHAPE, vs.energy_to_gray(energy), dtype=np.float32)


def box_view(low_hz: float, high_hz: float, start_s: float, stop_s: float, duration_s: float) -> np.ndarray:
    """A flat background with a bright box covering low-high Hz and start-stop s (pixel centres inside)."""
    view = flat_view()
    rows = np.arange(VIEW_HEIGHT)
    columns = np.arange(VIEW_WIDTH)
    frequencies = vs.row_frequency_hz(rows)
    times = vs.column_time_s(columns, duration_s)
    inside_rows = (frequencies >= low_hz) & (frequencies <= high_hz)
    inside_columns = (times >= start_s) & (times <= stop_s)
    view[np.ix_(inside_rows, inside_columns)] = vs.energy_to_gray(BRIGHT_ENERGY)
    return view


def test_axes_geometry_matches_the_omega_scan():
    # Row 0 lies just below 2048 Hz and the last row just above 10 Hz: the crop keeps the inside of
    # the axes (y 66-532 of 60-540), so the edges of the frequency range are a few pixels outside it.
    assert 1800 < vs.row_frequency_hz(0) < 2048
    assert 10 < vs.row_frequency_hz(VIEW_HEIGHT - 1) < 12
    assert np.all(np.diff(vs.row_frequency_hz(np.arange(VIEW_HEIGHT))) < 0)
    # The window is centred: the middle of the columns is within a column of t = 0.
    for duration in VIEW_DURATIONS_S:
        assert abs(vs.column_time_s((VIEW_WIDTH - 1) / 2, duration)) < duration / VIEW_WIDTH
        assert -duration / 2 < vs.column_time_s(0, duration) < -0.45 * duration
    # Inverses.
    np.testing.assert_allclose(
        vs.frequency_row(vs.row_frequency_hz(np.arange(5.0))), np.arange(5.0), atol=1e-9
    )
    np.testing.assert_allclose(
        vs.time_column(vs.column_time_s(np.arange(5.0), 2.0), 2.0), np.arange(5.0), atol=1e-9
    )
    views = pytest.importorskip("gravityvit.data.omega.views")
    assert vs.FRANGE_HZ == views.FRANGE_HZ
    for ours, theirs in [
        (vs.AXES_TOP_PX, views.AXES_TOP_PX),
        (vs.AXES_HEIGHT_PX, views.AXES_HEIGHT_PX),
        (vs.AXES_LEFT_PX, views.AXES_LEFT_PX),
        (vs.AXES_WIDTH_PX, views.AXES_WIDTH_PX),
    ]:
        assert ours == pytest.approx(theirs)
    # The colour scale is the PNG's: energy -> gray here agrees with the Omega scan's own lookup.
    energies = np.linspace(0.5, 25.0, 30)
    np.testing.assert_allclose(
        vs.energy_to_gray(energies),
        views._gray_lut()[views.energy_to_colour_index(energies)],
        atol=0.01,
    )
    np.testing.assert_allclose(vs.gray_to_energy(vs.energy_to_gray(energies)), energies, atol=0.1)


@pytest.mark.parametrize("duration", [0.5, 4.0])
def test_box_band_time_extent_and_size(duration):
    low, high, start, stop = 60.0, 480.0, -0.1 * duration, 0.2 * duration
    statistics = vs.view_statistics(
        box_view(low, high, start, stop, duration), duration, quantiles=(0.0, 1.0)
    )
    # With the full quantile range the band is the outermost rows inside the box: within one row
    # (a factor of exp(ln(204.8) * 466 / 140 / 480) ~ 1.04) of the box's edges.
    assert statistics["band_low_hz"] == pytest.approx(low, rel=0.04)
    assert statistics["band_high_hz"] == pytest.approx(high, rel=0.04)
    assert statistics["band_octaves"] == pytest.approx(3.0, abs=0.12)
    assert statistics["band_centre_hz"] == pytest.approx(math.sqrt(low * high), rel=0.04)
    column = duration / vs.AXES_WIDTH_PX * 566 / 170
    assert statistics["time_start_s"] == pytest.approx(start, abs=column)
    assert statistics["time_stop_s"] == pytest.approx(stop, abs=column)
    assert statistics["time_extent_s"] == pytest.approx(0.3 * duration, abs=2 * column)
    rows = np.sum(
        (vs.row_frequency_hz(np.arange(VIEW_HEIGHT)) >= low)
        & (vs.row_frequency_hz(np.arange(VIEW_HEIGHT)) <= high)
    )
    columns = np.sum(
        (vs.column_time_s(np.arange(VIEW_WIDTH), duration) >= start)
        & (vs.column_time_s(np.arange(VIEW_WIDTH), duration) <= stop)
    )
    assert statistics["bright_fraction"] == pytest.approx(rows * columns / (VIEW_HEIGHT * VIEW_WIDTH))
    # The whole box is at the peak, so the peak is its middle, at the box's energy.
    assert statistics["peak_energy"] == pytest.approx(BRIGHT_ENERGY, abs=0.1)
    assert statistics["peak_frequency_hz"] == pytest.approx(math.sqrt(low * high), rel=0.04)
    assert statistics["peak_time_s"] == pytest.approx((start + stop) / 2, abs=column)
    # The darkest half is the flat background.
    assert statistics["background_level"] == pytest.approx(vs.energy_to_gray(BACKGROUND_ENERGY), abs=1e-6)
    assert statistics["background_spread"] == pytest.approx(0.0, abs=1e-6)
    assert statistics["background_roughness_time"] == statistics["background_roughness_frequency"] == 0.0


def test_quantiles_ignore_stray_noise_pixels():
    view = box_view(100.0, 400.0, -0.05, 0.05, 1.0)
    # Two lone bright pixels far from the box, as noise leaves: they would stretch the full range.
    view[2, 3] = view[135, 160] = vs.energy_to_gray(BRIGHT_ENERGY)
    statistics = vs.view_statistics(view, 1.0)
    full = vs.view_statistics(view, 1.0, quantiles=(0.0, 1.0))
    assert full["band_high_hz"] > 1500 and full["band_low_hz"] < 15
    # The default 5 %-95 % quantiles trim 5 % of the box's ~2 octaves at each end, not more.
    assert 100.0 <= statistics["band_low_hz"] < 100.0 * 2**0.2
    assert 400.0 * 2**-0.2 < statistics["band_high_hz"] <= 400.0
    assert -0.05 <= statistics["time_start_s"] < statistics["time_stop_s"] <= 0.05


def test_threshold_decides_what_is_bright():
    view = box_view(100.0, 400.0, -0.1, 0.1, 1.0)
    view[vs.frequency_row(1000.0).__round__(), 80] = vs.energy_to_gray(8.0)  # one moderately bright pixel
    assert (
        vs.view_statistics(view, 1.0, threshold_energy=10.0)["bright_fraction"]
        < vs.view_statistics(view, 1.0, threshold_energy=6.0)["bright_fraction"]
    )
    quiet = vs.view_statistics(flat_view(), 2.0)
    assert quiet["bright_fraction"] == 0.0
    for name in (
        "band_low_hz",
        "band_high_hz",
        "band_centre_hz",
        "band_octaves",
        "time_start_s",
        "time_extent_s",
    ):
        assert math.isnan(quiet[name])
    assert quiet["peak_energy"] == pytest.approx(BACKGROUND_ENERGY, abs=0.1)


def test_background_texture_tells_time_from_frequency_structure():
    rng = np.random.default_rng(0)
    base = vs.energy_to_gray(BACKGROUND_ENERGY)
    # Noise that varies only along time (constant down each column), then only along frequency.
    along_time = np.tile(rng.uniform(-0.02, 0.02, VIEW_WIDTH), (VIEW_HEIGHT, 1)) + base
    along_frequency = np.tile(rng.uniform(-0.02, 0.02, (VIEW_HEIGHT, 1)), (1, VIEW_WIDTH)) + base
    first = vs.view_statistics(along_time.astype(np.float32), 1.0)
    second = vs.view_statistics(along_frequency.astype(np.float32), 1.0)
    assert first["background_roughness_frequency"] == 0.0 < first["background_roughness_time"]
    assert second["background_roughness_time"] == 0.0 < second["background_roughness_frequency"]
    # Level and spread of the darkest half of a uniform(-a, a) noise: median -a/2, std a/(2 sqrt 3).
    assert first["background_level"] == pytest.approx(base - 0.01, abs=0.003)
    assert first["background_spread"] == pytest.approx(0.02 / (2 * math.sqrt(3)), rel=0.2)


def test_bad_views_are_refused():
    with pytest.raises(ValueError, match=r"shape \(140, 170\)"):
        vs.view_statistics(np.zeros((100, 100)), 1.0)
    with pytest.raises(ValueError, match="finite"):
        vs.view_statistics(np.full(VIEW_SHAPE, np.nan), 1.0)
    with pytest.raises(ValueError, match="quantiles"):
        vs.view_statistics(flat_view(), 1.0, quantiles=(0.9, 0.1))
    with pytest.raises(ValueError, match="has 4 views"):
        vs.sample_statistics([flat_view()])


def test_class_table_compares_medians_in_the_right_units():
    def sample(low, high, missing=()):
        views = [box_view(low, high, -0.1 * d, 0.1 * d, d) for d in VIEW_DURATIONS_S]
        return [None if i in missing else v for i, v in enumerate(views)]

    real = {"Blip": [sample(50, 400), sample(50, 400, missing=(0, 1, 2))]}  # the second has only 4 s
    simulated = {"Blip": [sample(100, 400), sample(100, 400)], "Whistle": [sample(500, 1000)]}
    rows = vs.class_statistics_table(
        real, simulated, statistics=("band_low_hz", "time_extent_s", "bright_fraction")
    )
    assert [row["class"] for row in rows] == ["Blip"] * 12 + ["Whistle"] * 12
    by_key = {(row["class"], row["duration_s"], row["statistic"]): row for row in rows}
    low_4s = by_key["Blip", 4.0, "band_low_hz"]
    assert low_4s["real_n"] == 2 and low_4s["simulated_n"] == 2
    assert low_4s["unit"] == "octaves"
    # 50 Hz -> 100 Hz is one octave (within a row of each edge).
    assert low_4s["difference"] == pytest.approx(1.0, abs=0.1)
    # The scale is the 10 %-90 % range over all real 4 s views (both classes): 50 Hz and 50 Hz
    # only here (Whistle has no real sample), so zero, and one row (~0.053 octaves) is the floor.
    assert (
        low_4s["scale"] == pytest.approx(vs.resolution("band_low_hz", 4.0)) == pytest.approx(0.0534, abs=5e-4)
    )
    assert low_4s["separation"] == pytest.approx(low_4s["difference"] / low_4s["scale"])
    assert by_key["Blip", 0.5, "band_low_hz"]["real_n"] == 1  # the missing views are not counted
    assert vs.resolution("time_extent_s", 2.0) == pytest.approx(2.0 / vs.AXES_WIDTH_PX * 566 / 170)
    assert vs.resolution("peak_energy", 1.0) == pytest.approx(25.5 / 256)
    with pytest.raises(ValueError, match="unknown statistic"):
        vs.resolution("colour", 1.0)
    extent = by_key["Blip", 2.0, "time_extent_s"]
    assert (
        extent["unit"] == "s"
        and extent["difference"] == pytest.approx(0.0, abs=1e-9)
        and extent["separation"] == 0.0
    )
    fraction = by_key["Blip", 1.0, "bright_fraction"]
    assert fraction["difference"] < 0  # the simulated box is narrower in frequency
    whistle = by_key["Whistle", 1.0, "band_low_hz"]
    assert whistle["real_n"] == 0 and math.isnan(whistle["real_median"]) and math.isnan(whistle["difference"])
    # With real samples that vary, the separation is the difference over their pooled spread.
    varied = {"Blip": [sample(50, 400), sample(100, 400)], "Tomte": [sample(25, 400), sample(200, 400)]}
    rows = vs.class_statistics_table(varied, {"Blip": [sample(100, 400)]}, statistics=("band_low_hz",))
    blip_1s = next(r for r in rows if r["class"] == "Blip" and r["duration_s"] == 1.0)
    lows = np.log2([vs.view_statistics(sample(f, 400)[1], 1.0)["band_low_hz"] for f in (25, 50, 100, 200)])
    assert blip_1s["scale"] == pytest.approx(np.quantile(lows, 0.9) - np.quantile(lows, 0.1))
    assert blip_1s["separation"] == pytest.approx(abs(blip_1s["difference"]) / blip_1s["scale"])
    assert blip_1s["difference"] == pytest.approx(0.5, abs=0.1)  # median of 50 and 100 Hz -> 100 Hz
    tomte = next(r for r in rows if r["class"] == "Tomte" and r["duration_s"] == 1.0)
    assert tomte["simulated_n"] == 0 and math.isnan(tomte["separation"])
    with pytest.raises(ValueError, match="unknown statistics"):
        vs.class_statistics_table(real, simulated, statistics=("colour",))


def test_default_statistics_cover_every_name():
    statistics = vs.view_statistics(box_view(100, 200, -0.1, 0.1, 1.0), 1.0)
    assert tuple(statistics) == vs.STATISTICS
    assert all(isinstance(value, float) for value in statistics.values())
    stack = np.stack([box_view(100, 200, -0.1, 0.1, d) for d in VIEW_DURATIONS_S])
    assert [s["band_low_hz"] for s in vs.sample_statistics(stack)] == pytest.approx(
        [statistics["band_low_hz"]] * 4, rel=0.03
    )
