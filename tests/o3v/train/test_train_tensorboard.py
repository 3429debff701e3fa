"""TensorBoard is o3v's own writer (into the model folder), independent of `report_to`'s other trackers."""

from __future__ import annotations

import pytest

from o3v.train.config import load_config
from o3v.train.runner import tensorboard_callback


@pytest.mark.parametrize(
    ("overrides", "report_to", "writes"),
    [
        ({}, [], True),  # the recipes' report_to: none: event files all the same
        ({"report_to": ["tensorboard", "mlflow"]}, ["mlflow"], True),  # one writer, MLflow kept
        ({"report_to": "tensorboard", "tensorboard": False}, [], True),  # asking in report_to is enough
        ({"tensorboard": False}, [], False),
    ],
)
def test_event_files_go_to_the_model_folder_whatever_report_to_says(tmp_path, overrides, report_to, writes):
    cfg = load_config("sft", "tiny-cpu", {"report_to": "none", **overrides}, output_dir=tmp_path / "checkpoints")
    callback = tensorboard_callback(cfg, tmp_path)
    assert cfg.report_to == report_to
    assert (callback is not None) == writes
    if writes:
        assert callback.logging_dir == str(tmp_path / "tensorboard")
