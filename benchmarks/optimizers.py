"""What Adam does, shown by real runs: the blog model's first epochs under gradient descent, with momentum, and Adam.

    python -m benchmarks.optimizers            # the real data: about 10 minutes on 2 cores
    python -m benchmarks.optimizers --quick    # tiny data, to check that it runs (writes under reports/quick/)
    python -m benchmarks.optimizers --draw     # redraw the figures from the report (with --quick, the quick one)

Each run is the train stage's path (`train_model`) with params.yaml's settings but `train.optimizer` and its
Keras default learning rate, for a few epochs. It writes reports/optimizers.json (or --output), then draws
docs/optimizers.png from it, and docs/activations.png: ReLU, which the blog's hidden layers use, beside
the sigmoid and tanh it replaced, and softmax, which turns the last layer's ten numbers into probabilities.
In quick mode the report and figures go to reports/quick/.
"""

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from benchmarks.machine import machine
from benchmarks.outputs import QUICK_FOLDER, output_path
from benchmarks.recipe import quick_data, train_with
from fashion_mnist import paths
from fashion_mnist.dataset import load_split
from fashion_mnist.files import write_json
from fashion_mnist.params import load_params

# Each optimizer with Keras's default learning rate for it.
RUNS = {
    "sgd": ("gradient descent", 0.01),
    "momentum": ("gradient descent with momentum 0.9", 0.01),
    "adam": ("Adam", 0.001),
}
EPOCHS = 8
OPTIMIZERS_FIGURE = Path("docs/optimizers.png")
ACTIVATIONS_FIGURE = Path("docs/activations.png")


def measure(quick: bool) -> dict:
    """Train the blog model once per optimizer; the per-epoch losses and accuracies of each."""
    params = load_params(["base", "train"])
    train = params["train"]
    images, labels = quick_data() if quick else load_split(paths.TRAIN_DATA)
    epochs = 2 if quick else EPOCHS
    runs = []
    for optimizer, (name, learning_rate) in RUNS.items():
        settings = train | {"learning_rate": learning_rate, "optimizer": optimizer}
        times = train_with(images, labels, name, settings, epochs=epochs)
        runs.append(
            {
                "optimizer": optimizer,
                "name": name,
                "learning_rate": learning_rate,
                "epochs": epochs,
                "loss": [round(value, 4) for value in times.loss],
                "val_accuracy": [round(value, 4) for value in times.val_accuracy],
                "elapsed_seconds": [round(ended - times.started, 1) for ended in times.ended],
            }
        )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "quick": quick,
        "machine": machine(),
        "batch_size": train["batch_size"],
        "precision": train["precision"],
        "seed": params["base"]["seed"],
        "runs": runs,
    }


def draw_optimizers(report: dict) -> Figure:
    """Training loss and validation accuracy per epoch, one line per optimizer."""
    figure = Figure(figsize=(10, 3.8), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    for run in report["runs"]:
        epochs = range(1, len(run["loss"]) + 1)
        label = f"{run['name']} (learning rate {run['learning_rate']})"
        loss_axes.plot(epochs, run["loss"], marker="o", markersize=3, label=label)
        accuracy_axes.plot(epochs, run["val_accuracy"], marker="o", markersize=3, label=label)
    loss_axes.set(xlabel="epoch", ylabel="training loss", title="Training loss")
    accuracy_axes.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
    accuracy_axes.legend(fontsize=8, loc="lower right")
    figure.suptitle(f"The blog model under three optimizers, batch {report['batch_size']}, {report['precision']}")
    return figure


def draw_activations() -> Figure:
    """ReLU, sigmoid and tanh over one input; softmax turning ten example scores of a last layer into probabilities."""
    figure = Figure(figsize=(12, 3.6), layout="constrained")
    curves, scores_axes, probabilities_axes = figure.subplots(1, 3, width_ratios=[1.2, 1, 1])
    x = np.linspace(-4, 4, 401)
    curves.plot(x, np.maximum(x, 0), label="ReLU: max(0, x), the blog's hidden layers")
    curves.plot(x, 1 / (1 + np.exp(-x)), label="sigmoid: 1 / (1 + e^-x)")
    curves.plot(x, np.tanh(x), label="tanh")
    curves.set(xlabel="input x", ylabel="output", title="Activations: what a unit passes on", ylim=(-1.2, 4.2))
    curves.grid(alpha=0.3)
    curves.legend(fontsize=8, loc="upper left")
    scores = np.array([1.0, -0.5, 2.5, 0.3, 3.1, -1.0, 2.0, -2.0, 0.0, -1.5])
    probabilities = np.exp(scores) / np.exp(scores).sum()
    classes = np.arange(len(scores))
    scores_axes.bar(classes, scores, color="tab:gray")
    scores_axes.set(xlabel="class", ylabel="score", title="The last layer's ten scores", xticks=classes)
    probabilities_axes.bar(classes, probabilities, color="tab:blue")
    for place, probability in zip(classes, probabilities, strict=True):
        probabilities_axes.text(place, probability + 0.01, f"{probability:.2f}", ha="center", fontsize=7)
    probabilities_axes.set(
        xlabel="class", ylabel="probability", title="Softmax: e^score / sum of e^scores", xticks=classes
    )
    for axes in (scores_axes, probabilities_axes):
        axes.grid(alpha=0.3, axis="y")
    return figure


def main() -> None:
    """Measure (unless --draw), write the report, draw the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data, two epochs: checks that it all runs")
    parser.add_argument("--draw", action="store_true", help="only redraw the figures from the report")
    parser.add_argument("--output", type=Path, help="default: reports/optimizers.json; --quick: reports/quick/")
    parser.add_argument("--figures", type=Path, help="a folder; default: docs/; --quick: reports/quick/")
    arguments = parser.parse_args()
    output = output_path(arguments.output, paths.REPORTS_DIR / "optimizers.json", arguments.quick)
    figures = arguments.figures or (QUICK_FOLDER if arguments.quick else OPTIMIZERS_FIGURE.parent)
    if arguments.draw:
        report = json.loads(output.read_text())
    else:
        report = measure(arguments.quick)
        write_json(output, report)
    figures.mkdir(parents=True, exist_ok=True)
    draw_optimizers(report).savefig(figures / OPTIMIZERS_FIGURE.name, dpi=110)
    draw_activations().savefig(figures / ACTIVATIONS_FIGURE.name, dpi=110)
    for run in report["runs"]:
        print(f"{run['name']}: validation accuracy {run['val_accuracy'][-1]} after {run['epochs']} epochs")


if __name__ == "__main__":
    main()
