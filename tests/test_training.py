"""Training: determinism, resuming from a checkpoint, and the history it returns."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashion_mnist import training
from fashion_mnist.model import build_blog_model
from fashion_mnist.training import STATE_FILE, make_deterministic, train_model
from tests.synthetic import balanced_labels, make_images

EPOCHS = 4


@pytest.fixture(scope="module")
def data():
    labels = balanced_labels(20, seed=0)
    images = make_images(labels, seed=1)
    return (images[:160], labels[:160]), (images[160:], labels[160:])


def fit(data, checkpoint_dir: Path, **overrides):
    (images, labels), validation = data
    settings = {"epochs": EPOCHS, "batch_size": 16, "learning_rate": 0.001, "seed": 7} | overrides
    make_deterministic(settings["seed"])
    model = build_blog_model()
    history = train_model(
        model, images=images, labels=labels, validation_data=validation, checkpoint_dir=checkpoint_dir, **settings
    )
    return model, history


class SimulatedInterruptError(Exception):
    pass


def fit_until_interrupted(data, checkpoint_dir: Path, monkeypatch, after_epoch: int, **overrides) -> None:
    """Train, stopping the process's work right after epoch `after_epoch` was checkpointed."""
    save = training.EpochCheckpoint.on_epoch_end

    def save_then_stop(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch + 1 == after_epoch:
            raise SimulatedInterruptError

    with monkeypatch.context() as patch:
        patch.setattr(training.EpochCheckpoint, "on_epoch_end", save_then_stop)
        with pytest.raises(SimulatedInterruptError):
            fit(data, checkpoint_dir, **overrides)


def assert_same_weights(first, second):
    for one, other in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(one, other)


def test_the_history_has_one_row_per_epoch_with_the_csv_columns(data, tmp_path: Path):
    _, history = fit(data, tmp_path / "checkpoint")
    assert list(history.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert history["epoch"].tolist() == [1, 2, 3, 4]
    assert history["loss"].iloc[-1] < history["loss"].iloc[0], "the synthetic classes are learnable"


def test_same_settings_give_identical_weights_and_history(data, tmp_path: Path):
    first_model, first_history = fit(data, tmp_path / "first")
    second_model, second_history = fit(data, tmp_path / "second")
    pd.testing.assert_frame_equal(first_history, second_history, check_exact=True)
    assert_same_weights(first_model, second_model)


def test_another_seed_gives_another_run(data, tmp_path: Path):
    _, first_history = fit(data, tmp_path / "first")
    _, other_history = fit(data, tmp_path / "other", seed=8)
    assert not first_history.equals(other_history)


def test_a_resumed_run_equals_an_uninterrupted_one(data, tmp_path: Path, monkeypatch, capsys):
    uninterrupted_model, uninterrupted_history = fit(data, tmp_path / "uninterrupted")
    fit_until_interrupted(data, tmp_path / "resumed", monkeypatch, after_epoch=2)
    state = json.loads((tmp_path / "resumed" / STATE_FILE).read_text())
    assert state["epoch"] == 2 and [row["epoch"] for row in state["history"]] == [1, 2]

    resumed_model, resumed_history = fit(data, tmp_path / "resumed")
    assert "Resuming from the checkpoint" in capsys.readouterr().out
    pd.testing.assert_frame_equal(resumed_history, uninterrupted_history, check_exact=True)
    assert_same_weights(resumed_model, uninterrupted_model)


def test_a_checkpoint_made_with_other_settings_is_not_resumed(data, tmp_path: Path, monkeypatch, capsys):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2, learning_rate=0.01)
    _, history = fit(data, tmp_path / "checkpoint")
    assert "it was made with other params or data" in capsys.readouterr().out
    _, fresh_history = fit(data, tmp_path / "fresh")
    pd.testing.assert_frame_equal(history, fresh_history, check_exact=True)


def test_an_unreadable_checkpoint_is_discarded(data, tmp_path: Path, monkeypatch, capsys):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    (weights,) = (tmp_path / "checkpoint").glob("*.weights.h5")
    weights.write_bytes(b"garbage")
    _, history = fit(data, tmp_path / "checkpoint")
    assert "Ignoring the unreadable checkpoint" in capsys.readouterr().out
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_only_the_latest_epoch_is_kept_on_disk(data, tmp_path: Path, monkeypatch):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=3)
    assert sorted(path.name for path in (tmp_path / "checkpoint").iterdir()) == ["epoch-0003.weights.h5", STATE_FILE]
