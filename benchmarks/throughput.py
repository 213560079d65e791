"""Epoch throughput: the blog's loop against the train stage's code path, and vgg_bn's time to a target accuracy."""

import math
import statistics
import time

import keras
import numpy as np

from fashion_mnist.backend import make_deterministic, native_bfloat16
from fashion_mnist.batches import batch_stream
from fashion_mnist.dataset import validation_split
from fashion_mnist.model import build_model
from fashion_mnist.schedule import learning_rate_schedule
from fashion_mnist.training import ReseedRandomLayers

SEED = 42
BATCH_SIZE = 128


# The vgg_bn recipe of the README's results table.
STRONG_RECIPE = {"learning_rate": 0.002, "schedule": "cosine", "weight_decay": 0.05, "augment": True, "epochs": 30}


class Variant:
    """One way of training a model, advanced one epoch at a time so that variants can take turns."""

    def __init__(
        self,
        name: str,
        *,
        policy: str,
        blog_loop: bool,
        images: np.ndarray,
        labels: np.ndarray,
        model_name: str = "blog_cnn",
        recipe: dict | None = None,
    ):
        self.name, self.blog_loop = name, blog_loop
        self.images, self.labels = images, labels
        self.recipe = recipe or {"learning_rate": 0.001, "schedule": "constant", "weight_decay": None, "augment": False}
        keras.mixed_precision.set_global_policy(policy)
        self.model = build_model(model_name)
        keras.mixed_precision.set_global_policy("float32")
        (self.x_train, self.y_train), self.validation = validation_split(images, labels, fraction=0.2, seed=SEED)
        steps_per_epoch = math.ceil(len(self.y_train) / BATCH_SIZE)
        learning_rate = learning_rate_schedule(
            self.recipe["learning_rate"],
            schedule=self.recipe["schedule"],
            steps_per_epoch=steps_per_epoch,
            epochs=self.recipe.get("epochs", 1),
        )
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate, weight_decay=self.recipe["weight_decay"]),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        self.seconds: list[float] = []
        self.val_accuracy: list[float] = []

    def epoch(self, epoch: int) -> None:
        """Train one more epoch, timing it."""
        started = time.perf_counter()
        if self.blog_loop:
            # The blog's notebook: fit on NumPy arrays, Keras holds out the last 20% and shuffles the rest.
            history = self.model.fit(
                self.images,
                self.labels,
                batch_size=BATCH_SIZE,
                validation_split=0.2,
                initial_epoch=epoch,
                epochs=epoch + 1,
                verbose=0,
            )
        else:
            # The train stage's path: batches shuffled by (seed, epoch), a stratified validation split.
            history = self.model.fit(
                batch_stream(
                    self.x_train,
                    self.y_train,
                    batch_size=BATCH_SIZE,
                    seed=SEED,
                    first_epoch=epoch,
                    epochs=epoch + 1,
                    augment=self.recipe["augment"],
                ),
                steps_per_epoch=math.ceil(len(self.y_train) / BATCH_SIZE),
                validation_data=self.validation,
                initial_epoch=epoch,
                epochs=epoch + 1,
                shuffle=False,
                callbacks=[ReseedRandomLayers(SEED)],
                verbose=0,
            )
        self.seconds.append(time.perf_counter() - started)
        self.val_accuracy.append(float(history.history["val_accuracy"][-1]))

    def time_to(self, accuracy: float) -> float | None:
        """Seconds of training until validation accuracy first reached `accuracy`; None if it never did."""
        for epoch, reached in enumerate(self.val_accuracy):
            if reached >= accuracy:
                return round(sum(self.seconds[: epoch + 1]), 1)
        return None


def epoch_throughput(images: np.ndarray, labels: np.ndarray, epochs: int) -> list[dict]:
    """The blog's loop against the train stage's code path in float32 and in bfloat16, taking turns each epoch."""
    make_deterministic(SEED)
    data = {"images": images, "labels": labels}
    variants = [
        Variant("blog loop (fit on NumPy, float32)", policy="float32", blog_loop=True, **data),
        Variant("train stage, float32", policy="float32", blog_loop=False, **data),
        Variant("train stage, mixed_bfloat16", policy="mixed_bfloat16", blog_loop=False, **data),
    ]
    for epoch in range(epochs):
        for variant in variants:
            variant.epoch(epoch)
            print(f"  epoch {epoch + 1}: {variant.name}: {variant.seconds[-1]:.1f} s", flush=True)
    # The first epoch includes tracing and warm-up; the median of the rest is the typical speed. Other
    # work on a shared machine only ever slows an epoch down, so the fastest is the speed without it.
    blog, blog_fastest = statistics.median(variants[0].seconds[1:]), min(variants[0].seconds[1:])
    return [
        {
            "variant": variant.name,
            "seconds_per_epoch": round(statistics.median(variant.seconds[1:]), 2),
            "speedup_over_blog_loop": round(blog / statistics.median(variant.seconds[1:]), 2),
            "fastest_epoch_seconds": round(min(variant.seconds[1:]), 2),
            "fastest_speedup_over_blog_loop": round(blog_fastest / min(variant.seconds[1:]), 2),
            "epoch_seconds": [round(seconds, 2) for seconds in variant.seconds],
            "epochs_timed": len(variant.seconds) - 1,
            "seconds_to_0.92_val_accuracy": variant.time_to(0.92),
            "best_val_accuracy": round(max(variant.val_accuracy), 4),
        }
        for variant in variants
    ]


def time_to_strong_accuracy(images: np.ndarray, labels: np.ndarray, target: float, max_epochs: int) -> dict:
    """Train vgg_bn with its recipe, as the train stage does, until validation accuracy reaches `target`."""
    make_deterministic(SEED)
    variant = Variant(
        "vgg_bn, train stage, auto precision",
        policy="mixed_bfloat16" if native_bfloat16() else "float32",
        blog_loop=False,
        images=images,
        labels=labels,
        model_name="vgg_bn",
        recipe=STRONG_RECIPE,
    )
    for epoch in range(max_epochs):
        variant.epoch(epoch)
        print(f"  epoch {epoch + 1}: {variant.name}: {variant.seconds[-1]:.1f} s, {variant.val_accuracy[-1]:.4f}")
        if variant.val_accuracy[-1] >= target:
            break
    return {
        "variant": variant.name,
        "target_val_accuracy": target,
        "seconds_to_target": variant.time_to(target),
        "epochs_run": len(variant.seconds),
        "seconds_per_epoch": round(statistics.median(variant.seconds[1:] or variant.seconds), 2),
        "best_val_accuracy": round(max(variant.val_accuracy), 4),
    }
