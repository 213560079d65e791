"""A recipe's whole run on a GPU, in one process: validation chooses, final training is timed, the test set scores once.

    KERAS_BACKEND=jax python -m benchmarks.gpu gpu --try train.label_smoothing=0.2   # on the GPU machine
    KERAS_BACKEND=jax python -m benchmarks.gpu gpu --try "train.ema_momentum=0.999 train.epochs=26"   # one candidate
    KERAS_BACKEND=jax python -m benchmarks.gpu gpu --quick                            # tiny data, to check that it runs
    python -m benchmarks.gpu gpu --draw                                                # redraw the figure only

A GPU machine may have no DVC, so this runs the stages' own functions in their order, on the prepared data:
- the train stage's path (train_model, validating on the stage's 20%) for the recipe of recipes.yaml and for the
  recipe with each `--try` change. Only a candidate whose final training should take at most the goal's 30 s can be
  chosen, by the pace of its validation run (predicted_final_seconds); where the two best of those differ by less
  than 0.2 points of validation accuracy, both run again with the `--seeds`, and their means decide;
- final-train's path for the chosen one: every training image, for the steps up to its best epoch, on its schedule;
- final-evaluate's score of that model on the test set, once.

The report (reports/recipes/<recipe>/gpu.json, or --output; under reports/quick/ in quick mode) holds the machine,
every validation run with its epochs' seconds, the choice, final training's seconds, and the test score.
The figure (docs/gpu_recipe.png; under reports/quick/ in quick mode) draws each candidate's validation accuracy by
epoch, and the goal. `--budget` bounds the seconds spent on validation: extra seeds that would overrun it are
skipped, and the report says so.
"""

import argparse
import statistics
import subprocess
import time
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from matplotlib.figure import Figure

from benchmarks.machine import machine
from benchmarks.outputs import add_report_arguments, output_path, report_to_draw
from benchmarks.trial import parse_changes, points
from fashion_mnist import paths
from fashion_mnist.backend import cache_compilations, make_deterministic, set_precision
from fashion_mnist.batches import steps_per_epoch
from fashion_mnist.dataset import load_split, validation_split
from fashion_mnist.errors import PipelineError
from fashion_mnist.evaluation import evaluate_model
from fashion_mnist.files import write_json
from fashion_mnist.history import summarize_history
from fashion_mnist.model import build_model
from fashion_mnist.params import load_params
from fashion_mnist.recipes import apply_recipe, recipe_named
from fashion_mnist.stage import TrainingClock
from fashion_mnist.training import train_model, training_arguments

# The goal of the fast-training issue on a GPU: this test accuracy within this many seconds of final training.
GOAL_ACCURACY, GOAL_SECONDS = 0.95, 30
FIGURE = Path("docs/gpu_recipe.png")
# Below this difference in validation accuracy, one seed cannot tell two choices apart.
SEED_RESOLUTION = 0.002


def validate(images, labels, params: dict, seed: int) -> dict:
    """The train stage's path with `params` and training seed `seed`: its best epoch, and each epoch's seconds.

    The validation images are the stage's (base.seed's), whatever the training seed."""
    train = params["train"]
    make_deterministic(seed)
    set_precision(train["precision"])
    (x_train, y_train), validation = validation_split(
        images, labels, fraction=train["validation_split"], seed=params["base"]["seed"]
    )
    clock = TrainingClock()
    history = train_model(
        build_model(**params["model"]),
        images=x_train,
        labels=y_train,
        validation_data=validation,
        epochs=train["epochs"],
        **training_arguments(train),
        monitor=train["monitor"],
        early_stopping_patience=train["early_stopping_patience"],
        seed=seed,
        checkpoint_dir=None,
        on_epoch=clock.watch(None),
        # Validation in batches of training's size: Keras's 32 would take most of each epoch's seconds on a GPU.
        validation_batch_size=train["batch_size"],
    )
    timing = clock.timing()
    best = summarize_history(history, train["monitor"])
    return {
        "seed": seed,
        "best_epoch": best["best_epoch"],
        "val_accuracy": round(best["val_accuracy"], 4),
        "epochs": len(history),
        "steps_per_epoch": steps_per_epoch(len(y_train), batch_size=train["batch_size"]),
        "train_seconds": timing["train_seconds"],
        "epoch_seconds": timing["epoch_seconds"],
        "epoch_val_accuracy": [round(value, 4) for value in history["val_accuracy"]],
    }


def final_train_and_score(images, labels, test_images, test_labels, params: dict, validated: dict) -> dict:
    """final-train's path, the validated run's steps on every training image, then final-evaluate's test score."""
    train, seed = params["train"], params["base"]["seed"]
    make_deterministic(seed)
    set_precision(train["precision"])
    model = build_model(**params["model"])
    clock = TrainingClock()
    train_model(
        model,
        images=images,
        labels=labels,
        validation_data=None,
        epochs=validated["best_epoch"],
        **training_arguments(train),
        seed=seed,
        checkpoint_dir=None,
        epoch_steps=validated["steps_per_epoch"],
        schedule_epochs=train["epochs"],
        on_epoch=clock.watch(None),
    )
    timing = clock.timing()
    metrics, _ = evaluate_model(model, images=test_images, labels=test_labels)
    return {
        "epochs": validated["best_epoch"],
        "steps": validated["best_epoch"] * validated["steps_per_epoch"],
        "train_seconds": timing["train_seconds"],
        # The first epoch's seconds include compiling the step; the rest are the step's own pace.
        "epoch_seconds": timing["epoch_seconds"],
        "test_accuracy": round(metrics["test_accuracy"], 4),
        "test_loss": round(metrics["test_loss"], 4),
    }


def predicted_final_seconds(validated: dict) -> float:
    """What final training should take for the validated run's steps, at that run's pace after its first epoch (which
    compiles the step; final training loads it from the cache). The pace includes validation, which final training
    skips, so this errs high."""
    ends = validated["epoch_seconds"]
    durations = [later - earlier for earlier, later in pairwise(ends)] or ends[:1]
    return round(validated["best_epoch"] * statistics.median(durations), 1)


def choose(candidates: list[dict], seconds_limit: float) -> dict:
    """The candidate with the best mean validation accuracy over its seeds (the first, on a tie) among those whose
    final training should take at most `seconds_limit`; the best of all if none should."""
    return max(fitting(candidates, seconds_limit) or candidates, key=lambda candidate: candidate["mean_val_accuracy"])


def fitting(candidates: list[dict], seconds_limit: float) -> list[dict]:
    """The candidates whose final training should take at most `seconds_limit`."""
    return [candidate for candidate in candidates if candidate["predicted_final_seconds"] <= seconds_limit]


def gpu_driver() -> str | None:
    """The NVIDIA driver's version, where nvidia-smi answers."""
    try:
        answer = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True, text=True
        )
    except OSError:
        return None
    return answer.stdout.strip().splitlines()[0] if answer.returncode == 0 and answer.stdout.strip() else None


def summarize(candidate: dict) -> None:
    """Set the candidate's mean validation accuracy over its runs, and their spread."""
    accuracies = [run["val_accuracy"] for run in candidate["runs"]]
    candidate["mean_val_accuracy"] = round(sum(accuracies) / len(accuracies), 4)
    candidate["spread"] = round(max(accuracies) - min(accuracies), 4)


def run(recipe_name: str, changes: list[dict], seeds: list[int], budget: float, quick: bool, output: Path) -> dict:
    """Validate the recipe and each change, choose, retrain the choice on every training image, score it; write
    the report after every step, so that a run cut short still leaves what it measured."""
    started = time.perf_counter()
    recipe = recipe_named(recipe_name)
    base = apply_recipe(load_params(["base", "model", "train"]), recipe)
    seed = base["base"]["seed"]
    # Before anything starts the GPU: XLA reads its determinism flag then.
    make_deterministic(seed)
    # As the stages do: final training loads the step that its validation run compiled.
    cache_compilations(paths.COMPILATION_CACHE_DIR)
    if quick:
        from benchmarks.recipe import quick_data

        base["train"]["epochs"] = 2
        images, labels = quick_data()
        test_images, test_labels = images[:100], labels[:100]
    else:
        images, labels = load_split(paths.TRAIN_DATA)
        test_images, test_labels = None, None  # Read only once the choice is made.
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "quick": quick,
        "machine": machine(),
        "gpu_driver": gpu_driver(),
        "recipe": recipe_name,
        "params": recipe,
        "goal": {"test_accuracy": GOAL_ACCURACY, "final_train_seconds": GOAL_SECONDS},
        "validation_budget_seconds": budget,
        "candidates": [],
    }
    for change in [{}, *changes]:
        params = apply_recipe(base, change)
        label = ", ".join(f"{key}={value}" for key, value in change.items()) or "the recipe"
        print(f"{label}, seed {seed}:", flush=True)
        runs = [validate(images, labels, params, seed)]
        predicted = predicted_final_seconds(runs[0])
        report["candidates"].append(
            {"change": change, "label": label, "predicted_final_seconds": predicted, "runs": runs}
        )
        summarize(report["candidates"][-1])
        write_json(output, report)
    # The close call that matters is between the two best of those that can be chosen.
    eligible = fitting(report["candidates"], GOAL_SECONDS) or report["candidates"]
    ranked = sorted(eligible, key=lambda candidate: -candidate["mean_val_accuracy"])
    close = len(ranked) > 1 and ranked[0]["mean_val_accuracy"] - ranked[1]["mean_val_accuracy"] < SEED_RESOLUTION
    if close and seeds:
        # Each extra run takes about as long as the slowest first run; skip them if they would overrun the budget.
        needed = 2 * len(seeds) * max(candidate["runs"][0]["train_seconds"] for candidate in ranked[:2])
        if time.perf_counter() - started + needed <= budget:
            for candidate in ranked[:2]:
                for extra in seeds:
                    print(f"{candidate['label']}, seed {extra}:", flush=True)
                    params = apply_recipe(base, candidate["change"])
                    candidate["runs"].append(validate(images, labels, params, extra))
                    summarize(candidate)
                    write_json(output, report)
        else:
            report["seeds_skipped"] = f"the extra seeds would have taken about {needed:.0f} s, past the budget"
    chosen = choose(report["candidates"], GOAL_SECONDS)
    report["chosen"] = chosen["label"]
    validated = next(run for run in chosen["runs"] if run["seed"] == seed)
    if test_images is None:
        test_images, test_labels = load_split(paths.TEST_DATA)
    print(f"final training of {chosen['label']}: {validated['best_epoch']} epochs", flush=True)
    final = final_train_and_score(
        images, labels, test_images, test_labels, apply_recipe(base, chosen["change"]), validated
    )
    report["final"] = final
    report["validation_minus_test_points"] = points(validated["val_accuracy"] - final["test_accuracy"])
    report["goal_met"] = final["test_accuracy"] >= GOAL_ACCURACY and final["train_seconds"] <= GOAL_SECONDS
    write_json(output, report)
    return report


def draw(report: dict) -> Figure:
    """Validation accuracy at each epoch's end for each candidate's first run, and the goal's accuracy. By epoch, not
    by second: a first epoch that compiles the step and one that loads it from the cache differ by seconds."""
    figure = Figure(figsize=(7.5, 4.2), layout="constrained")
    axes = figure.subplots()
    for candidate in report["candidates"]:
        run = candidate["runs"][0]
        chosen = " (chosen)" if candidate["label"] == report.get("chosen") else ""
        label = f"{candidate['label']}, seed {run['seed']}: best {run['val_accuracy']:.4f}{chosen}"
        epochs = range(1, len(run["epoch_val_accuracy"]) + 1)
        axes.plot(epochs, run["epoch_val_accuracy"], marker="o", markersize=3, label=label)
    axes.axhline(GOAL_ACCURACY, color="gray", linestyle="--", linewidth=1)
    axes.set_xlabel(f"epoch ({report['candidates'][0]['runs'][0]['steps_per_epoch']} steps)")
    axes.set_ylabel("validation accuracy")
    axes.set_ylim(0.90, 0.96)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    gpu = report["machine"]["gpus"][0] if report["machine"]["gpus"] else report["machine"]["cpu"]
    axes.set_title(f"The {report['recipe']} recipe's candidates on an {gpu}: validation accuracy", fontsize=9)
    return figure


def main(arguments: list[str] | None = None) -> None:
    """Run one recipe's validation, choice, final training and test score; write the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a recipe of recipes.yaml")
    parser.add_argument(
        "--try",
        dest="changes",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a change to the recipe that validation weighs against it, of one setting or of several separated by "
        "spaces (one quoted argument); repeat for more",
    )
    parser.add_argument("--seeds", type=int, nargs="*", default=[43, 44], help="extra seeds for a close call")
    parser.add_argument("--budget", type=float, default=420, help="seconds for validation, extra seeds included")
    add_report_arguments(parser, report="reports/recipes/<recipe>/gpu.json", figure=FIGURE, quick="tiny data, 2 epochs")
    arguments = parser.parse_args(arguments)
    figure = output_path(arguments.figure, FIGURE, arguments.quick)
    try:
        recipe_named(arguments.recipe)
        changes = [parse_changes(change) for change in arguments.changes]
        output = output_path(
            arguments.output, paths.REPORTS_DIR / "recipes" / arguments.recipe / "gpu.json", arguments.quick
        )
        if arguments.draw:
            draw(report_to_draw(output)).savefig(figure, dpi=110)
            return
        report = run(arguments.recipe, changes, arguments.seeds, arguments.budget, arguments.quick, output)
    except PipelineError as error:
        raise SystemExit(f"benchmarks.gpu: {error}") from None
    figure.parent.mkdir(parents=True, exist_ok=True)
    draw(report).savefig(figure, dpi=110)
    for candidate in report["candidates"]:
        print(f"{candidate['label']}: validation {candidate['mean_val_accuracy']} over {len(candidate['runs'])} seeds")
    final = report["final"]
    print(
        f"chosen: {report['chosen']}; final training {final['train_seconds']} s, test accuracy {final['test_accuracy']}"
    )


if __name__ == "__main__":
    main()
