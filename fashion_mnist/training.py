"""Deterministic, resumable training with Keras's `fit`."""

import sys
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from fashion_mnist.batches import batch_stream, steps_per_epoch
from fashion_mnist.checkpoint import BEST_WEIGHTS_FILE, EpochCheckpoint, restore
from fashion_mnist.history import best_epoch_index, patience_ran_out
from fashion_mnist.identity import architecture, run_identity
from fashion_mnist.schedule import learning_rate_schedule


class ReseedRandomLayers(keras.callbacks.Callback):
    """At each epoch's start, set the state of every seed generator (Dropout's) from (seed, epoch, its place).

    Keras does not save that state with the weights, so a resumed run would otherwise draw other
    dropout masks than a run that never stopped.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        states = [variable for variable in self.model.variables if variable.path.endswith("seed_generator_state")]
        for place, state in enumerate(states):
            derived = np.random.default_rng([self.seed, epoch, place]).integers(2**31)
            state.assign(np.array([derived, 0]).astype(state.dtype))


def train_model(
    model: keras.Model,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    schedule: str = "constant",
    weight_decay: float | None = None,
    augment: bool = False,
    early_stopping_patience: int | None = None,
    seed: int,
    checkpoint_dir: Path | None,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
    on_epoch: Callable[[dict], None] | None = None,
) -> pd.DataFrame:
    """Compile and fit `model` with Adam (AdamW with `weight_decay`), resuming from `checkpoint_dir`.

    With validation data, `model` ends with the weights of its best val_accuracy epoch, and training
    stops once `early_stopping_patience` epochs brought no better one (None: never). Returns one
    history row per epoch run.

    In a data-parallel run over `devices` devices and several processes, each feeds `part` (its index,
    the count) of every batch, and none passes a `checkpoint_dir`: a checkpoint that only some of them
    could read would split them.

    `on_epoch` receives each epoch's history row as it ends; after a resume, the rows of the epochs
    already done come first, so that it sees the same rows as in a run that never stopped.
    """
    steps = steps_per_epoch(len(labels), batch_size=batch_size, devices=devices)
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate_schedule(
                learning_rate, schedule=schedule, steps_per_epoch=steps, epochs=epochs
            ),
            weight_decay=weight_decay,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    identity = run_identity(
        architecture=architecture(model),
        precision=keras.mixed_precision.global_policy().name,
        images=images,
        labels=labels,
        validation_images=validation_data[0] if validation_data else None,
        validation_labels=validation_data[1] if validation_data else None,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        schedule=schedule,
        weight_decay=weight_decay,
        augment=augment,
        early_stopping_patience=early_stopping_patience,
        seed=seed,
        processes=part[1],
        devices=devices,
    )
    first_epoch, history = restore(model, checkpoint_dir, identity) if checkpoint_dir else (0, [])
    if on_epoch:
        for row in history:
            on_epoch(row)
    checkpoint = EpochCheckpoint(checkpoint_dir, identity, history, early_stopping_patience, on_epoch)
    if first_epoch < epochs and not patience_ran_out(history, early_stopping_patience):
        model.fit(
            batch_stream(
                images,
                labels,
                batch_size=batch_size,
                seed=seed,
                first_epoch=first_epoch,
                epochs=epochs,
                augment=augment,
                part=part,
                devices=devices,
            ),
            steps_per_epoch=steps,
            validation_data=validation_data,
            initial_epoch=first_epoch,
            epochs=epochs,
            shuffle=False,  # batch_stream already shuffles, reproducibly.
            callbacks=[
                ReseedRandomLayers(seed),
                checkpoint,
            ],
            # One line per epoch when the output is a log, a live progress bar in a terminal.
            verbose=1 if sys.stdout.isatty() else 2,
        )
    if best_epoch_index(history) is not None:
        if checkpoint_dir is None:
            # Every process sets the weights kept in memory itself: a variable spread over several
            # processes changes only when all of them change it.
            model.set_weights(checkpoint.best_weights)
        else:
            model.load_weights(Path(checkpoint_dir) / BEST_WEIGHTS_FILE)
    return pd.DataFrame(history)
