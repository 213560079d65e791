"""One change tried on top of a recipe: the train stage only, validation decides, the test set unread.

    python -m benchmarks.trial accurate train.ema_momentum=0.99             # run it, then write the report
    python -m benchmarks.trial accurate train.ema_momentum=0.99 --collect   # the report of the finished experiment
    python -m benchmarks.trial accurate train.ema_momentum=0.99 --collect --baseline accurate-here
    python -m benchmarks.trial accurate "train.optimizer=momentum train.learning_rate=0.1"   # settings that go together

A change is one setting, or several that only make sense together, as an optimizer and its learning rate. The
experiment is `dvc exp run --temp -n <recipe>-<setting>-<value>` (or --experiment) with the recipe's `-S` flags and
the change's; `--temp` runs it in a copy of the project, so the workspace stays as it was. The report,
reports/recipes/<recipe>/trials/<setting>-<value>.json (the settings joined by _), holds this machine, the change,
the experiment's per-epoch validation accuracy, its best epoch and seconds, and beside them the best epoch of the
recipe's committed run (reports/recipes/<recipe>/train/metrics.json), which chose on the same validation images.
That run may come from another CPU, and bfloat16 need not round alike on two CPUs: --baseline names an experiment of
the recipe alone run on this machine (`dvc exp run -n accurate-here $(fashion-mnist recipe accurate)`), which the
report compares with too.
"""

import argparse
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from benchmarks.batch_sizes import experiment_ref, git, read_experiment
from benchmarks.machine import machine
from fashion_mnist.errors import ParamsError
from fashion_mnist.files import write_json
from fashion_mnist.recipes import check_setting, recipe_named, set_param_flags

RECIPE_RUNS = Path("reports/recipes")


def parse_change(text: str) -> dict[str, Any]:
    """`section.key=value` as a param and its YAML value, checked against params.yaml's rules."""
    key, equals, value = text.partition("=")
    if not equals:
        raise ParamsError(f"change {text!r}: expected section.key=value, for example train.ema_momentum=0.99")
    parsed = yaml.safe_load(value)
    check_setting(key, parsed, f"change {text!r}")
    return {key: parsed}


def parse_changes(text: str) -> dict[str, Any]:
    """One change: `section.key=value` settings separated by spaces, each checked as parse_change checks it."""
    settings = [parse_change(setting) for setting in text.split()]
    if not settings:
        raise ParamsError("an empty change: expected section.key=value, for example train.epochs=26")
    keys = [key for setting in settings for key in setting]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ParamsError(f"change {text!r} sets {repeated[0]} twice")
    return {key: value for setting in settings for key, value in setting.items()}


def setting_names(change: dict[str, Any]) -> list[str]:
    """Each changed setting as key-value, without its section: the words of the trial's names."""
    return [f"{key.partition('.')[2]}-{value}" for key, value in change.items()]


def trial_name(recipe: str, change: dict[str, Any]) -> str:
    """The experiment's name: the recipe, then each changed setting and its value."""
    return "-".join([recipe, *setting_names(change)])


def report_path(recipe: str, change: dict[str, Any]) -> Path:
    return RECIPE_RUNS / recipe / "trials" / f"{'_'.join(setting_names(change))}.json"


def points(difference: float) -> float:
    """A difference of accuracies in percentage points, to two places."""
    return round(difference * 100, 2)


def experiment_params(ref: str) -> dict[str, Any]:
    """The experiment's params.yaml, as section.key: value."""
    document = yaml.safe_load(git("show", f"{ref}:params.yaml"))
    return {f"{section}.{key}": value for section, values in document.items() for key, value in values.items()}


def checked_experiment(experiment: str, recipe: str, change: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    """The experiment's run and params, once its params are shown to be the recipe's with `change`."""
    ref = experiment_ref(experiment)
    params = experiment_params(ref)
    expected = {**recipe_named(recipe), **change}
    differing = sorted(key for key, value in expected.items() if params.get(key) != value)
    if differing:
        raise SystemExit(f"experiment {experiment!r} does not run recipe {recipe!r} with {change}: see {differing}")
    return read_experiment(ref), params


def collect(recipe: str, change: dict[str, Any], experiment: str, baseline: str | None = None) -> dict:
    """The report: the machine, the change, the experiment's run and the recipe's committed run beside it.

    `baseline` names an experiment of the recipe alone, the changed key at params.yaml's value, run on the same
    machine: then the report also compares with it, so that the machine's own rounding is no part of the difference.
    """
    run, params = checked_experiment(experiment, recipe, change)
    recipe_run = json.loads((RECIPE_RUNS / recipe / "train/metrics.json").read_text())
    same_machine = {}
    if baseline:
        committed = experiment_params("HEAD")
        unchanged = {key: committed[key] for key in change}
        baseline_run, _ = checked_experiment(baseline, recipe, unchanged)
        same_machine = {
            "baseline": {"experiment": baseline, **baseline_run},
            "baseline_difference_points": points(run["best_val_accuracy"] - baseline_run["best_val_accuracy"]),
        }
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "commit": git("rev-parse", "HEAD").strip(),
        "recipe": recipe,
        "change": change,
        "experiment": experiment,
        "seed": params["base.seed"],
        "run": run,
        "recipe_run": {key: recipe_run[key] for key in ("best_epoch", "val_accuracy", "epochs")},
        "difference_points": points(run["best_val_accuracy"] - recipe_run["val_accuracy"]),
        **same_machine,
    }


def main() -> None:
    """Run the experiment (unless --collect), then write its report and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a recipe of recipes.yaml, with a committed run in reports/recipes/")
    parser.add_argument(
        "change", help="section.key=value set on top of the recipe, or several separated by spaces, in one argument"
    )
    parser.add_argument("--experiment", help="the experiment's name (default: recipe-key-value)")
    parser.add_argument("--collect", action="store_true", help="only write the report of the finished experiment")
    parser.add_argument("--baseline", help="an experiment of the recipe alone on this machine, to compare with too")
    parser.add_argument("--output", type=Path, help="the report (default: reports/recipes/RECIPE/trials/)")
    arguments = parser.parse_args()
    try:
        recipe = recipe_named(arguments.recipe)
        change = parse_changes(arguments.change)
    except ParamsError as error:
        raise SystemExit(f"benchmarks.trial: {error}") from None
    experiment = arguments.experiment or trial_name(arguments.recipe, change)
    if not arguments.collect:
        command = ["dvc", "exp", "run", "--temp", "-n", experiment, *set_param_flags({**recipe, **change})]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)
    report = collect(arguments.recipe, change, experiment, arguments.baseline)
    write_json(arguments.output or report_path(arguments.recipe, change), report)
    run, base = report["run"], report["recipe_run"]
    print(
        f"{experiment}: best validation accuracy {run['best_val_accuracy']:.4f} at epoch {run['best_epoch']}, "
        f"the recipe's {base['val_accuracy']:.4f} at epoch {base['best_epoch']}: "
        f"{report['difference_points']:+.2f} points"
    )
    if arguments.baseline:
        same = report["baseline"]
        print(
            f"{arguments.baseline}, the recipe on this machine: {same['best_val_accuracy']:.4f} at epoch "
            f"{same['best_epoch']}: {report['baseline_difference_points']:+.2f} points"
        )


if __name__ == "__main__":
    main()
