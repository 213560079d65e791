"""Deterministic, resumable training with Keras's `fit`."""

import functools
import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from fashion_mnist.files import atomic_path, write_json

STATE_FILE = "state.json"


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def shuffled_batches(
    images: np.ndarray, labels: np.ndarray, *, batch_size: int, seed: int, first_epoch: int, epochs: int
) -> tf.data.Dataset:
    """Training batches for epochs `first_epoch` to `epochs - 1`, each epoch shuffled by (seed, epoch) alone.

    Keras's own shuffling draws from a generator that restarts with the process, so a resumed
    run would see other batches than one that never stopped. Here epoch k is always shuffled
    the same way, which makes a resumed run identical to an uninterrupted one.
    """

    def one_epoch(epoch: int) -> tf.data.Dataset:
        order = np.random.default_rng([seed, epoch]).permutation(len(labels))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    indices = functools.reduce(tf.data.Dataset.concatenate, map(one_epoch, range(first_epoch, epochs)))
    images, labels = tf.constant(images), tf.constant(labels)
    return indices.map(lambda batch: (tf.gather(images, batch), tf.gather(labels, batch))).prefetch(tf.data.AUTOTUNE)


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, save weights, optimizer state and history to resume from.

    The weights go to a new file first; `state.json`, written last and atomically, names the
    file and the epoch. A run killed at any moment leaves the previous complete state.
    """

    def __init__(self, directory: Path, fingerprint: str, history: list[dict]):
        super().__init__()
        self.directory, self.fingerprint, self.history = Path(directory), fingerprint, history

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.append(
            {"epoch": epoch + 1, **{name: float(value) for name, value in sorted((logs or {}).items())}}
        )
        weights = self.directory / f"epoch-{epoch + 1:04d}.weights.h5"
        with atomic_path(weights) as temporary:
            self.model.save_weights(temporary)
        write_json(
            self.directory / STATE_FILE,
            {"fingerprint": self.fingerprint, "epoch": epoch + 1, "weights": weights.name, "history": self.history},
        )
        for old in self.directory.glob("epoch-*.weights.h5"):
            if old != weights:
                old.unlink()


def fingerprint(**settings: object) -> str:
    """A digest of everything that determines a training run: arrays by content, the rest by value."""
    digest = hashlib.sha256()
    for name, value in sorted(settings.items()):
        digest.update(name.encode())
        digest.update(value.tobytes() if isinstance(value, np.ndarray) else json.dumps(value, sort_keys=True).encode())
    return digest.hexdigest()


def architecture(model: keras.Model) -> list:
    """The layers' types and settings, without the names Keras numbers anew for every model built."""
    return [
        [type(layer).__name__, {key: value for key, value in layer.get_config().items() if key != "name"}]
        for layer in model.layers
    ]


def restore(model: keras.Model, directory: Path, expected_fingerprint: str) -> tuple[int, list[dict]]:
    """Load the checkpoint in `directory` into `model`; return the epochs done and their history.

    A checkpoint made under other settings, or one that cannot be read, is discarded: the run
    starts fresh rather than mixing two configurations.
    """
    state_path = Path(directory) / STATE_FILE
    if not state_path.exists():
        return 0, []
    try:
        state = json.loads(state_path.read_text())
        if state["fingerprint"] != expected_fingerprint:
            print(f"Ignoring the checkpoint in {directory}: it was made with other params or data.")
            clear_checkpoint(directory)
            return 0, []
        # The optimizer's variables exist only once it is built; they must exist to be loaded.
        model.optimizer.build(model.trainable_variables)
        model.load_weights(Path(directory) / state["weights"])
    except (OSError, ValueError, KeyError) as error:
        print(f"Ignoring the unreadable checkpoint in {directory}: {error}")
        clear_checkpoint(directory)
        return 0, []
    print(f"Resuming from the checkpoint in {directory}: {state['epoch']} epochs already done.")
    return state["epoch"], state["history"]


def clear_checkpoint(directory: Path) -> None:
    """Delete the resume state in `directory`, once its run's outputs are safely written."""
    shutil.rmtree(directory, ignore_errors=True)


def train_model(
    model: keras.Model,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    checkpoint_dir: Path,
) -> pd.DataFrame:
    """Compile and fit `model` with Adam, resuming from `checkpoint_dir`; return one history row per epoch."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    run_fingerprint = fingerprint(
        architecture=architecture(model),
        images=images,
        labels=labels,
        validation_images=validation_data[0] if validation_data else None,
        validation_labels=validation_data[1] if validation_data else None,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
    )
    first_epoch, history = restore(model, checkpoint_dir, run_fingerprint)
    if first_epoch >= epochs:
        return pd.DataFrame(history)
    model.fit(
        shuffled_batches(images, labels, batch_size=batch_size, seed=seed, first_epoch=first_epoch, epochs=epochs),
        steps_per_epoch=math.ceil(len(labels) / batch_size),
        validation_data=validation_data,
        initial_epoch=first_epoch,
        epochs=epochs,
        shuffle=False,  # shuffled_batches already shuffles, reproducibly.
        callbacks=[EpochCheckpoint(checkpoint_dir, run_fingerprint, history)],
        # One line per epoch when the output is a log, a live progress bar in a terminal.
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return pd.DataFrame(history)
