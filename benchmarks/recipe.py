"""Time to the blog's accuracy, and what each trick of the fast recipe bought, measured in one run.

    python -m benchmarks.recipe            # the real data: about 12 minutes on 2 cores
    python -m benchmarks.recipe --quick    # tiny data, to check that it all runs (writes under reports/quick/)
    python -m benchmarks.recipe --draw     # redraw the figure from the report, training nothing
    python -m benchmarks.recipe --seeds 43 44   # add runs of the last two steps with these seeds to the report
    python -m benchmarks.recipe --flip          # add the recipe with flip test-time augmentation, seed 42
    python -m benchmarks.recipe --flip 43 44    # the same with seeds 42, 43 and 44

First, the seconds each of three trainings takes to first reach 0.92 validation accuracy, each stopped there
or at its cap: the blog's loop, the blog model in the train stage with params.yaml's settings, and the
`fast` recipe of recipes.yaml. All three train on the same 80% of the training images and validate on
the same stratified 20%, the train stage's. Then the recipe's ladder: the train stage's path with the recipe's model,
precision and epochs, adding one trick at a time, each run to its end. Seconds are training time,
validation included, from the start of training. Where the last two steps' validation accuracies differ by
less than 0.2 points, one seed cannot tell them apart: `--seeds` reruns both with other seeds (the
training's own: initialisation, order and dropout; the validation images stay the stage's), and the
report gives each step's accuracies over all its seeds and their spread. Run it from the repository root; it writes
reports/recipe.json (or --output) and draws docs/time_to_accuracy.png from it; in quick mode both go to reports/quick/.
"""

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from benchmarks.machine import machine
from benchmarks.outputs import add_report_arguments, output_path
from benchmarks.throughput import SEED, EpochTimes, blog_loop, stage_loop
from fashion_mnist import paths
from fashion_mnist.dataset import load_split
from fashion_mnist.files import write_json
from fashion_mnist.params import load_params
from fashion_mnist.recipes import apply_recipe, load_recipes
from fashion_mnist.training import training_arguments

TARGET = 0.92
# The most epochs the blog's loop and the stage's default get to reach TARGET: three times what the stage's
# committed run needed.
CAP_EPOCHS = 20
FIGURE = Path("docs/time_to_accuracy.png")


def quick_data() -> tuple:
    """600 tiny synthetic images (the tests' own), for a quick run that needs no prepared data."""
    from tests.synthetic import balanced_labels, make_images

    labels = balanced_labels(60, seed=0)
    return make_images(labels, seed=1), labels


def train_with(
    images: np.ndarray,
    labels: np.ndarray,
    variant: str,
    settings: dict,
    *,
    epochs: int,
    target: float | None = None,
    seed: int = SEED,
    test_time_augmentation: str = "none",
) -> EpochTimes:
    """The train stage's path with `settings`, a `train` params section: its precision, batch and training; and
    `test_time_augmentation`, model.test_time_augmentation."""
    print(f"{variant}:", flush=True)
    return stage_loop(
        images,
        labels,
        variant=variant,
        precision=settings["precision"],
        epochs=epochs,
        recipe=training_arguments(settings),
        target=target,
        seed=seed,
        test_time_augmentation=test_time_augmentation,
    )


def ladder_steps(default: dict, recipe: dict) -> list[tuple[str, dict]]:
    """The recipe built up from the stage's default, one trick per step; the last step is the recipe itself."""
    start = default | {"precision": recipe["precision"], "epochs": recipe["epochs"]}
    steps = [(f"the stage's default params in {recipe['precision']}, {recipe['epochs']} epochs", start)]
    changes = [
        (
            f"batch {recipe['batch_size']}, learning rate {recipe['learning_rate']}, {recipe['schedule']} schedule",
            ("batch_size", "learning_rate", "schedule"),
        ),
        (f"label smoothing {recipe['label_smoothing']}", ("label_smoothing",)),
        (f"moving average of the weights, momentum {recipe['ema_momentum']}", ("ema_momentum",)),
        ("the rest of the recipe", tuple(recipe)),
    ]
    settings = start
    for name, keys in changes:
        changed = settings | {key: recipe[key] for key in keys}
        if changed != settings:
            steps.append((f"+ {name}", changed))
        settings = changed
    return steps


def run_summary(run: EpochTimes, **details: object) -> dict:
    """One run's record: when each epoch ended, its validation accuracy, the time to TARGET and the best."""
    return {
        "variant": run.variant,
        **details,
        f"seconds_to_{TARGET}": run.seconds_to(TARGET),
        "epochs_run": len(run.ended),
        "best_val_accuracy": round(max(run.val_accuracy), 4),
        "elapsed_seconds": [round(ended - run.started, 1) for ended in run.ended],
        "epoch_val_accuracy": [round(accuracy, 4) for accuracy in run.val_accuracy],
    }


def draw(report: dict) -> Figure:
    """Validation accuracy against seconds of training for the three runs to TARGET."""
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.subplots()
    for run in report["time_to_accuracy"]:
        reached = run[f"seconds_to_{TARGET}"]
        label = f"{run['variant']}: " + (f"{reached:.0f} s" if reached is not None else "not reached")
        axes.plot(run["elapsed_seconds"], run["epoch_val_accuracy"], marker="o", markersize=3, label=label)
    axes.axhline(TARGET, color="gray", linestyle="--", linewidth=1)
    axes.set_xlabel("seconds of training (validation included)")
    axes.set_ylabel("validation accuracy")
    axes.set_ylim(0.85, 0.94)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(f"Time to {TARGET} validation accuracy, {report['machine']['cpu']}", fontsize=9)
    return figure


def recipe_settings(quick: bool) -> tuple[dict, dict]:
    """The stage's default train params, and the fast recipe's (the default with the recipe applied)."""
    params = load_params(["model", "train"])
    params, recipe = params["train"], apply_recipe(params, load_recipes()["fast"])["train"]
    if quick:
        recipe["epochs"] = 2
    return params, recipe


def read_report(output: Path) -> dict:
    """The report that --seeds and --flip add to, which a run without them writes first."""
    if not output.exists():
        raise SystemExit(f"{output}: no report to add to: run the benchmark without --seeds and --flip first")
    return json.loads(output.read_text())


def add_seeds(output: Path, seeds: list[int], quick: bool) -> None:
    """Rerun the ladder's last two steps with `seeds`; record each step's accuracy over all its seeds."""
    report = read_report(output)
    params, recipe = recipe_settings(quick)
    images, labels = quick_data() if quick else load_split(paths.TRAIN_DATA)
    comparison = []
    for name, settings in ladder_steps(params, recipe)[-2:]:
        first = next(run for run in report["ladder"] if run["variant"] == name)
        accuracies = {SEED: first["best_val_accuracy"]}
        for seed in seeds:
            run = train_with(images, labels, f"{name}, seed {seed}", settings, epochs=settings["epochs"], seed=seed)
            accuracies[seed] = round(max(run.val_accuracy), 4)
        values = list(accuracies.values())
        comparison.append(
            {
                "variant": name,
                "seeds": list(accuracies),
                "best_val_accuracy": values,
                "mean": round(sum(values) / len(values), 4),
                "spread": round(max(values) - min(values), 4),
            }
        )
    report["seed_comparison"] = comparison
    output.write_text(json.dumps(report, indent=2) + "\n")
    for row in comparison:
        print(f"{row['variant']}: {row['best_val_accuracy']} mean {row['mean']} spread {row['spread']}")


def add_flip_comparison(output: Path, seeds: list[int], quick: bool) -> None:
    """Rerun the recipe with flip test-time augmentation, with the seed of the ladder and `seeds`; record its
    accuracies beside those of the recipe without it, from the report's seed comparison."""
    report = read_report(output)
    params, recipe = recipe_settings(quick)
    last_step = ladder_steps(params, recipe)[-1][0]
    without = next(row for row in report["seed_comparison"] if row["variant"] == last_step)
    seeds = [SEED, *seeds]
    missing = sorted(set(seeds) - set(without["seeds"]))
    if missing:
        raise SystemExit(f"{output}: no run of the recipe with seeds {missing} to compare with: run --seeds first")
    images, labels = quick_data() if quick else load_split(paths.TRAIN_DATA)
    with_flip = []
    for seed in seeds:
        run = train_with(
            images,
            labels,
            f"the recipe + flip test-time augmentation, seed {seed}",
            recipe,
            epochs=recipe["epochs"],
            seed=seed,
            test_time_augmentation="flip",
        )
        with_flip.append(round(max(run.val_accuracy), 4))
    plain = [without["best_val_accuracy"][without["seeds"].index(seed)] for seed in seeds]
    report["flip_comparison"] = {
        "seeds": seeds,
        "without_flip": plain,
        "with_flip": with_flip,
        "mean_without_flip": round(sum(plain) / len(plain), 4),
        "mean_with_flip": round(sum(with_flip) / len(with_flip), 4),
        "spread_with_flip": round(max(with_flip) - min(with_flip), 4),
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["flip_comparison"]))


def main() -> None:
    """Run the measurements, write the report and draw its figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_report_arguments(parser, report="reports/recipe.json", figure=FIGURE, quick="tiny data, few epochs")
    parser.add_argument("--seeds", type=int, nargs="+", help="add the last two steps run with these seeds")
    parser.add_argument(
        "--flip",
        type=int,
        nargs="*",
        metavar="SEED",
        help="add the recipe with flip test-time augmentation, with the ladder's seed and these",
    )
    arguments = parser.parse_args()
    output = output_path(arguments.output, paths.REPORTS_DIR / "recipe.json", arguments.quick)
    figure = output_path(arguments.figure, FIGURE, arguments.quick)
    if arguments.draw:
        draw(json.loads(output.read_text())).savefig(figure, dpi=110)
        return
    if arguments.seeds:
        add_seeds(output, arguments.seeds, arguments.quick)
        return
    if arguments.flip is not None:
        add_flip_comparison(output, arguments.flip, arguments.quick)
        return

    params, recipe = recipe_settings(arguments.quick)
    images, labels = quick_data() if arguments.quick else load_split(paths.TRAIN_DATA)
    cap = 2 if arguments.quick else CAP_EPOCHS

    print(f"time to {TARGET}: the blog's loop", flush=True)
    blog = blog_loop(images, labels, epochs=cap, target=TARGET, stage_validation=True)
    default = train_with(
        images, labels, f"blog model in the train stage ({params['precision']})", params, epochs=cap, target=TARGET
    )
    ladder = []
    for name, settings in ladder_steps(params, recipe):
        run = train_with(images, labels, name, settings, epochs=settings["epochs"])
        ladder.append(run_summary(run, epochs=settings["epochs"]))
    # The recipe's own run is the ladder's last step, whose time to TARGET stopping there would not change.
    fast = ladder[-1] | {"variant": f"fast recipe ({recipe['precision']})", "cap_epochs": recipe["epochs"]}
    to_accuracy = [run_summary(blog, cap_epochs=cap), run_summary(default, cap_epochs=cap), fast]
    blog_seconds = to_accuracy[0][f"seconds_to_{TARGET}"]
    fast_seconds = to_accuracy[2][f"seconds_to_{TARGET}"]
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "quick": arguments.quick,
        "machine": machine(),
        "target_val_accuracy": TARGET,
        "recipe": load_recipes()["fast"],
        "time_to_accuracy": to_accuracy,
        "speedup_over_blog_loop": round(blog_seconds / fast_seconds, 2) if blog_seconds and fast_seconds else None,
        "ladder": ladder,
    }
    write_json(output, report)
    figure.parent.mkdir(parents=True, exist_ok=True)
    draw(report).savefig(figure, dpi=110)
    print(json.dumps({"speedup_over_blog_loop": report["speedup_over_blog_loop"]}))
    for row in [*to_accuracy, *ladder]:
        print(f"{row['variant']}: best {row['best_val_accuracy']}, to {TARGET}: {row[f'seconds_to_{TARGET}']} s")


if __name__ == "__main__":
    main()
