"""Training: determinism, resuming from a checkpoint, and the history it returns."""

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from fashion_mnist import backend, checkpoint, identity
from fashion_mnist.backend import make_deterministic, resolve_precision, set_precision
from fashion_mnist.batches import epoch_batches
from fashion_mnist.checkpoint import STATE_FILE
from fashion_mnist.model import build_model
from fashion_mnist.params import PRECISIONS, SCHEDULES, load_params
from fashion_mnist.schedule import learning_rate_schedule
from fashion_mnist.training import train_model, training_arguments
from tests.synthetic import balanced_labels, make_images

EPOCHS = 4


@pytest.fixture(scope="module")
def data():
    labels = balanced_labels(20, seed=0)
    images = make_images(labels, seed=1)
    return (images[:160], labels[:160]), (images[160:], labels[160:])


@pytest.fixture(autouse=True)
def float32_policy():
    """Leave Keras's global dtype policy as each test found it."""
    yield
    keras.mixed_precision.set_global_policy("float32")


# The stronger recipe: batch normalization, dropout, augmentation, AdamW with a cosine schedule.
STRONG = {"model": "vgg_bn", "augment": True, "schedule": "cosine", "weight_decay": 0.05}
# The fast recipe's tricks: label smoothing and the weights' moving average, which the checkpoint must carry.
FAST = {"model": "vgg_bn", "schedule": "cosine", "label_smoothing": 0.1, "ema_momentum": 0.9}
# Augmentation inside the step: its generator's state must be set alike in a resumed run.
IN_STEP = {"model": "vgg_bn", "augment": True, "augment_on": "device"}


def fit(data, checkpoint_dir: Path, model: str = "blog_cnn", **overrides):
    (images, labels), validation = data
    settings = {"epochs": EPOCHS, "batch_size": 16, "learning_rate": 0.001, "seed": 7} | overrides
    make_deterministic(settings["seed"])
    network = build_model(model)
    history = train_model(
        network, images=images, labels=labels, validation_data=validation, checkpoint_dir=checkpoint_dir, **settings
    )
    return network, history


class SimulatedInterruptError(Exception):
    pass


def fit_until_interrupted(data, checkpoint_dir: Path, monkeypatch, after_epoch: int, **overrides) -> None:
    """Train, stopping the process's work right after epoch `after_epoch` was checkpointed."""
    save = checkpoint.EpochCheckpoint.on_epoch_end

    def save_then_stop(self, epoch, logs=None):
        save(self, epoch, logs)
        if epoch + 1 == after_epoch:
            raise SimulatedInterruptError

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint.EpochCheckpoint, "on_epoch_end", save_then_stop)
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


@pytest.mark.parametrize(
    "recipe",
    [{}, STRONG, FAST, IN_STEP],
    ids=["blog_cnn", "vgg_bn-augmented", "fast-tricks", "augmented-in-step"],
)
def test_a_resumed_run_equals_an_uninterrupted_one(data, tmp_path: Path, monkeypatch, capsys, recipe):
    uninterrupted_model, uninterrupted_history = fit(data, tmp_path / "uninterrupted", **recipe)
    fit_until_interrupted(data, tmp_path / "resumed", monkeypatch, after_epoch=2, **recipe)
    state = json.loads((tmp_path / "resumed" / STATE_FILE).read_text())
    assert state["epoch"] == 2 and [row["epoch"] for row in state["history"]] == [1, 2]

    resumed_model, resumed_history = fit(data, tmp_path / "resumed", **recipe)
    assert "Resuming from the checkpoint" in capsys.readouterr().out
    pd.testing.assert_frame_equal(resumed_history, uninterrupted_history, check_exact=True)
    assert_same_weights(resumed_model, uninterrupted_model)


def test_augmenting_in_the_step_trains_the_model_itself_with_its_own_draws(data, tmp_path: Path):
    host_model, host_history = fit(data, tmp_path / "host", model="vgg_bn", augment=True)
    step_model, step_history = fit(data, tmp_path / "step", model="vgg_bn", augment=True, augment_on="device")
    again_model, again_history = fit(data, tmp_path / "again", model="vgg_bn", augment=True, augment_on="device")
    # The model trained is the one passed, with no augmentation around it: the file to ship holds none.
    assert type(step_model) is type(host_model)
    assert not host_history.equals(step_history), "Keras's draws are not NumPy's"
    pd.testing.assert_frame_equal(step_history, again_history, check_exact=True)
    assert_same_weights(step_model, again_model)
    plain = fit(data, tmp_path / "plain", model="vgg_bn", augment_on="device")[1]
    assert not plain.equals(step_history), "without augment, nothing is augmented in the step either"


@pytest.mark.parametrize("recipe", [{}, IN_STEP], ids=["the-model", "augmented-in-step"])
def test_training_stops_after_the_first_epoch_that_stop_when_accepts(data, tmp_path: Path, recipe):
    rows = []
    _, history = fit(
        data, tmp_path / "checkpoint", **recipe, on_epoch=rows.append, stop_when=lambda row: row["epoch"] == 2
    )
    # With augmentation in the step fit trains a wrapper: the flag must reach that model, not only the one passed.
    assert history["epoch"].tolist() == [1, 2]
    assert [row["epoch"] for row in rows] == [1, 2]
    assert json.loads((tmp_path / "checkpoint" / STATE_FILE).read_text())["epoch"] == 2, "its checkpoint is written"


def test_training_arguments_pass_every_setting_of_the_train_section():
    train = load_params(["train"])["train"] | {"weight_decay": 0, "augment": True, "augment_on": "device"}
    arguments = training_arguments(train)
    # Each key is one of train_model's and holds the section's value: a stage trains with what params.yaml says.
    assert arguments == {key: train[key] for key in arguments} | {"weight_decay": None}, "weight_decay 0: plain Adam"
    assert {"batch_size", "augment", "augment_on"} <= set(arguments)


def test_an_unknown_place_to_augment_is_refused(data, tmp_path: Path):
    with pytest.raises(ValueError, match="augment_on 'gpu'; expected one of host, device"):
        fit(data, tmp_path / "checkpoint", augment=True, augment_on="gpu")


def test_a_checkpoint_made_with_other_settings_is_not_resumed(data, tmp_path: Path, monkeypatch, capsys):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2, learning_rate=0.01)
    _, history = fit(data, tmp_path / "checkpoint")
    assert "it was made with other params or data" in capsys.readouterr().out
    _, fresh_history = fit(data, tmp_path / "fresh")
    pd.testing.assert_frame_equal(history, fresh_history, check_exact=True)


def test_an_unreadable_checkpoint_is_discarded(data, tmp_path: Path, monkeypatch, capsys):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    (weights,) = (tmp_path / "checkpoint").glob("epoch-*.weights.h5")
    weights.write_bytes(b"garbage")
    _, history = fit(data, tmp_path / "checkpoint")
    assert "it is unreadable" in capsys.readouterr().out
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_only_the_latest_and_the_best_epoch_are_kept_on_disk(data, tmp_path: Path, monkeypatch):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=3)
    assert sorted(path.name for path in (tmp_path / "checkpoint").iterdir()) == [
        "best.weights.h5",
        "epoch-0003.weights.h5",
        STATE_FILE,
    ]


@pytest.mark.parametrize(
    ("field", "value"), [("weights", None), ("epoch", None), ("history", None), ("identity", None)]
)
@pytest.mark.parametrize("missing", [True, False], ids=["missing", "null"])
def test_a_state_with_a_missing_or_null_field_is_discarded_with_a_message(
    data, tmp_path: Path, monkeypatch, capsys, field: str, value, missing: bool
):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    state_path = tmp_path / "checkpoint" / STATE_FILE
    state = json.loads(state_path.read_text())
    if missing:
        del state[field]
    else:
        state[field] = value
    state_path.write_text(json.dumps(state))
    _, history = fit(data, tmp_path / "checkpoint")
    output = capsys.readouterr().out
    assert "it is unreadable (state.json" in output and "Starting from epoch 1" in output
    assert history["epoch"].tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda state: [state], "does not hold a mapping"),
        (lambda state: state | {"epoch": 0}, "no valid 'epoch' (got 0)"),
        (lambda state: state | {"epoch": True}, "no valid 'epoch' (got True)"),
        (lambda state: state | {"weights": ""}, "no valid 'weights'"),
        (lambda state: state | {"history": state["history"][:1]}, "one row for each of its 2 epochs"),
    ],
)
def test_a_state_that_does_not_hold_together_is_discarded_with_a_message(
    data, tmp_path: Path, monkeypatch, capsys, change, problem: str
):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    state_path = tmp_path / "checkpoint" / STATE_FILE
    state_path.write_text(json.dumps(change(json.loads(state_path.read_text()))))
    _, history = fit(data, tmp_path / "checkpoint")
    assert problem in capsys.readouterr().out
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="unknown precision 'float16'; expected one of float32, mixed_bfloat16, auto"):
        resolve_precision("float16")


def test_a_checkpoint_without_the_best_epochs_weights_is_discarded_with_a_message(data, tmp_path, monkeypatch, capsys):
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    (tmp_path / "checkpoint" / "best.weights.h5").unlink()
    _, history = fit(data, tmp_path / "checkpoint")
    assert "best.weights.h5, the best epoch's weights, is missing" in capsys.readouterr().out
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_a_checkpoint_made_by_other_code_is_not_resumed_and_names_the_file(data, tmp_path, monkeypatch, capsys):
    sources = identity.source_files()
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    edited = dict(sources, **{"fashion_mnist/training.py": "0" * 64})
    monkeypatch.setattr(identity, "source_files", lambda: edited)
    _, history = fit(data, tmp_path / "checkpoint")
    assert "it was made with other code (fashion_mnist/training.py)" in capsys.readouterr().out
    assert history["epoch"].tolist() == [1, 2, 3, 4]


def test_a_checkpoint_made_with_other_library_versions_is_not_resumed(data, tmp_path, monkeypatch, capsys):
    versions = identity.library_versions()
    fit_until_interrupted(data, tmp_path / "checkpoint", monkeypatch, after_epoch=2)
    monkeypatch.setattr(identity, "library_versions", lambda: versions | {"keras": "9.9.9"})
    fit(data, tmp_path / "checkpoint")
    assert f"it was made with keras {versions['keras']} instead of 9.9.9" in capsys.readouterr().out


def test_the_source_files_are_the_project_modules_imported(data):
    sources = identity.source_files()
    assert {"fashion_mnist/training.py", "fashion_mnist/model.py", "fashion_mnist/augmentation.py"} <= set(sources)
    assert all(name.startswith(("fashion_mnist/", "stages/")) for name in sources)


def best_row(history: pd.DataFrame, monitor: str) -> int:
    """The row of the epoch that `monitor` picks, computed here apart from fashion_mnist.history."""
    return int(history[monitor].idxmin() if monitor == "val_loss" else history[monitor].idxmax())


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
def test_early_stopping_stops_after_the_patience_and_keeps_the_best_epochs_weights(data, tmp_path: Path, monitor):
    model, history = fit(
        data, tmp_path / "checkpoint", epochs=30, monitor=monitor, early_stopping_patience=2, learning_rate=0.003
    )
    best = best_row(history, monitor)
    assert len(history) == best + 3 < 30, "stopped two epochs after the best, and before the last epoch"
    assert history["epoch"].tolist() == list(range(1, len(history) + 1)), "every epoch run is in the history"
    loss, accuracy = model.evaluate(*data[1], batch_size=16, verbose=0)
    assert accuracy == pytest.approx(history["val_accuracy"][best])
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-5)
    assert loss != pytest.approx(history["val_loss"].iloc[-1], rel=1e-5), "not the last epoch's weights"


@pytest.mark.parametrize("monitor", ["val_loss", "val_accuracy"])
@pytest.mark.parametrize("checkpoints", [True, False], ids=["on disk", "in memory, as over several processes"])
def test_without_early_stopping_the_model_still_holds_the_best_epochs_weights(
    data, tmp_path: Path, checkpoints, monitor
):
    # A quarter of the validation labels wrong: the model grows sure of its answers, right and wrong, so validation
    # loss climbs after a few epochs, while the tiny training set's accuracy does not yet top out.
    (images, labels), (validation_images, validation_labels) = data
    noisy = validation_labels.copy()
    noisy[::4] = (noisy[::4] + 1) % 10
    model, history = fit(
        ((images, labels), (validation_images, noisy)),
        tmp_path / "checkpoint" if checkpoints else None,
        epochs=6,
        monitor=monitor,
        learning_rate=0.01,
    )
    best = best_row(history, monitor)
    assert len(history) == 6 and best < 5, "the best epoch is not the last, so keeping it is tested"
    loss, _ = model.evaluate(validation_images, noisy, batch_size=16, verbose=0)
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-5)
    assert (tmp_path / "checkpoint").exists() == checkpoints


def test_a_run_killed_after_its_early_stop_resumes_to_the_same_result(data, tmp_path, monkeypatch):
    model, history = fit(data, tmp_path / "uninterrupted", epochs=30, early_stopping_patience=2, learning_rate=0.003)
    fit_until_interrupted(
        data,
        tmp_path / "resumed",
        monkeypatch,
        after_epoch=len(history),
        epochs=30,
        early_stopping_patience=2,
        learning_rate=0.003,
    )
    resumed_model, resumed_history = fit(
        data, tmp_path / "resumed", epochs=30, early_stopping_patience=2, learning_rate=0.003
    )
    pd.testing.assert_frame_equal(resumed_history, history, check_exact=True)
    assert_same_weights(resumed_model, model)


def test_an_epochs_batches_depend_on_the_seed_and_epoch_alone(data):
    (images, labels), _ = data
    batches = {
        (seed, epoch, augment): list(
            epoch_batches(images, labels, batch_size=32, seed=seed, epoch=epoch, augment=augment)
        )
        for seed, epoch, augment in [(1, 0, False), (1, 1, False), (2, 0, False), (1, 0, True)]
    }
    again = list(epoch_batches(images, labels, batch_size=32, seed=1, epoch=0, augment=True))
    for (image_batch, label_batch), (same_images, same_labels) in zip(batches[1, 0, True], again, strict=True):
        np.testing.assert_array_equal(image_batch, same_images)
        np.testing.assert_array_equal(label_batch, same_labels)
    labels_of = {key: np.concatenate([batch[1] for batch in value]) for key, value in batches.items()}
    assert sorted(labels_of[1, 0, False].tolist()) == sorted(labels.tolist()), "each image once per epoch"
    assert not np.array_equal(labels_of[1, 0, False], labels_of[1, 1, False]), "another epoch, another order"
    assert not np.array_equal(labels_of[1, 0, False], labels_of[2, 0, False]), "another seed, another order"
    np.testing.assert_array_equal(labels_of[1, 0, False], labels_of[1, 0, True])
    augmented = np.concatenate([batch[0] for batch in batches[1, 0, True]])
    plain = np.concatenate([batch[0] for batch in batches[1, 0, False]])
    assert augmented.shape == plain.shape and augmented.dtype == plain.dtype
    assert not np.array_equal(augmented, plain), "augmentation changes the images"


def test_the_cosine_schedule_warms_up_for_one_epoch_then_decays_to_zero():
    schedule = learning_rate_schedule(0.01, schedule="cosine", steps_per_epoch=10, epochs=5)
    assert float(schedule(0)) == pytest.approx(0.0)
    assert float(schedule(10)) == pytest.approx(0.01)
    assert 0 < float(schedule(30)) < 0.01
    assert float(schedule(50)) == pytest.approx(0.0, abs=1e-9)
    assert learning_rate_schedule(0.01, schedule="constant", steps_per_epoch=10, epochs=5) == 0.01
    assert set(SCHEDULES) == {"constant", "cosine"}
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        learning_rate_schedule(0.01, schedule="step", steps_per_epoch=10, epochs=5)


@pytest.mark.parametrize(("native", "expected"), [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_is_bfloat16_only_where_it_runs_natively(monkeypatch, native: bool, expected: str):
    monkeypatch.setattr(backend, "native_bfloat16", lambda: native)
    assert resolve_precision("auto") == expected
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    assert set(PRECISIONS) == {"float32", "mixed_bfloat16", "auto"}


def test_bfloat16_training_computes_in_bfloat16_with_a_float32_output(data, tmp_path: Path):
    assert set_precision("mixed_bfloat16") == "mixed_bfloat16"
    model, history = fit(data, tmp_path / "checkpoint", epochs=2)
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model.layers[-1].compute_dtype == "float32"
    assert model.predict(data[1][0][:2], verbose=0).dtype == np.float32
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
