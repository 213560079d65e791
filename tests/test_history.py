"""The per-epoch history: the one rule that picks the best epoch, its summary in train's metrics, read back by
final-train and plot, and its file."""

import json
from pathlib import Path

import pandas as pd
import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.history import best_epoch_index, patience_ran_out, read_best_epoch, summarize_history
from tests.conftest import REPOSITORY

HISTORY = pd.DataFrame(
    {
        "epoch": [1, 2, 3, 4],
        "accuracy": [0.80, 0.90, 0.95, 0.99],
        "loss": [0.5, 0.3, 0.2, 0.1],
        "val_accuracy": [0.85, 0.92, 0.92, 0.91],
        "val_loss": [0.4, 0.25, 0.26, 0.30],
    }
)


# Validation accuracy ties at epochs 2 and 3 and peaks again at 5; validation loss has one valley, at epoch 2.
PLATEAU = pd.DataFrame(
    {
        "epoch": [1, 2, 3, 4, 5],
        "val_accuracy": [0.85, 0.92, 0.92, 0.91, 0.9201],
        "val_loss": [0.4, 0.25, 0.26, 0.30, 0.35],
    }
)


def test_the_best_epoch_by_val_accuracy_is_the_first_with_the_highest():
    assert best_epoch_index(HISTORY.to_dict("records"), "val_accuracy") == 1
    # A rounding-level gain late on the plateau moves it: the reason val_loss is the default.
    assert best_epoch_index(PLATEAU.to_dict("records"), "val_accuracy") == 4


def test_the_best_epoch_by_val_loss_is_the_first_with_the_lowest():
    assert best_epoch_index(HISTORY.to_dict("records"), "val_loss") == 1
    assert best_epoch_index(PLATEAU.to_dict("records"), "val_loss") == 1


def test_an_unknown_monitor_is_refused():
    with pytest.raises(ValueError, match="unknown monitor 'accuracy'; expected one of val_accuracy, val_loss"):
        best_epoch_index(HISTORY.to_dict("records"), "accuracy")


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_without_validation_there_is_no_best_epoch(monitor: str):
    assert best_epoch_index(HISTORY[["epoch", "accuracy", "loss"]].to_dict("records"), monitor) is None


def test_patience_counts_the_epochs_since_the_best_one():
    rows = HISTORY.to_dict("records")
    for monitor in ("val_loss", "val_accuracy"):
        assert patience_ran_out(rows, 2, monitor) and not patience_ran_out(rows, 3, monitor)
        assert not patience_ran_out(rows, None, monitor)
    plateau = PLATEAU.to_dict("records")
    assert patience_ran_out(plateau, 3, "val_loss") and not patience_ran_out(plateau, 1, "val_accuracy")


def test_the_summary_reports_the_best_epoch_with_its_scores_validation_accuracy_first():
    summary = summarize_history(HISTORY, "val_loss")
    assert summary == {"val_accuracy": 0.92, "val_loss": 0.25, "best_epoch": 2, "epochs": 4}
    assert summarize_history(PLATEAU, "val_accuracy")["best_epoch"] == 5
    assert list(summary)[0] == "val_accuracy", "it leads the columns of dvc exp show"


def test_the_best_epoch_rule_is_defined_once():
    # The other modules import it rather than computing the best epoch themselves.
    sources = {path.name: path.read_text() for path in (REPOSITORY / "fashion_mnist").glob("*.py")}
    computing = sorted(
        name for name, source in sources.items() if ("argmax" in source or "argmin" in source) and "val_" in source
    )
    assert computing == ["history.py"]
    assert not any("idxmax" in source or "idxmin" in source for source in sources.values())


def test_the_best_epoch_is_read_back_from_the_metrics_file(tmp_path: Path):
    (tmp_path / "metrics.json").write_text(json.dumps(summarize_history(HISTORY, "val_loss")))
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
