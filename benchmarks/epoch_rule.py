"""Which epoch should validation keep? Three rules on the blog model's curves, across seeds and CPUs.

    python -m benchmarks.epoch_rule --seeds 43 44 --run "seed 42=HEAD"   # run each seed as a DVC experiment, collect
    python -m benchmarks.epoch_rule --run "seed 42=HEAD" --run "seed 43=seed-43" ...  # collect only, training nothing
    python -m benchmarks.epoch_rule --draw     # redraw the figure from the committed report

Each seed is one experiment of dvc.yaml, `dvc exp run --temp -n seed-<n> -S base.seed=<n>`, with params.yaml as it
stands otherwise: it validates on the train stage's 20% and never reads the test set. A run named with --run is any
git revision (a commit, or an experiment's name on the current commit) whose reports hold the train stage's
per-epoch files; its label says what it is, for example its CPU. From each, the report takes the validation curves
and the epoch that each rule keeps:

- lowest val_loss: Keras's convention, and train.monitor's default;
- highest val_accuracy: the rule before it;
- earliest within TOLERANCE_POINTS of the highest val_accuracy.

A stable rule keeps epochs close together across seeds and CPUs. Writes reports/epoch_rule.json and draws
docs/epoch_rule.png from it.
"""

import argparse
import contextlib
import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from benchmarks.batch_sizes import experiment_ref, git
from benchmarks.outputs import report_to_draw
from fashion_mnist import paths
from fashion_mnist.history import best_epoch_index

REPORT = paths.REPORTS_DIR / "epoch_rule.json"
FIGURE = Path("docs/epoch_rule.png")
# The resolution of one seed on 12,000 validation images, as the docs use it throughout.
TOLERANCE_POINTS = 0.2
RULES = ("lowest val_loss", "highest val_accuracy", f"earliest within {TOLERANCE_POINTS} points of the highest")


def kept_epochs(val_loss: list[float], val_accuracy: list[float]) -> dict[str, int]:
    """The epoch, counted from 1, that each rule keeps on these curves."""
    rows = [{"val_loss": loss, "val_accuracy": accuracy} for loss, accuracy in zip(val_loss, val_accuracy, strict=True)]
    highest = max(val_accuracy)
    within = next(index for index, accuracy in enumerate(val_accuracy) if highest - accuracy <= TOLERANCE_POINTS / 100)
    picks = [best_epoch_index(rows, "val_loss"), best_epoch_index(rows, "val_accuracy"), within]
    return {rule: pick + 1 for rule, pick in zip(RULES, picks, strict=True)}


def resolve(revision: str) -> str:
    """The commit of `revision`: an experiment's name on the current commit, or anything git resolves."""
    with contextlib.suppress(SystemExit):
        revision = experiment_ref(revision)
    return git("rev-parse", "--verify", f"{revision}^{{commit}}").strip()


def read_run(label: str, revision: str) -> dict:
    """One run's validation curves and each rule's epoch, from the train stage's files at `revision`."""
    commit = resolve(revision)

    def column(name: str) -> list[float]:
        text = git("show", f"{commit}:{(paths.TRAIN_REPORTS / 'plots/metrics' / f'{name}.tsv').as_posix()}")
        return [round(float(value), 6) for value in pd.read_csv(io.StringIO(text), sep="\t")[name]]

    val_loss, val_accuracy = column("val_loss"), column("val_accuracy")
    return {
        "label": label,
        "commit": commit,
        "epochs_run": len(val_loss),
        "kept": kept_epochs(val_loss, val_accuracy),
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
    }


def collect(runs: list[tuple[str, str]]) -> dict:
    """The report: each run's curves and kept epochs, and each rule's spread of kept epochs across the runs."""
    records = [read_run(label, revision) for label, revision in runs]
    spread = {
        rule: max(run["kept"][rule] for run in records) - min(run["kept"][rule] for run in records) for rule in RULES
    }
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "rules": list(RULES),
        "spread": spread,
        "runs": records,
    }


def draw(report: dict) -> Figure:
    """Validation loss and accuracy by epoch for each run, with the epoch each of the first two rules keeps."""
    figure = Figure(figsize=(12, 4.4), layout="constrained")
    loss, accuracy = figure.subplots(1, 2)
    for run in report["runs"]:
        epochs = range(1, run["epochs_run"] + 1)
        (line,) = loss.plot(epochs, run["val_loss"], linewidth=1.2, label=run["label"])
        accuracy.plot(epochs, run["val_accuracy"], linewidth=1.2, color=line.get_color())
        by_loss, by_accuracy = run["kept"][RULES[0]], run["kept"][RULES[1]]
        loss.plot(by_loss, run["val_loss"][by_loss - 1], marker="o", color=line.get_color())
        accuracy.plot(by_loss, run["val_accuracy"][by_loss - 1], marker="o", color=line.get_color())
        accuracy.plot(
            by_accuracy, run["val_accuracy"][by_accuracy - 1], marker="*", markersize=11, color=line.get_color()
        )
    loss.set(xlabel="epoch", ylabel="validation loss", title="Dots: the lowest val_loss")
    accuracy.set(xlabel="epoch", ylabel="validation accuracy", title="Stars: the highest val_accuracy")
    for axes in (loss, accuracy):
        axes.grid(alpha=0.3)
    loss.legend(fontsize=8)
    figure.suptitle("The blog model's validation curves, and the epoch each rule keeps", fontsize=10)
    return figure


def parse_run(text: str) -> tuple[str, str]:
    label, separator, revision = text.rpartition("=")
    if not separator or not label or not revision:
        raise argparse.ArgumentTypeError(f"expected LABEL=REVISION, got {text!r}")
    return label, revision


def main() -> None:
    """Run the seeds' experiments (if any), collect the runs into the report, and draw its figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="run seed-<n> experiments first")
    parser.add_argument("--run", type=parse_run, action="append", default=[], help="LABEL=REVISION, in order")
    parser.add_argument("--output", type=Path, default=REPORT)
    parser.add_argument("--figure", type=Path, default=FIGURE)
    parser.add_argument("--draw", action="store_true", help="only redraw the figure from the report")
    arguments = parser.parse_args()
    if not arguments.draw:
        for seed in arguments.seeds:
            command = ["dvc", "exp", "run", "--temp", "-n", f"seed-{seed}", "-S", f"base.seed={seed}"]
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True)
        runs = arguments.run + [(f"seed {seed}", f"seed-{seed}") for seed in arguments.seeds]
        if not runs:
            parser.error("name at least one --run or --seeds")
        report = collect(runs)
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(report, indent=2) + "\n")
        for run in report["runs"]:
            print(f"{run['label']}: " + ", ".join(f"{rule} {epoch}" for rule, epoch in run["kept"].items()))
    report = report_to_draw(arguments.output)
    arguments.figure.parent.mkdir(parents=True, exist_ok=True)
    draw(report).savefig(arguments.figure, dpi=110)


if __name__ == "__main__":
    main()
