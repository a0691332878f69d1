"""Experiment tracking of a training run with MLflow and TensorBoard (``--report_to mlflow,tensorboard``).

The HF Trainer's own callbacks log the model configuration, the training arguments and the metrics of
every epoch. ``ExperimentTracker`` adds what only the end of ``gravityvit.training.run.train`` knows,
so that one MLflow run and one TensorBoard log directory hold the whole run:

- MLflow: the run is opened before training (the Trainer's callback then logs into it and leaves it
  open) and closed after the test report, ``FINISHED``, or ``FAILED`` when training raised. It gets
  the model and data arguments as ``model_args.*`` / ``data_args.*`` parameters, the final test
  metrics with their bootstrap intervals (``test_accuracy``, ``test_macro_f1_ci_low`` ...) and as
  artifacts the evaluation report (``evaluation/``: metrics.json and the figures), the model card
  (``model_card/README.md``) and ``results.json``.
- TensorBoard (``OUTPUT_DIR/runs/<date>_<host>`` or ``$TENSORBOARD_LOGGING_DIR``): the same test
  scalars under ``test/``, the model card as text and the report's figures as images.

Where MLflow writes is MLflow's choice: ``$MLFLOW_TRACKING_URI`` when set, else its local default in
the working directory (MLflow 3: ``sqlite:///mlflow.db`` with artifacts under ``./mlruns``). The
Trainer's ``MLFLOW_EXPERIMENT_NAME``, ``MLFLOW_TAGS`` and ``MLFLOW_RUN_ID`` settings apply.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# The test scores logged as ``test_<name>``; each has ``_ci_low`` / ``_ci_high`` when intervals exist.
TEST_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1")


def reports_to(training_args, integration: str) -> bool:
    """Whether the run reports to ``integration`` ("mlflow", "tensorboard"), per ``--report_to``."""
    report_to = training_args.report_to
    if isinstance(report_to, str):
        report_to = [report_to]
    return integration in (report_to or [])


def _argument_params(prefix: str, arguments: Any) -> dict[str, str]:
    """The fields of a dataclass of arguments as MLflow parameters ``prefix.field`` (values as text)."""
    import dataclasses

    return {
        f"{prefix}.{field.name}": str(getattr(arguments, field.name))
        for field in dataclasses.fields(arguments)
    }


def final_test_metrics(test: dict[str, Any]) -> dict[str, float]:
    """The flat ``test_*`` scalars of a run's test scores (``TrainResult.test``), intervals as ``_ci_low/_ci_high``."""
    metrics = {f"test_{name}": float(test[name]) for name in TEST_METRICS if name in test}
    for name, bounds in (test.get("intervals") or {}).items():
        if isinstance(bounds, (list, tuple)) and len(bounds) == 2:
            metrics[f"test_{name}_ci_low"], metrics[f"test_{name}_ci_high"] = (float(b) for b in bounds)
    return metrics


class ExperimentTracker:
    """The MLflow run and TensorBoard additions of one training run; a context manager around it.

    Args:
        model_args (`ModelArguments`), data_args (`DataArguments`): logged as MLflow parameters.
        training_args (`GlitchTrainingArguments`): ``report_to`` says which trackers are on; only the
            main process (``process_index`` 0) tracks.

    Attributes:
        run_id (`str`, *optional*): the MLflow run's id while MLflow tracks, else None.
    """

    def __init__(self, model_args, data_args, training_args):
        self.model_args, self.data_args, self.training_args = model_args, data_args, training_args
        main = training_args.process_index == 0
        self.mlflow = main and reports_to(training_args, "mlflow")
        self.tensorboard = main and reports_to(training_args, "tensorboard")
        self.run_id: str | None = None
        self._owns_run = False

    def __enter__(self) -> ExperimentTracker:
        if not self.mlflow:
            return self
        import os

        try:
            import mlflow
        except ImportError as error:
            raise ImportError(
                "--report_to mlflow needs the MLflow client: pip install -e '.[tracking]' (or --report_to none)"
            ) from error

        run = mlflow.active_run()
        if run is None:
            if os.environ.get("MLFLOW_EXPERIMENT_NAME"):
                mlflow.set_experiment(os.environ["MLFLOW_EXPERIMENT_NAME"])
            run_name = self.training_args.run_name or Path(self.training_args.output_dir).name
            # Opened here, not by the Trainer's callback, which would close it at the end of training,
            # before the validation pass, the test report and the model card exist.
            run = mlflow.start_run(run_name=run_name)
            self._owns_run = True
        self.run_id = run.info.run_id
        mlflow.log_params(
            {
                **_argument_params("model_args", self.model_args),
                **_argument_params("data_args", self.data_args),
            }
        )
        mlflow.set_tag("gravityvit.output_dir", str(Path(self.training_args.output_dir).resolve()))
        logger.info("MLflow run %s (%s) in %s", self.run_id, run.info.run_name, mlflow.get_tracking_uri())
        return self

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if self._owns_run:
            import mlflow

            status = (
                "FINISHED" if exc_type is None else "KILLED" if exc_type is KeyboardInterrupt else "FAILED"
            )
            mlflow.end_run(status=status)
            self._owns_run = False
        return False

    def log_outputs(
        self,
        trainer,
        test: dict[str, Any] | None,
        report_dir: str | Path | None,
        model_card: str | Path,
        results_json: str | Path,
    ) -> None:
        """Log the end of the run: the test scalars, the report and its figures, the model card.

        Args:
            trainer (`Trainer`): the run's trainer; the test scalars go through its logging callbacks
                (MLflow ``test_*``, TensorBoard ``test/*``).
            test (`dict`, *optional*): ``TrainResult.test`` (None when the test split was not evaluated).
            report_dir (`Path`, *optional*): the test report directory.
            model_card (`Path`): the written model card (``OUTPUT_DIR/README.md``).
            results_json (`Path`): ``OUTPUT_DIR/results.json``.
        """
        if not (self.mlflow or self.tensorboard):
            return
        if test:
            trainer.log(final_test_metrics(test))
        if self.tensorboard:
            self._log_tensorboard(trainer, report_dir, Path(model_card))
        if self.mlflow:
            import mlflow

            if report_dir is not None:
                mlflow.log_artifacts(str(report_dir), artifact_path="evaluation")
            mlflow.log_artifact(str(model_card), artifact_path="model_card")
            mlflow.log_artifact(str(results_json))

    def _log_tensorboard(self, trainer, report_dir: str | Path | None, model_card: Path) -> None:
        """The model card as text and the report's figures as images, in the Trainer's TensorBoard log."""
        import numpy as np
        from PIL import Image
        from transformers.integrations import TensorBoardCallback

        callback = next(
            (c for c in trainer.callback_handler.callbacks if isinstance(c, TensorBoardCallback)), None
        )
        if callback is None or callback.tb_writer is None:  # reopened by trainer.log after training ended
            return
        writer, step = callback.tb_writer, trainer.state.global_step
        writer.add_text("model_card", model_card.read_text(encoding="utf-8"), step)
        for figure in sorted(Path(report_dir).glob("*.png")) if report_dir is not None else ():
            with Image.open(figure) as image:
                pixels = np.asarray(image.convert("RGB"))
            writer.add_image(f"evaluation/{figure.stem}", pixels, step, dataformats="HWC")
        writer.close()
        callback.tb_writer = None
        logger.info("TensorBoard log in %s", callback.logging_dir)


__all__ = ["TEST_METRICS", "ExperimentTracker", "final_test_metrics", "reports_to"]
