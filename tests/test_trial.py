"""A change tried on top of a recipe: its flag checked, its report read from the experiment commit as `dvc exp`
stores it, beside the recipe's committed run."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from benchmarks.trial import collect, parse_change, report_path, trial_name
from fashion_mnist.errors import ParamsError
from fashion_mnist.progress import epoch_logger
from fashion_mnist.recipes import apply_recipe, load_recipes
from tests.test_batch_sizes import git

REPOSITORY = Path(__file__).resolve().parent.parent
ERASING = {"train.random_erasing": 0.5}


def test_a_change_is_one_param_of_params_yaml_with_a_value_its_rule_accepts():
    assert parse_change("train.random_erasing=0.5") == ERASING
    assert parse_change("train.augment=false") == {"train.augment": False}
    assert trial_name("accurate", ERASING) == "accurate-random_erasing-0.5"
    assert report_path("accurate", ERASING) == Path("reports/recipes/accurate/trials/random_erasing-0.5.json")
    with pytest.raises(ParamsError, match=r"expected section\.key=value"):
        parse_change("train.random_erasing")
    with pytest.raises(ParamsError, match=r"sets 'train.erasing', which is no key of params.yaml"):
        parse_change("train.erasing=0.5")
    with pytest.raises(ParamsError, match=r"sets train.random_erasing to 1.5; it must be"):
        parse_change("train.random_erasing=1.5")


def commit_trial(repository: Path, name: str, params: dict, val_accuracy: list[float], best_epoch: int) -> None:
    """An experiment commit on top of HEAD with `params` and the train stage's reports, under `dvc exp`'s ref."""
    baseline = git(repository, "rev-parse", "HEAD").strip()
    git(repository, "checkout", "--quiet", "--detach")
    (repository / "params.yaml").write_text(yaml.safe_dump(params))
    reports = repository / "reports/train"
    with epoch_logger(reports) as log:
        for epoch, accuracy in enumerate(val_accuracy, start=1):
            log({"epoch": epoch, "accuracy": accuracy, "val_accuracy": accuracy, "val_loss": 1 - accuracy})
    best = {"val_accuracy": val_accuracy[best_epoch - 1], "best_epoch": best_epoch, "epochs": len(val_accuracy)}
    (reports / "metrics.json").write_text(json.dumps(best))
    (reports / "timing.json").write_text(json.dumps({"train_seconds": 30.5, "epoch_seconds": [10.0, 20.0, 30.0]}))
    git(repository, "add", "-A")
    git(repository, "commit", "--quiet", "-m", name)
    experiment = git(repository, "rev-parse", "HEAD").strip()
    git(repository, "update-ref", f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}", experiment)
    git(repository, "checkout", "--quiet", baseline)


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A repository with the recipes, the accurate recipe's committed run, and two experiments on its HEAD."""
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "config", "user.email", "test@example.com")
    git(tmp_path, "config", "user.name", "test")
    for name in ("params.yaml", "recipes.yaml"):
        shutil.copyfile(REPOSITORY / name, tmp_path / name)
    recipe_run = tmp_path / "reports/recipes/accurate/train/metrics.json"
    recipe_run.parent.mkdir(parents=True)
    recipe_run.write_text(json.dumps({"val_accuracy": 0.95, "best_epoch": 2, "epochs": 3, "loss": 0.6}))
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "baseline")
    sections = yaml.safe_load((tmp_path / "params.yaml").read_text())
    recipe = load_recipes(tmp_path / "recipes.yaml")["accurate"]
    commit_trial(tmp_path, "erasing", apply_recipe(sections, {**recipe, **ERASING}), [0.9, 0.9531, 0.953], 2)
    commit_trial(tmp_path, "plain", apply_recipe(sections, recipe), [0.9, 0.949, 0.94], 2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_report_puts_the_experiments_best_epoch_beside_the_recipes(project: Path):
    report = collect("accurate", ERASING, "erasing")
    assert report["change"] == ERASING and report["experiment"] == "erasing" and report["seed"] == 42
    assert report["run"]["best_val_accuracy"] == 0.9531 and report["run"]["best_epoch"] == 2
    assert report["run"]["epoch_val_accuracy"] == [0.9, 0.9531, 0.953]
    assert report["recipe_run"] == {"best_epoch": 2, "val_accuracy": 0.95, "epochs": 3}
    assert report["difference_points"] == 0.31
    assert report["commit"] == git(project, "rev-parse", "HEAD").strip() and report["machine"]["cores"] >= 1


def test_a_baseline_of_the_recipe_alone_on_this_machine_is_compared_too(project: Path):
    report = collect("accurate", ERASING, "erasing", baseline="plain")
    assert report["baseline"]["experiment"] == "plain" and report["baseline"]["best_val_accuracy"] == 0.949
    assert report["baseline_difference_points"] == 0.41 and report["difference_points"] == 0.31
    with pytest.raises(SystemExit, match=r"experiment 'erasing' does not run recipe 'accurate' with"):
        collect("accurate", ERASING, "erasing", baseline="erasing")


def test_an_experiment_without_the_recipe_and_the_change_is_refused(project: Path):
    with pytest.raises(SystemExit, match=r"experiment 'plain' does not run recipe 'accurate'.*train.random_erasing"):
        collect("accurate", ERASING, "plain")
    with pytest.raises(SystemExit, match=r"no experiment 'missing' on commit"):
        collect("accurate", ERASING, "missing")
