"""Wider layers for a `vgg_fast` recipe: validation accuracy and the cost of a step, against the recipe's filters.

    python -m benchmarks.width accurate                            # filters 32/64/160/384
    python -m benchmarks.width accurate --filters 48/96/192/384
    python -m benchmarks.width accurate --quick                    # tiny data, 2 epochs: checks that it all runs

The `accurate` recipe's final-train leaves minutes within the goal's 15, which wider layers could spend. This trains
the recipe with `vgg_fast`'s filters at 28x28, 14x14, 7x7 and 3x3 set to --filters, through the train stage's path:
the recipe's params, validation on the stage's 20%, the test set unread. Then it times a training step of the
recipe's model and of the wider one, one after the other, the fastest of ROUNDS rounds (benchmarks.precision), and
estimates final-train's seconds for the wider model as the recipe's committed final-train time scaled by the ratio of
the two. The validation accuracy it compares with is the recipe's committed run's (the same images and seed).
Writes reports/recipes/<recipe>/width.json.
"""

import argparse
import subprocess
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import keras
import numpy as np

from benchmarks.machine import machine
from benchmarks.outputs import output_path, read_report
from benchmarks.precision import ROUNDS, STEPS, seconds_per_step
from benchmarks.recipe import quick_data
from benchmarks.trial import RECIPE_RUNS, points
from fashion_mnist import paths
from fashion_mnist.backend import make_deterministic, set_precision
from fashion_mnist.dataset import load_split, validation_split
from fashion_mnist.errors import ParamsError, PipelineError
from fashion_mnist.files import write_json
from fashion_mnist.history import summarize_history
from fashion_mnist.model import VGG_FAST_FILTERS, FlipAveraged, build_vgg_fast_model
from fashion_mnist.params import load_params
from fashion_mnist.recipes import apply_recipe, recipe_named
from fashion_mnist.training import train_model, training_arguments

WIDER = (32, 64, 160, 384)


def parse_filters(text: str) -> tuple[int, int, int, int]:
    """--filters as four positive numbers of filters, for 28x28, 14x14, 7x7 and 3x3."""
    parts = text.split("/")
    if len(parts) != 4 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ParamsError(f"--filters {text!r}: expected four positive whole numbers joined by /, as in 32/64/160/384")
    return tuple(int(part) for part in parts)


def vgg_fast_with(filters: tuple[int, int, int, int], test_time_augmentation: str) -> keras.Model:
    """`vgg_fast` with `filters`, wrapped for flip averaging as build_model would wrap it."""
    classifier = build_vgg_fast_model(filters=filters)
    return FlipAveraged(classifier) if test_time_augmentation == "flip" else classifier


def validated_run(images: np.ndarray, labels: np.ndarray, params: dict, filters: tuple[int, int, int, int]) -> dict:
    """The train stage's training of the recipe with `filters`: each epoch's validation accuracy and its best."""
    train, seed = params["train"], params["base"]["seed"]
    make_deterministic(seed)
    set_precision(train["precision"])
    (x_train, y_train), validation = validation_split(images, labels, fraction=train["validation_split"], seed=seed)
    model = vgg_fast_with(filters, params["model"]["test_time_augmentation"])
    started, ends = time.perf_counter(), []
    history = train_model(
        model,
        images=x_train,
        labels=y_train,
        validation_data=validation,
        epochs=train["epochs"],
        **training_arguments(train),
        monitor=train["monitor"],
        seed=seed,
        checkpoint_dir=None,
        on_epoch=lambda row: ends.append(round(time.perf_counter() - started, 1)),
    )
    best = summarize_history(history, train["monitor"])
    return {
        "parameters": model.count_params(),
        "epoch_val_accuracy": [round(value, 4) for value in history["val_accuracy"]],
        "best_epoch": best["best_epoch"],
        "best_val_accuracy": round(best["val_accuracy"], 4),
        "epoch_seconds": ends,
    }


def timed_steps(images: np.ndarray, labels: np.ndarray, params: dict, widths: dict, steps: int, rounds: int) -> dict:
    """Seconds per training step of each model in `widths` (name: filters), round after round, the fastest kept."""
    train = params["train"]
    images, labels = images[: steps * train["batch_size"]], labels[: steps * train["batch_size"]]
    seconds = {name: [] for name in widths}
    # Every model once per round: a slow spell of a shared machine falls on one round, not on one model's all.
    for _ in range(rounds):
        for name, filters in widths.items():
            build = partial(vgg_fast_with, filters, params["model"]["test_time_augmentation"])
            seconds[name].append(
                seconds_per_step(images, labels, params, train["precision"], steps, params["base"]["seed"], build)
            )
    return {
        name: {"fastest": round(min(values), 4), "rounds": [round(value, 4) for value in values]}
        for name, values in seconds.items()
    }


def run(recipe: str, filters: tuple[int, int, int, int], quick: bool) -> dict:
    """The report: the wider model's validated run, both models' steps, and the recipe's committed run beside them."""
    params = apply_recipe(load_params(["base", "model", "train"]), recipe_named(recipe))
    if params["model"]["name"] != "vgg_fast":
        raise ParamsError(f"recipe {recipe!r} trains {params['model']['name']}; this benchmark widens vgg_fast")
    if quick:
        params["train"]["epochs"] = 2
        images, labels = quick_data()
    else:
        images, labels = load_split(paths.TRAIN_DATA)
    steps, rounds = (2, 1) if quick else (STEPS, ROUNDS)
    missing = "no committed run of the recipe to compare with"
    recipe_train = read_report(RECIPE_RUNS / recipe / "train/metrics.json", missing)
    recipe_final_seconds = read_report(RECIPE_RUNS / recipe / "final-train/timing.json", missing)["train_seconds"]
    wider = validated_run(images, labels, params, filters)
    step = timed_steps(images, labels, params, {"recipe": VGG_FAST_FILTERS, "wider": filters}, steps, rounds)
    ratio = step["wider"]["fastest"] / step["recipe"]["fastest"]
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "quick": quick,
        "machine": machine(),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "recipe": recipe,
        "seed": params["base"]["seed"],
        "filters": {"recipe": list(VGG_FAST_FILTERS), "wider": list(filters)},
        "wider_run": wider,
        "recipe_run": {key: recipe_train[key] for key in ("best_epoch", "val_accuracy", "epochs", "parameters")},
        "difference_points": points(wider["best_val_accuracy"] - recipe_train["val_accuracy"]),
        "steps_timed": steps,
        "rounds": rounds,
        "seconds_per_step": step,
        "step_ratio": round(ratio, 3),
        "recipe_final_train_seconds": recipe_final_seconds,
        "wider_final_train_seconds_estimated": round(recipe_final_seconds * ratio, 1),
    }


def main(arguments: list[str] | None = None) -> None:
    """Train and time the wider model, write the report and print the comparison."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.width", description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a recipe of recipes.yaml that trains vgg_fast, with a committed run")
    parser.add_argument("--filters", default="/".join(map(str, WIDER)), help="default: %(default)s")
    parser.add_argument("--quick", action="store_true", help="tiny data, 2 epochs, 2 steps: checks that it all runs")
    parser.add_argument(
        "--output", type=Path, help="default: reports/recipes/<recipe>/width.json; --quick: reports/quick/"
    )
    arguments = parser.parse_args(arguments)
    output = output_path(arguments.output, RECIPE_RUNS / arguments.recipe / "width.json", arguments.quick)
    try:
        report = run(arguments.recipe, parse_filters(arguments.filters), arguments.quick)
    except PipelineError as error:
        raise SystemExit(f"benchmarks.width: {error}") from None
    write_json(output, report)
    wider, recipe = report["wider_run"], report["recipe_run"]
    print(
        f"filters {arguments.filters}: best validation accuracy {wider['best_val_accuracy']:.4f} at epoch "
        f"{wider['best_epoch']}, the recipe's {recipe['val_accuracy']:.4f}: {report['difference_points']:+.2f} points; "
        f"a step takes {report['step_ratio']}x the recipe's, final-train about "
        f"{report['wider_final_train_seconds_estimated']} s"
    )


if __name__ == "__main__":
    main()
