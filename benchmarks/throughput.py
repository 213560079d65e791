"""Epoch throughput: the blog's loop against the train stage's own training path, and vgg_bn's time to a target.

The train stage's path is `fashion_mnist.training.train_model` itself, on a freshly built model, with the
stage's precision, determinism, validation split and a checkpoint after every epoch; the blog's loop is
the notebook's plain `fit`, the reference. Each run ends before the next starts, and an epoch lasts from
the end of the one before (the first, from the start of training, includes tracing and warm-up and is
left out). Per run the report gives the median epoch and the fastest: other work on a shared machine
only ever slows an epoch down, and may fall on one run and not another, so the fastest epoch is the
speed without it, and the speed-ups that compare the loops are those of the fastest epochs.
"""

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import keras
import numpy as np

from fashion_mnist.backend import make_deterministic, set_precision
from fashion_mnist.dataset import validation_split
from fashion_mnist.model import build_model
from fashion_mnist.training import train_model

SEED = 42
BATCH_SIZE = 128
VALIDATION_FRACTION = 0.2
# train_model's arguments for the train stage's shipped recipe (params.yaml), and for the vgg_bn recipe of the
# docs' results table.
SHIPPED_RECIPE = {
    "batch_size": BATCH_SIZE,
    "learning_rate": 0.001,
    "schedule": "constant",
    "weight_decay": None,
    "augment": False,
}
STRONG_RECIPE = SHIPPED_RECIPE | {"learning_rate": 0.002, "schedule": "cosine", "weight_decay": 0.05, "augment": True}


@dataclass
class EpochTimes:
    """When each epoch of one training run ended, and its validation accuracy."""

    variant: str
    started: float = field(default_factory=time.perf_counter)
    ended: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)

    def record(self, row: dict) -> None:
        """Note that an epoch has just ended with the metrics of `row`, a history row of train_model."""
        self.ended.append(time.perf_counter())
        self.val_accuracy.append(float(row["val_accuracy"]))
        self.loss.append(float(row["loss"]))
        print(
            f"  epoch {len(self.ended)}: {self.variant}: {self.seconds[-1]:.1f} s, "
            f"val_accuracy {self.val_accuracy[-1]:.4f}",
            flush=True,
        )

    @property
    def seconds(self) -> list[float]:
        """Each epoch's seconds, the first counted from the start of training."""
        return [end - start for start, end in pairwise([self.started, *self.ended])]

    def seconds_to(self, accuracy: float) -> float | None:
        """Seconds of training until validation accuracy first reached `accuracy`; None if it never did."""
        for ended, reached in zip(self.ended, self.val_accuracy, strict=True):
            if reached >= accuracy:
                return round(ended - self.started, 1)
        return None


def blog_loop(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    target: float | None = None,
    stage_validation: bool = False,
) -> EpochTimes:
    """The blog notebook's training: `fit` on NumPy arrays, Keras holding out the last 20% and shuffling the rest.

    With `stage_validation`, it holds out the train stage's stratified 20% instead, so that its validation
    accuracy means what the stage's does (Keras's last 20% is a harder set); with `target`, it stops once
    val_accuracy reaches it.
    """
    make_deterministic(SEED)
    set_precision("float32")
    model = build_model("blog_cnn")
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    times = EpochTimes("blog loop (fit on NumPy, float32)")

    def on_epoch_end(epoch: int, logs: dict) -> None:
        times.record(logs)
        if target is not None and logs["val_accuracy"] >= target:
            model.stop_training = True

    if stage_validation:
        (images, labels), validation = validation_split(images, labels, fraction=VALIDATION_FRACTION, seed=SEED)
        held_out = {"validation_data": validation}
    else:
        held_out = {"validation_split": VALIDATION_FRACTION}
    model.fit(
        images,
        labels,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        **held_out,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)],
        verbose=0,
    )
    return times


def stage_loop(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    variant: str,
    precision: str,
    epochs: int,
    model_name: str = "blog_cnn",
    test_time_augmentation: str = "none",
    recipe: dict = SHIPPED_RECIPE,
    target: float | None = None,
    seed: int = SEED,
) -> EpochTimes:
    """Train as the train stage does, with `train_model` and `recipe`, its keyword arguments from a `train` params
    section (training_arguments); with `target`, stop once val_accuracy reaches it."""
    make_deterministic(seed)
    set_precision(precision)
    # The validation images are those of the stage, whatever the seed of the run.
    (x_train, y_train), validation = validation_split(images, labels, fraction=VALIDATION_FRACTION, seed=SEED)
    model = build_model(model_name, test_time_augmentation=test_time_augmentation)
    with tempfile.TemporaryDirectory(prefix="benchmark-checkpoint-") as checkpoint_dir:
        times = EpochTimes(variant)
        train_model(
            model,
            images=x_train,
            labels=y_train,
            validation_data=validation,
            epochs=epochs,
            **recipe,
            seed=seed,
            checkpoint_dir=Path(checkpoint_dir),
            on_epoch=times.record,
            stop_when=lambda row: target is not None and row["val_accuracy"] >= target,
        )
    return times


def throughput_row(run: EpochTimes, blog: EpochTimes) -> dict:
    """A run's median and fastest epoch, after the first, and their speed-ups over the blog's loop."""
    timed, blog_timed = run.seconds[1:], blog.seconds[1:]
    return {
        "variant": run.variant,
        "seconds_per_epoch": round(statistics.median(timed), 2),
        "speedup_over_blog_loop": round(statistics.median(blog_timed) / statistics.median(timed), 2),
        "fastest_epoch_seconds": round(min(timed), 2),
        "fastest_speedup_over_blog_loop": round(min(blog_timed) / min(timed), 2),
        "epoch_seconds": [round(seconds, 3) for seconds in run.seconds],
        "epoch_val_accuracy": [round(accuracy, 4) for accuracy in run.val_accuracy],
        "epochs_timed": len(timed),
        "seconds_to_0.92_val_accuracy": run.seconds_to(0.92),
        "best_val_accuracy": round(max(run.val_accuracy), 4),
    }


def epoch_throughput(images: np.ndarray, labels: np.ndarray, epochs: int) -> list[dict]:
    """The blog's loop, then the train stage's path in float32, then in mixed_bfloat16, `epochs` epochs each."""
    runs = [
        blog_loop(images, labels, epochs=epochs),
        stage_loop(images, labels, variant="train stage, float32", precision="float32", epochs=epochs),
        stage_loop(images, labels, variant="train stage, mixed_bfloat16", precision="mixed_bfloat16", epochs=epochs),
    ]
    return [throughput_row(run, blog=runs[0]) for run in runs]


def time_to_strong_accuracy(images: np.ndarray, labels: np.ndarray, target: float, max_epochs: int) -> dict:
    """Train vgg_bn with its recipe over `max_epochs`, as the train stage does, until val_accuracy reaches `target`."""
    run = stage_loop(
        images,
        labels,
        variant="vgg_bn, train stage, auto precision",
        precision="auto",
        epochs=max_epochs,
        model_name="vgg_bn",
        recipe=STRONG_RECIPE,
        target=target,
    )
    return {
        "variant": run.variant,
        "target_val_accuracy": target,
        "seconds_to_target": run.seconds_to(target),
        "max_epochs": max_epochs,
        "epochs_run": len(run.ended),
        "seconds_per_epoch": round(statistics.median(run.seconds[1:] or run.seconds), 2),
        "epoch_seconds": [round(seconds, 3) for seconds in run.seconds],
        "epoch_val_accuracy": [round(accuracy, 4) for accuracy in run.val_accuracy],
        "best_val_accuracy": round(max(run.val_accuracy), 4),
    }
