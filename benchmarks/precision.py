"""A recipe's training step in float32 and in bfloat16 on this CPU, side by side, and what final-train takes in each.

    python -m benchmarks.precision accurate     # writes reports/recipes/accurate/precision.json
    python -m benchmarks.precision accurate --quick    # 2 steps on tiny data, to reports/quick/precision.json

For the recipe's model and for vgg_bn, in each precision, one run after the other, it builds the model and
trains it through the train stage's `train_model` with the recipe's settings for two passes of STEPS
batches over the first training images, and times the second (the first includes tracing); it does so
for ROUNDS rounds and keeps each run's fastest. final-train repeats the validated steps, so its time is
about that count of steps times the seconds per step: the report gives that estimate for the recipe's
full schedule, to read beside the committed run's measured `train_seconds`. vgg_bn, under the same
settings, shows what the recipe's architecture saves.
"""

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np

from benchmarks.machine import machine
from benchmarks.outputs import output_path
from benchmarks.recipe import quick_data
from fashion_mnist import paths
from fashion_mnist.backend import make_deterministic, set_precision
from fashion_mnist.batches import steps_per_epoch
from fashion_mnist.dataset import load_split
from fashion_mnist.files import write_json
from fashion_mnist.model import build_model
from fashion_mnist.params import load_params
from fashion_mnist.recipes import apply_recipe, load_recipes
from fashion_mnist.training import train_model, training_arguments

STEPS = 60
ROUNDS = 3
PRECISIONS = ("float32", "mixed_bfloat16")
REFERENCE_MODEL = "vgg_bn"


def stage_epoch_steps(train: dict) -> int:
    """The train stage's steps per epoch with `train`'s split and batch size, on the default 60,000 images."""
    return steps_per_epoch(round(60_000 * (1 - train["validation_split"])), batch_size=train["batch_size"])


def seconds_per_step(
    images: np.ndarray,
    labels: np.ndarray,
    params: dict,
    precision: str,
    steps: int,
    seed: int,
    build: Callable[[], keras.Model] | None = None,
) -> float:
    """Seconds per training step of `params`'s model (or the one `build` returns) and train settings in `precision`,
    from a second pass of `steps` batches."""
    make_deterministic(seed)
    set_precision(precision)
    # Built after the precision is set: the layers take their dtype policy when they are made.
    model = build() if build else build_model(**params["model"])
    train = params["train"]
    ended = []
    train_model(
        model,
        images=images,
        labels=labels,
        validation_data=None,
        epochs=2,
        **training_arguments(train),
        seed=seed,
        checkpoint_dir=None,
        epoch_steps=steps,
        on_epoch=lambda row: ended.append(time.perf_counter()),
    )
    return (ended[1] - ended[0]) / steps


def main() -> None:
    """Time both precisions and write the report."""
    recipes = load_recipes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=sorted(recipes), help="the recipe, from recipes.yaml")
    parser.add_argument("--quick", action="store_true", help="tiny data, 2 steps: checks that it all runs")
    parser.add_argument(
        "--output", type=Path, help="default: reports/recipes/RECIPE/precision.json; --quick: reports/quick/"
    )
    arguments = parser.parse_args()
    params = apply_recipe(load_params(["base", "model", "train"]), recipes[arguments.recipe])
    train, seed = params["train"], params["base"]["seed"]
    steps, rounds = (2, 1) if arguments.quick else (STEPS, ROUNDS)
    images, labels = quick_data() if arguments.quick else load_split(paths.TRAIN_DATA)
    images, labels = images[: steps * train["batch_size"]], labels[: steps * train["batch_size"]]
    # The train stage's steps per epoch, on the training part of the default 60,000 images.
    epoch_steps = stage_epoch_steps(train)
    models = dict.fromkeys([params["model"]["name"], REFERENCE_MODEL])
    runs = [(model, precision) for model in models for precision in PRECISIONS]
    timed: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    # Round after round, every run once: a slow spell of the machine falls on one run, not on one model's all.
    for round_number in range(1, rounds + 1):
        for model, precision in runs:
            print(f"round {round_number}: {model}, {precision}: {steps} steps of {train['batch_size']}", flush=True)
            run_params = params | {"model": params["model"] | {"name": model}}
            timed[model, precision].append(seconds_per_step(images, labels, run_params, precision, steps, seed))
    rows = []
    for (model, precision), seconds in timed.items():
        # Other work on a shared machine only ever slows a step down: the fastest round is the speed without it.
        fastest = min(seconds)
        rows.append(
            {
                "model": model,
                "precision": precision,
                "seconds_per_step": round(fastest, 4),
                "rounds_seconds_per_step": [round(value, 4) for value in seconds],
                "estimated_final_train_seconds": round(fastest * epoch_steps * train["epochs"], 1),
            }
        )
        print(rows[-1], flush=True)
    report = {
        "date": datetime.now(UTC).date().isoformat(),
        "quick": arguments.quick,
        "machine": machine(),
        "recipe": arguments.recipe,
        "steps_timed": steps,
        "rounds": rounds,
        "batch_size": train["batch_size"],
        "schedule_steps": epoch_steps * train["epochs"],
        "steps": rows,
    }
    committed = paths.REPORTS_DIR / "recipes" / arguments.recipe / "precision.json"
    write_json(output_path(arguments.output, committed, arguments.quick), report)


if __name__ == "__main__":
    main()
