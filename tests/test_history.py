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


def test_the_best_epoch_is_the_first_with_the_highest_validation_accuracy():
    assert best_epoch_index(HISTORY.to_dict("records")) == 1


def test_without_validation_there_is_no_best_epoch():
    assert best_epoch_index(HISTORY[["epoch", "accuracy", "loss"]].to_dict("records")) is None


def test_patience_counts_the_epochs_since_the_best_one():
    rows = HISTORY.to_dict("records")
    assert patience_ran_out(rows, 2) and not patience_ran_out(rows, 3) and not patience_ran_out(rows, None)


def test_the_summary_reports_the_best_epoch_with_its_scores_validation_accuracy_first():
    summary = summarize_history(HISTORY)
    assert summary == {"val_accuracy": 0.92, "val_loss": 0.25, "best_epoch": 2, "epochs": 4}
    assert list(summary)[0] == "val_accuracy", "it leads the columns of dvc exp show"


def test_the_best_epoch_rule_is_defined_once():
    # The other modules import it rather than computing the best epoch themselves.
    sources = {path.name: path.read_text() for path in (REPOSITORY / "fashion_mnist").glob("*.py")}
    computing = sorted(name for name, source in sources.items() if "argmax" in source and "val_accuracy" in source)
    assert computing == ["history.py"]
    assert not any("idxmax" in source for source in sources.values())


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
