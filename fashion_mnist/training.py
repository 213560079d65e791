"""Deterministic, resumable training with Keras's `fit`."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from fashion_mnist.augmentation import AugmentInStep
from fashion_mnist.batches import batch_stream, steps_per_epoch
from fashion_mnist.checkpoint import BEST_WEIGHTS_FILE, EpochCheckpoint, restore
from fashion_mnist.history import best_epoch_index, patience_ran_out
from fashion_mnist.identity import architecture, run_identity
from fashion_mnist.params import AUGMENT_ON
from fashion_mnist.schedule import learning_rate_schedule


class SparseCrossentropyWithLabelSmoothing(keras.losses.Loss):
    """Cross-entropy against labels smoothed by `label_smoothing`: (1 - e) on the true class and e/K spread over
    all K, for integer labels (Keras smooths only one-hot ones). The model is rewarded less for certainty."""

    def __init__(self, label_smoothing: float, **kwargs):
        super().__init__(name="sparse_crossentropy_with_label_smoothing", **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, labels, probabilities):
        one_hot = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(labels, (-1,)), "int32"), probabilities.shape[-1])
        return keras.losses.categorical_crossentropy(one_hot, probabilities, label_smoothing=self.label_smoothing)


class SwapAverageWeights(keras.callbacks.SwapEMAWeights):
    """Keras's swap of the weights' moving average into the model for validation and at each epoch's end,
    told where the averages are when a run resumes: a checkpoint saved at an epoch's end holds them in the model."""

    def __init__(self, resumed: bool):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = resumed


# train.optimizer's choices: plain gradient descent, with momentum, and Adam.
OPTIMIZERS = {
    "sgd": lambda **settings: keras.optimizers.SGD(**settings),
    "momentum": lambda **settings: keras.optimizers.SGD(momentum=0.9, **settings),
    "adam": lambda **settings: keras.optimizers.Adam(**settings),
}


def build_optimizer(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    *,
    weight_decay: float | None,
    ema_momentum: float | None,
    name: str = "adam",
) -> keras.optimizers.Optimizer:
    """The optimizer `name` (Adam by default); with `weight_decay`, decoupled weight decay (AdamW for Adam), which
    leaves biases and batch normalization's scales and offsets alone (the 1-D variables: shrinking them
    regularizes nothing); with `ema_momentum`, it also keeps an exponential moving average of the weights."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    optimizer = OPTIMIZERS[name](
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        use_ema=ema_momentum is not None,
        ema_momentum=ema_momentum if ema_momentum is not None else 0.99,
    )
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if len(v.shape) <= 1])
    return optimizer


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


def training_arguments(train: dict[str, Any]) -> dict[str, Any]:
    """train_model's keyword arguments that a `train` params section sets, whichever run passes them: both training
    stages, and the benchmarks that follow their path. Epochs and early stopping are each caller's own."""
    return {
        "batch_size": train["batch_size"],
        "learning_rate": train["learning_rate"],
        "optimizer": train["optimizer"],
        "schedule": train["schedule"],
        "weight_decay": train["weight_decay"] or None,
        "label_smoothing": train["label_smoothing"],
        "ema_momentum": train["ema_momentum"],
        "augment": train["augment"],
        "augment_on": train["augment_on"],
    }


def train_model(
    model: keras.Model,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    optimizer: str = "adam",
    schedule: str = "constant",
    weight_decay: float | None = None,
    label_smoothing: float = 0.0,
    ema_momentum: float | None = None,
    augment: bool = False,
    augment_on: str = "host",
    monitor: str = "val_loss",
    early_stopping_patience: int | None = None,
    seed: int,
    checkpoint_dir: Path | None,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
    epoch_steps: int | None = None,
    schedule_epochs: int | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    stop_when: Callable[[dict], bool] | None = None,
    validation_batch_size: int | None = None,
) -> pd.DataFrame:
    """Compile and fit `model` with `optimizer` (Adam; AdamW with `weight_decay`), resuming from `checkpoint_dir`.

    An epoch is one pass over `images` unless `epoch_steps` sets its steps, and the learning-rate
    schedule spans `schedule_epochs` such epochs (default `epochs`): final-train repeats the steps and the
    schedule that validation chose, step for step, on more images. With `ema_momentum`, validation scores
    the weights' moving average, and the model ends with it.

    `augment` shifts and flips on the host, in NumPy, as batches are drawn, or, with `augment_on` "device", inside
    each training step (AugmentInStep), where the model runs.

    With validation data, `model` ends with the weights of its best epoch by `monitor` (lowest val_loss, or highest
    val_accuracy), and training stops once `early_stopping_patience` epochs brought no better one (None: never).
    Returns one history row per epoch run.

    In a data-parallel run over `devices` devices and several processes, each feeds `part` (its index,
    the count) of every batch, and none passes a `checkpoint_dir`: a checkpoint that only some of them
    could read would split them.

    `validation_batch_size` sets the images per validation batch (Keras's default: 32); on a GPU a larger one spares
    most of validation's calls. Training does not depend on it, but validation's scores can move a little: batches of
    another size may compute in another order (in bfloat16 on a GPU, a prediction or two of 12,000 changed).

    `on_epoch` receives each epoch's history row as it ends; after a resume, the rows of the epochs
    already done come first, so that it sees the same rows as in a run that never stopped. Training stops after
    the first epoch whose row makes `stop_when` true, once that epoch's checkpoint is written.
    """
    if augment_on not in AUGMENT_ON:
        raise ValueError(f"unknown augment_on {augment_on!r}; expected one of {', '.join(AUGMENT_ON)}")
    steps = epoch_steps or steps_per_epoch(len(labels), batch_size=batch_size, devices=devices)
    schedule_epochs = schedule_epochs or epochs
    in_step = augment_on == "device" and augment
    # What fit trains: `model` itself, or a wrapper that augments inside the step and shares its weights.
    trained = AugmentInStep(model, seed=seed) if in_step else model
    trained.compile(
        optimizer=build_optimizer(
            model,
            learning_rate_schedule(learning_rate, schedule=schedule, steps_per_epoch=steps, epochs=schedule_epochs),
            weight_decay=weight_decay,
            ema_momentum=ema_momentum,
            name=optimizer,
        ),
        # Without smoothing, Keras's own loss: the blog's, bit for bit.
        loss=(
            SparseCrossentropyWithLabelSmoothing(label_smoothing)
            if label_smoothing
            else "sparse_categorical_crossentropy"
        ),
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
        optimizer=optimizer,
        schedule=schedule,
        weight_decay=weight_decay,
        label_smoothing=label_smoothing,
        ema_momentum=ema_momentum,
        augment=augment,
        augment_on=augment_on,
        monitor=monitor,
        early_stopping_patience=early_stopping_patience,
        seed=seed,
        processes=part[1],
        devices=devices,
        steps_per_epoch=steps,
        schedule_epochs=schedule_epochs,
    )
    first_epoch, history = restore(trained, checkpoint_dir, identity) if checkpoint_dir else (0, [])
    if on_epoch:
        for row in history:
            on_epoch(row)
    checkpoint = EpochCheckpoint(
        checkpoint_dir, identity, history, monitor, early_stopping_patience, on_epoch, stop_when
    )
    if first_epoch < epochs and not patience_ran_out(history, early_stopping_patience, monitor):
        trained.fit(
            batch_stream(
                images,
                labels,
                batch_size=batch_size,
                seed=seed,
                first_step=first_epoch * steps,
                steps=epochs * steps,
                augment=augment and not in_step,
                part=part,
                devices=devices,
            ),
            steps_per_epoch=steps,
            validation_data=validation_data,
            validation_batch_size=validation_batch_size,
            initial_epoch=first_epoch,
            epochs=epochs,
            shuffle=False,  # batch_stream already shuffles, reproducibly.
            callbacks=[
                ReseedRandomLayers(seed),
                # Before the checkpoint, which then saves the averages in the model, the raw weights in the optimizer.
                *([SwapAverageWeights(resumed=first_epoch > 0)] if ema_momentum is not None else []),
                checkpoint,
            ],
            # One line per epoch when the output is a log, a live progress bar in a terminal.
            verbose=1 if sys.stdout.isatty() else 2,
        )
    if best_epoch_index(history, monitor) is not None:
        if checkpoint_dir is None:
            # Every process sets the weights kept in memory itself: a variable spread over several
            # processes changes only when all of them change it.
            trained.set_weights(checkpoint.best_weights)
        else:
            trained.load_weights(Path(checkpoint_dir) / BEST_WEIGHTS_FILE)
    return pd.DataFrame(history)
