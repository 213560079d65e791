"""Why batch 128 and 40 epochs? A sweep of train.batch_size with `dvc exp`, the learning rate scaled with it.

    python -m benchmarks.batch_sizes            # run the sweep: about 45 minutes on 2 cores with native bfloat16
    python -m benchmarks.batch_sizes --collect  # rebuild the report from the sweep's experiments, training nothing
    python -m benchmarks.batch_sizes --draw     # redraw the figure from the committed report, training nothing

Each batch size is one experiment of dvc.yaml, `dvc exp run --temp -n batch-<size>` with `-S` flags: params.yaml's
train section but for the batch size, the learning rate, the epochs and the precision, every epoch run and the
highest validation accuracy kept (monitor, patience), on the CPU's own instruction set for bfloat16. The learning
rate is params.yaml's, scaled by the square root of the batch size over params.yaml's (the square-root rule for Adam:
Malladi et al., "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms", 2022), so that each run takes
steps of a comparable size for its batch. `--temp` runs each experiment in a copy of the project, so the workspace
stays as it was. Every run validates on the train stage's 20% and never reads the test set.

From each experiment's commit the report takes the per-epoch accuracies (DVCLive's TSV files), the seconds at the
end of each epoch (timing.json) and the best epoch (metrics.json). Run it from the repository root, on a clean
workspace: it writes reports/batch_sizes.json (or --output) and draws docs/batch_sizes.png from it.
"""

import argparse
import io
import json
import math
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml
from matplotlib import colormaps
from matplotlib.figure import Figure

from benchmarks.machine import machine
from fashion_mnist import paths
from fashion_mnist.params import load_params
from fashion_mnist.recipes import set_param_flags

BATCH_SIZES = [32, 64, 128, 256, 512, 1024]
# Enough for every batch size's best epoch to show: the blog's 40 overfit from about epoch 11 at batch 128.
EPOCHS = 30
PRECISION = "mixed_bfloat16"
FIGURE = Path("docs/batch_sizes.png")
METRICS = ["accuracy", "val_accuracy", "val_loss"]


def scaled_learning_rate(batch_size: int, base_batch_size: int, base_learning_rate: float) -> float:
    """The learning rate for `batch_size`: the base rate times the square root of the batch size's ratio to the base."""
    return round(base_learning_rate * math.sqrt(batch_size / base_batch_size), 6)


def experiment_flags(batch_size: int, learning_rate: float, epochs: int, precision: str) -> list[str]:
    """The `-S` flags of one run of the sweep: every epoch run and the highest validation accuracy kept, so that
    each size's whole curve and best epoch show; bfloat16 on the CPU's own instruction set, where it is native."""
    return set_param_flags(
        {
            "train.batch_size": batch_size,
            "train.learning_rate": learning_rate,
            "train.epochs": epochs,
            "train.precision": precision,
            "train.monitor": "val_accuracy",
            "train.early_stopping_patience": None,
            "train.cpu_isa": "native" if precision == "mixed_bfloat16" else "avx2",
        }
    )


def experiment_name(batch_size: int) -> str:
    return f"batch-{batch_size}"


def git(*arguments: str, cwd: Path = Path()) -> str:
    return subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True, text=True).stdout


def experiment_ref(name: str, cwd: Path = Path()) -> str:
    """The git ref of experiment `name` on the current commit, as `dvc exp run` stores it: refs/exps/ab/cdef…/name."""
    baseline = git("rev-parse", "HEAD", cwd=cwd).strip()
    ref = f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"
    if not git("for-each-ref", ref, cwd=cwd).strip():
        raise SystemExit(f"no experiment {name!r} on commit {baseline[:7]}: run it first (`dvc exp show` lists them)")
    return ref


def read_experiment(ref: str, cwd: Path = Path()) -> dict:
    """One run's record, from the files of its experiment commit `ref`."""

    def read(path: Path) -> str:
        return git("show", f"{ref}:{path.as_posix()}", cwd=cwd)

    train = yaml.safe_load(read(Path("params.yaml")))["train"]
    metrics = json.loads(read(paths.TRAIN_METRICS))
    timing = json.loads(read(paths.TRAIN_TIMING))
    columns = {
        name: pd.read_csv(io.StringIO(read(paths.TRAIN_REPORTS / "plots/metrics" / f"{name}.tsv")), sep="\t")[name]
        for name in METRICS
    }
    return {
        "batch_size": train["batch_size"],
        "learning_rate": train["learning_rate"],
        "precision": train["precision"],
        "best_epoch": metrics["best_epoch"],
        "best_val_accuracy": metrics["val_accuracy"],
        "epochs_run": metrics["epochs"],
        "train_seconds": timing["train_seconds"],
        "epoch_seconds": timing["epoch_seconds"],
        **{f"epoch_{name}": [round(value, 4) for value in column] for name, column in columns.items()},
    }


def run_sweep(batch_sizes: list[int], epochs: int, precision: str) -> None:
    """Run one `dvc exp run --temp` per batch size, one after the other, so that each has the cores to itself."""
    train = load_params(["train"])["train"]
    for batch_size in batch_sizes:
        rate = scaled_learning_rate(batch_size, train["batch_size"], train["learning_rate"])
        command = ["dvc", "exp", "run", "--temp", "-n", experiment_name(batch_size)]
        command += experiment_flags(batch_size, rate, epochs, precision)
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)


def collect(batch_sizes: list[int], epochs: int) -> dict:
    """The report: the machine, the sweep's settings and each experiment's record."""
    train = load_params(["base", "train"])
    runs = []
    for batch_size in batch_sizes:
        name = experiment_name(batch_size)
        runs.append({"experiment": name, **read_experiment(experiment_ref(name))})
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "commit": git("rev-parse", "HEAD").strip(),
        "seed": train["base"]["seed"],
        "epochs": epochs,
        "base_batch_size": train["train"]["batch_size"],
        "base_learning_rate": train["train"]["learning_rate"],
        "learning_rate_rule": "base learning rate x sqrt(batch size / base batch size)",
        "runs": runs,
    }


def draw(report: dict) -> Figure:
    """Validation accuracy against epochs and against seconds for each batch size, the best epoch marked, and the
    validation loss against epochs."""
    figure = Figure(figsize=(14, 4.4), layout="constrained")
    by_epoch, by_seconds, loss = figure.subplots(1, 3)
    colours = colormaps["viridis"]
    runs = report["runs"]
    for index, run in enumerate(runs):
        colour = colours(index / max(len(runs) - 1, 1))
        accuracy = run["epoch_val_accuracy"]
        epochs = range(1, len(accuracy) + 1)
        best = run["best_epoch"] - 1
        label = f"batch {run['batch_size']}, lr {run['learning_rate']:g}: best {accuracy[best]:.4f} at epoch {best + 1}"
        by_epoch.plot(epochs, accuracy, color=colour, linewidth=1.2, label=label)
        by_epoch.plot(best + 1, accuracy[best], marker="*", markersize=11, color=colour)
        by_seconds.plot(run["epoch_seconds"], accuracy, color=colour, linewidth=1.2)
        by_seconds.plot(run["epoch_seconds"][best], accuracy[best], marker="*", markersize=11, color=colour)
        loss.plot(epochs, run["epoch_val_loss"], color=colour, linewidth=1.2)
        loss.plot(best + 1, run["epoch_val_loss"][best], marker="*", markersize=11, color=colour)
    by_epoch.set_xlabel("epoch")
    by_epoch.set_ylabel("validation accuracy")
    by_seconds.set_xlabel("seconds of training (validation included)")
    loss.set_xlabel("epoch")
    loss.set_ylabel("validation loss")
    for axes in (by_epoch, by_seconds):
        axes.set_ylim(0.86, 0.94)
    for axes in (by_epoch, by_seconds, loss):
        axes.grid(alpha=0.3)
    by_epoch.legend(loc="lower right", fontsize=7)
    figure.suptitle(
        f"The blog model by batch size ({runs[0]['precision']}, seed {report['seed']}; the star is the best epoch), "
        f"{report['machine']['cpu']}, {report['machine']['cores']} cores",
        fontsize=9,
    )
    return figure


def main() -> None:
    """Run the sweep (unless --collect or --draw), write the report and draw its figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=BATCH_SIZES)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--precision", default=PRECISION)
    parser.add_argument("--output", type=Path, default=paths.REPORTS_DIR / "batch_sizes.json")
    parser.add_argument("--figure", type=Path, default=FIGURE)
    parser.add_argument("--collect", action="store_true", help="only rebuild the report from the experiments")
    parser.add_argument("--draw", action="store_true", help="only redraw the figure from the report")
    arguments = parser.parse_args()
    if not arguments.draw:
        if not arguments.collect:
            run_sweep(arguments.batch_sizes, arguments.epochs, arguments.precision)
        report = collect(arguments.batch_sizes, arguments.epochs)
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(report, indent=2) + "\n")
        for run in report["runs"]:
            print(
                f"batch {run['batch_size']}: best {run['best_val_accuracy']:.4f} at epoch {run['best_epoch']}, "
                f"{run['epoch_seconds'][run['best_epoch'] - 1]:.0f} s of {run['train_seconds']:.0f} s"
            )
    report = json.loads(arguments.output.read_text())
    arguments.figure.parent.mkdir(parents=True, exist_ok=True)
    draw(report).savefig(arguments.figure, dpi=110)


if __name__ == "__main__":
    main()
