"""The comparison table of examples/compare_models.py: mean ± std over seeds of the scores that matter."""

from __future__ import annotations

from gravityvit.training import comparison as compare


def test_markdown_table_mean_and_spread():
    rare = {name: {"f1": 0.5} for name in compare.RARE_CLASSES}
    runs = {
        "GravityViT multi-view": [
            {"seed": 0, "accuracy": 0.9, "macro_f1": 0.8, "per_class": rare},
            {"seed": 1, "accuracy": 1.0, "macro_f1": 1.0, "per_class": rare},
        ],
        "Gravity Spy CNN (merged view)": [{"seed": 0, "accuracy": 0.7, "macro_f1": 0.6, "per_class": rare}],
    }
    table = compare.markdown_table(runs, "data/x", [0, 1])
    lines = table.strip().splitlines()
    assert lines[2].startswith("| model | accuracy | macro-F1 | F1 Paired_Doves |")
    assert "| GravityViT multi-view | 0.950 ± 0.071 | 0.900 ± 0.141 | 0.500 ± 0.000 |" in table
    assert "| Gravity Spy CNN (merged view) | 0.700 ± 0.000 | 0.600 ± 0.000 |" in table
    assert set(compare.PRESETS) == {"cpu", "paper"}
    for named, _ in compare.PRESETS["paper"].values():
        assert named in __import__("gravityvit").list_named_configs()


def test_models_differ_only_beyond_their_intervals():
    rare = {name: {"f1": 0.5} for name in compare.RARE_CLASSES}

    def run(seed, accuracy, macro_f1, accuracy_bounds, macro_bounds):
        intervals = {"accuracy": accuracy_bounds, "macro_f1": macro_bounds}
        return {
            "seed": seed,
            "accuracy": accuracy,
            "macro_f1": macro_f1,
            "per_class": rare,
            "intervals": intervals,
        }

    runs = {
        "A": [run(0, 0.95, 0.90, [0.93, 0.97], [0.87, 0.93]), run(1, 0.94, 0.91, [0.92, 0.96], [0.88, 0.94])],
        "B": [run(0, 0.80, 0.89, [0.77, 0.83], [0.85, 0.92])],
    }
    assert compare.interval_hull(runs["A"], "macro_f1") == [0.87, 0.94]
    table = compare.markdown_table(runs, "data/x", [0, 1])
    assert table.splitlines()[2].endswith("| macro-F1 95 % interval |")
    assert "| A | 0.945 ± 0.007 | 0.905 ± 0.007 |" in table and "| [0.870, 0.940] |" in table
    assert (
        "- accuracy: A [0.920, 0.970] vs B [0.770, 0.830]: they differ beyond their intervals (A is better)."
        in table
    )
    assert "- macro_f1: A [0.870, 0.940] vs B [0.850, 0.920]: the intervals overlap" in table
    # Runs without intervals (reports written before they existed) keep the plain table.
    plain = {
        name: [{k: v for k, v in r.items() if k != "intervals"} for r in results]
        for name, results in runs.items()
    }
    assert "interval" not in compare.markdown_table(plain, "data/x", [0, 1])
