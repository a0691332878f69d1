"""Experiment tracking, read back: a tiny run with ``--report_to mlflow,tensorboard`` leaves an MLflow run
(parameters, per-epoch and test metrics, report figures and model card) and TensorBoard scalars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gravityvit.training.arguments import parse_train_arguments
from gravityvit.training.run import train

from .conftest import TINY_MODEL, tiny_train_args

mlflow = pytest.importorskip("mlflow", reason="the tracking extra (pip install -e '.[tracking]')")
pytest.importorskip("tensorboard", reason="the tracking extra (pip install -e '.[tracking]')")

pytestmark = pytest.mark.slow

EPOCHS = 2


@pytest.fixture(scope="module")
def tracked_run(tiny_dataset, tmp_path_factory):
    """One tiny training run reporting to both trackers, MLflow at its default store in the working directory."""
    workdir = tmp_path_factory.mktemp("tracking")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        patch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
        patch.chdir(workdir)
        output_dir = workdir / "tiny-run"
        args = tiny_train_args(tiny_dataset, output_dir, "--report_to", "mlflow,tensorboard", epochs=EPOCHS)
        result = train(*parse_train_arguments(args))
        tracking_uri = mlflow.get_tracking_uri()
    return workdir, output_dir, result, tracking_uri


def _the_run(workdir: Path, tracking_uri: str):
    client = mlflow.tracking.MlflowClient(tracking_uri=tracking_uri)
    runs = [
        run
        for experiment in client.search_experiments()
        for run in client.search_runs([experiment.experiment_id])
    ]
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return client, runs[0]


def test_mlflow_store_is_local_by_default(tracked_run):
    workdir, _, _, tracking_uri = tracked_run
    # MLflow's default local store, in the working directory of the run.
    assert str(workdir) in tracking_uri
    assert any(workdir.glob("mlflow.db")) or (workdir / "mlruns").is_dir()


def test_mlflow_run_holds_parameters_metrics_and_artifacts(tracked_run, tiny_dataset, tmp_path):
    workdir, output_dir, result, tracking_uri = tracked_run
    client, run = _the_run(workdir, tracking_uri)
    assert run.info.status == "FINISHED" and run.info.run_name == "tiny-run"

    params = run.data.params
    assert params["model_args.model"] == TINY_MODEL
    assert params["data_args.dataset"] == str(tiny_dataset)
    assert float(params["learning_rate"]) == pytest.approx(3e-3)  # a training argument
    assert params["model_type"] == "gravityvit" and params["num_views"] == "4"  # the model's config
    assert params["num_train_epochs"] == str(float(EPOCHS))

    # One validation score and one training loss per epoch, at increasing steps.
    history = client.get_metric_history(run.info.run_id, "eval_macro_f1")
    assert len(history) == EPOCHS
    assert [m.step for m in history] == sorted({m.step for m in history})
    assert len(client.get_metric_history(run.info.run_id, "loss")) == EPOCHS

    metrics = run.data.metrics
    assert metrics["validation_macro_f1"] == pytest.approx(result.validation["macro_f1"])
    assert metrics["test_accuracy"] == pytest.approx(result.test["accuracy"])
    assert metrics["test_macro_f1"] == pytest.approx(result.test["macro_f1"])
    low, high = result.test["intervals"]["accuracy"]
    assert metrics["test_accuracy_ci_low"] == pytest.approx(low)
    assert metrics["test_accuracy_ci_high"] == pytest.approx(high)
    assert low <= metrics["test_accuracy"] <= high

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"evaluation", "model_card", "results.json"} <= artifacts
    report = {Path(a.path).name for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"metrics.json", "confusion_matrix.png", "reliability_diagram.png", "worst_mistakes.png"} <= report
    card = client.download_artifacts(run.info.run_id, "model_card/README.md", str(tmp_path))
    assert Path(card).read_text(encoding="utf-8") == (output_dir / "README.md").read_text(encoding="utf-8")
    logged = json.loads(
        Path(client.download_artifacts(run.info.run_id, "results.json", str(tmp_path))).read_text()
    )
    assert logged["test"]["accuracy"] == pytest.approx(result.test["accuracy"])


def test_tensorboard_scalars_text_and_figures(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, output_dir, result, _ = tracked_run
    (log_dir,) = (output_dir / "runs").iterdir()
    events = EventAccumulator(str(log_dir))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {
        "eval/macro_f1",
        "eval/accuracy",
        "train/loss",
        "test/accuracy",
        "test/macro_f1_ci_low",
    } <= scalars
    assert len(events.Scalars("eval/macro_f1")) == EPOCHS
    assert events.Scalars("test/accuracy")[-1].value == pytest.approx(result.test["accuracy"], abs=1e-6)
    assert events.Scalars("test/macro_f1")[-1].value == pytest.approx(result.test["macro_f1"], abs=1e-6)
    assert "evaluation/confusion_matrix" in events.Tags()["images"]
    assert any("model_card" in tag for tag in events.Tags()["tensors"])


def test_a_run_that_fails_is_marked_failed(tiny_dataset, tmp_path, monkeypatch):
    from gravityvit.gravity_spy import CLASS_NAMES
    from gravityvit.training.data import GlitchDatasetError

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    args = tiny_train_args(tiny_dataset, tmp_path / "out", "--report_to", "mlflow")
    overrides = json.loads(args[args.index("--config_overrides") + 1])
    overrides["id2label"] = {str(i): name for i, name in enumerate(reversed(CLASS_NAMES))}
    args[args.index("--config_overrides") + 1] = json.dumps(overrides)
    with pytest.raises(GlitchDatasetError):
        train(*parse_train_arguments(args))
    assert mlflow.active_run() is None
    _, run = _the_run(tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert run.info.status == "FAILED" and run.data.params["model_args.model"] == TINY_MODEL
