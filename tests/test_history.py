"""The per-epoch history: its summary in train's metrics, read back by final-evaluate, and its file for plot."""

import json
from pathlib import Path

import pandas as pd
import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.history import read_best_epoch, summarize_history
from fashion_mnist.learning_curves import best_epoch, load_history

HISTORY = pd.DataFrame(
    {
        "epoch": [1, 2, 3, 4],
        "accuracy": [0.80, 0.90, 0.95, 0.99],
        "loss": [0.5, 0.3, 0.2, 0.1],
        "val_accuracy": [0.85, 0.92, 0.92, 0.91],
        "val_loss": [0.4, 0.25, 0.26, 0.30],
    }
)


def test_the_best_epoch_is_the_first_with_the_highest_validation_accuracy():
    assert best_epoch(HISTORY) == 2


def test_the_summary_reports_the_epochs_run_and_the_best_epoch_with_its_scores():
    assert summarize_history(HISTORY) == {"epochs": 4, "best_epoch": 2, "val_accuracy": 0.92, "val_loss": 0.25}


def test_the_best_epoch_is_read_back_from_the_metrics_file(tmp_path: Path):
    (tmp_path / "metrics.json").write_text(json.dumps(summarize_history(HISTORY)))
    assert read_best_epoch(tmp_path / "metrics.json") == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"epochs": 4}', r"expected best_epoch to be an integer >= 1, got None"),
        ('{"best_epoch": 0}', r"expected best_epoch to be an integer >= 1, got 0"),
        ('{"best_epoch": "2"}', r"expected best_epoch to be an integer >= 1, got '2'"),
        ("[1, 2]", r"not the train stage's metrics"),
        ("{not json", r"not the train stage's metrics"),
    ],
)
def test_a_metrics_file_without_a_valid_best_epoch_is_named(tmp_path: Path, content: str, message: str):
    (tmp_path / "metrics.json").write_text(content)
    with pytest.raises(DataError, match=rf"metrics\.json: {message}"):
        read_best_epoch(tmp_path / "metrics.json")


def test_a_missing_metrics_file_says_which_stage_makes_it(tmp_path: Path):
    with pytest.raises(DataError, match=r"metrics\.json: file not found; run `dvc repro train` first"):
        read_best_epoch(tmp_path / "metrics.json")


def test_a_history_round_trips_through_csv(tmp_path: Path):
    HISTORY.to_csv(tmp_path / "history.csv", index=False)
    pd.testing.assert_frame_equal(load_history(tmp_path / "history.csv"), HISTORY)


def test_a_history_without_validation_columns_is_named(tmp_path: Path):
    HISTORY.drop(columns=["val_loss"]).to_csv(tmp_path / "history.csv", index=False)
    with pytest.raises(DataError, match=r"history\.csv: expected columns .*missing \['val_loss'\]"):
        load_history(tmp_path / "history.csv")


def test_an_empty_history_is_named(tmp_path: Path):
    (tmp_path / "history.csv").write_text("")
    with pytest.raises(DataError, match=r"history\.csv: not a CSV history"):
        load_history(tmp_path / "history.csv")


def test_a_missing_history_says_which_stage_makes_it(tmp_path: Path):
    with pytest.raises(DataError, match=r"run `dvc repro train` first"):
        load_history(tmp_path / "history.csv")
