"""Batch-norm statistics, moving or recomputed: each epoch's validation accuracy both ways, in the same runs.

    python -m benchmarks.batch_norm accurate                 # the recipe for 8 epochs, with and without EMA 0.998
    python -m benchmarks.batch_norm accurate --epochs 24 --ema-momentum 0.999
    python -m benchmarks.batch_norm accurate --quick         # tiny data, 2 epochs: checks that it all runs
    python -m benchmarks.batch_norm accurate --draw          # redraw the figure from the report, training nothing

Two runs of the train stage's path with the recipe's params: as the recipe is, and with the weights' moving average
(train.ema_momentum). Training never reads the batch-norm layers' moving statistics, so one run shows both choices of
train.batch_norm_statistics: after each epoch the validation images are scored with the statistics the model holds,
Keras's running averages (`moving`), then with statistics recomputed for the weights as they are, the averaged ones
under EMA (`recomputed`, fashion_mnist.training.recompute_batch_norm_statistics, on the images the stage uses), and
the running averages are put back before training goes on. The test set is not read. Writes
reports/recipes/<recipe>/batch_norm.json and draws docs/batch_norm.png from it.
"""

import argparse
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from benchmarks.machine import machine
from benchmarks.outputs import add_report_arguments, output_path, report_to_draw
from benchmarks.recipe import quick_data
from fashion_mnist import paths
from fashion_mnist.backend import make_deterministic, set_precision
from fashion_mnist.dataset import load_split, validation_split
from fashion_mnist.errors import ParamsError, PipelineError
from fashion_mnist.evaluation import evaluate_model
from fashion_mnist.files import write_json
from fashion_mnist.model import build_model
from fashion_mnist.params import load_params
from fashion_mnist.recipes import apply_recipe, check_setting, recipe_named
from fashion_mnist.training import (
    batch_norm_layers,
    recompute_batch_norm_statistics,
    statistics_images,
    train_model,
    training_arguments,
)

FIGURE = Path("docs/batch_norm.png")


def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    """Validation accuracy, through the same predictions as the test set's score (flip averaging included)."""
    return round(evaluate_model(model, images=images, labels=labels)[0]["test_accuracy"], 4)


def scored_both_ways(images, labels, params: dict, label: str) -> dict:
    """One run of the train stage's path; each epoch's validation accuracy with moving and recomputed statistics."""
    train, seed = params["train"], params["base"]["seed"]
    if train["batch_norm_statistics"] != "moving":
        raise ParamsError(f"{label}: train.batch_norm_statistics must be moving here; this run scores both choices")
    make_deterministic(seed)
    set_precision(train["precision"])
    (x_train, y_train), (x_validation, y_validation) = validation_split(
        images, labels, fraction=train["validation_split"], seed=seed
    )
    model = build_model(**params["model"])
    layers = batch_norm_layers(model)
    if not layers:
        raise ParamsError(f"{label}: model.name {params['model']['name']} has no batch normalization to compare")
    sample = statistics_images(x_train, seed)
    epochs = []

    def score(row: dict) -> None:
        moving = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
        scores = {"epoch": row["epoch"], "moving": accuracy(model, x_validation, y_validation)}
        recompute_batch_norm_statistics(model, sample)
        scores["recomputed"] = accuracy(model, x_validation, y_validation)
        for layer, (mean, variance) in zip(layers, moving, strict=True):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
        epochs.append(scores)
        print(f"  epoch {row['epoch']}: {scores['moving']} moving, {scores['recomputed']} recomputed", flush=True)

    print(f"{label}:", flush=True)
    train_model(
        model,
        images=x_train,
        labels=y_train,
        # `score` validates, both ways; fit's own validation would be a third pass. The weights scored are the same:
        # at each epoch's end the averaged ones under EMA, swapped in before `score` runs.
        validation_data=None,
        epochs=train["epochs"],
        **training_arguments(train),
        seed=seed,
        checkpoint_dir=None,
        on_epoch=score,
    )
    best = {name: max(epoch[name] for epoch in epochs) for name in ("moving", "recomputed")}
    return {
        "label": label,
        "ema_momentum": train["ema_momentum"],
        "statistics_images": len(sample),
        "epochs": epochs,
        "best": best,
    }


def run(recipe: str, epochs: int, ema_momentum: float, quick: bool) -> dict:
    """The recipe's two runs, as the report holds them."""
    params = apply_recipe(load_params(["base", "model", "train"]), recipe_named(recipe))
    params["train"]["epochs"] = 2 if quick else epochs
    check_setting("train.ema_momentum", ema_momentum, "--ema-momentum")
    if quick:
        images, labels = quick_data()
    else:
        images, labels = load_split(paths.TRAIN_DATA)
    with_average = apply_recipe(params, {"train.ema_momentum": ema_momentum})
    own = params["train"]["ema_momentum"]
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "quick": quick,
        "machine": machine(),
        "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
        "recipe": recipe,
        "train_epochs": params["train"]["epochs"],
        "runs": [
            scored_both_ways(images, labels, params, "the recipe" + (f" (ema_momentum {own})" if own else "")),
            scored_both_ways(images, labels, with_average, f"with ema_momentum {ema_momentum}"),
        ],
    }


def draw(report: dict) -> Figure:
    """Each run's validation accuracy by epoch, with moving and with recomputed statistics."""
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.subplots()
    for run, color in zip(report["runs"], ("tab:blue", "tab:orange"), strict=False):
        epochs = [epoch["epoch"] for epoch in run["epochs"]]
        for name, style in (("moving", "--"), ("recomputed", "-")):
            axes.plot(
                epochs,
                [epoch[name] for epoch in run["epochs"]],
                style,
                color=color,
                marker="o",
                markersize=3,
                label=f"{run['label']}: {name} (best {run['best'][name]:.4f})",
            )
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy")
    axes.set_ylim(max(0.5, axes.get_ylim()[0]), None)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(
        f"Batch-norm statistics, the {report['recipe']} recipe over {report['train_epochs']} epochs, "
        f"{report['machine']['cpu']}",
        fontsize=9,
    )
    return figure


def main(arguments: list[str] | None = None) -> None:
    """Run both trainings, or redraw, and write the report and the figure."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.batch_norm", description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a recipe of recipes.yaml whose model has batch normalization")
    parser.add_argument("--epochs", type=int, default=8, help="train.epochs for both runs (default 8)")
    parser.add_argument("--ema-momentum", type=float, default=0.998, help="the second run's train.ema_momentum")
    add_report_arguments(
        parser, report="reports/recipes/<recipe>/batch_norm.json", figure=FIGURE, quick="tiny data, 2 epochs"
    )
    arguments = parser.parse_args(arguments)
    figure = output_path(arguments.figure, FIGURE, arguments.quick)
    output = output_path(
        arguments.output, paths.REPORTS_DIR / "recipes" / arguments.recipe / "batch_norm.json", arguments.quick
    )
    try:
        recipe_named(arguments.recipe)
        if arguments.epochs < 1:
            raise ParamsError(f"--epochs must be at least 1, got {arguments.epochs}")
        if arguments.draw:
            report = report_to_draw(output)
        else:
            report = run(arguments.recipe, arguments.epochs, arguments.ema_momentum, arguments.quick)
            write_json(output, report)
    except PipelineError as error:
        raise SystemExit(f"benchmarks.batch_norm: {error}") from None
    figure.parent.mkdir(parents=True, exist_ok=True)
    draw(report).savefig(figure, dpi=110)
    for run_report in report["runs"]:
        best = run_report["best"]
        print(f"{run_report['label']}: best {best['moving']} moving, {best['recomputed']} recomputed")


if __name__ == "__main__":
    main()
