"""A change tried on top of a recipe: its flag checked, its report read from the experiment commit as `dvc exp`
stores it, beside the recipe's committed run."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from benchmarks import trial
from benchmarks.trial import collect, parse_change, parse_changes, report_path, trial_name
from fashion_mnist.errors import ParamsError
from fashion_mnist.recipes import apply_recipe, load_recipes
from tests.test_batch_sizes import commit_run, git

REPOSITORY = Path(__file__).resolve().parent.parent
AVERAGING = {"train.ema_momentum": 0.99}


def test_a_change_is_one_param_of_params_yaml_with_a_value_its_rule_accepts():
    assert parse_change("train.ema_momentum=0.99") == AVERAGING
    assert parse_change("train.augment=false") == {"train.augment": False}
    assert trial_name("accurate", AVERAGING) == "accurate-ema_momentum-0.99"
    assert report_path("accurate", AVERAGING) == Path("reports/recipes/accurate/trials/ema_momentum-0.99.json")
    with pytest.raises(ParamsError, match=r"expected section\.key=value"):
        parse_change("train.ema_momentum")
    with pytest.raises(ParamsError, match=r"sets 'train.averaging', which is no key of params.yaml"):
        parse_change("train.averaging=0.5")
    with pytest.raises(ParamsError, match=r"sets train.ema_momentum to 1.5; it must be"):
        parse_change("train.ema_momentum=1.5")


def test_a_change_may_set_several_settings_that_go_together():
    change = parse_changes("train.optimizer=momentum  train.learning_rate=0.1")
    assert change == {"train.optimizer": "momentum", "train.learning_rate": 0.1}
    assert parse_changes("train.ema_momentum=0.99") == AVERAGING
    assert trial_name("accurate", change) == "accurate-optimizer-momentum-learning_rate-0.1"
    assert report_path("accurate", change) == Path(
        "reports/recipes/accurate/trials/optimizer-momentum_learning_rate-0.1.json"
    )
    with pytest.raises(ParamsError, match="sets train.learning_rate twice"):
        parse_changes("train.learning_rate=0.1 train.learning_rate=0.2")
    with pytest.raises(ParamsError, match="an empty change"):
        parse_changes("  ")
    with pytest.raises(ParamsError, match=r"sets 'train.momentum', which is no key of params.yaml"):
        parse_changes("train.optimizer=momentum train.momentum=0.9")


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
    averaging, plain = (yaml.safe_dump(apply_recipe(sections, params)) for params in ({**recipe, **AVERAGING}, recipe))
    commit_run(tmp_path, "averaging", averaging, [0.9, 0.9531, 0.953], 2)
    commit_run(tmp_path, "plain", plain, [0.9, 0.949, 0.94], 2)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_report_puts_the_experiments_best_epoch_beside_the_recipes(project: Path):
    report = collect("accurate", AVERAGING, "averaging")
    assert report["change"] == AVERAGING and report["experiment"] == "averaging" and report["seed"] == 42
    assert report["run"]["best_val_accuracy"] == 0.9531 and report["run"]["best_epoch"] == 2
    assert report["run"]["epoch_val_accuracy"] == [0.9, 0.9531, 0.953]
    assert report["recipe_run"] == {"best_epoch": 2, "val_accuracy": 0.95, "epochs": 3}
    assert report["difference_points"] == 0.31
    assert report["commit"] == git(project, "rev-parse", "HEAD").strip() and report["machine"]["cores"] >= 1


def test_a_baseline_of_the_recipe_alone_on_this_machine_is_compared_too(project: Path):
    report = collect("accurate", AVERAGING, "averaging", baseline="plain")
    assert report["baseline"]["experiment"] == "plain" and report["baseline"]["best_val_accuracy"] == 0.949
    assert report["baseline_difference_points"] == 0.41 and report["difference_points"] == 0.31
    with pytest.raises(SystemExit, match=r"experiment 'averaging' does not run recipe 'accurate' with"):
        collect("accurate", AVERAGING, "averaging", baseline="averaging")


def test_an_experiment_without_the_recipe_and_the_change_is_refused(project: Path):
    with pytest.raises(SystemExit, match=r"experiment 'plain' does not run recipe 'accurate'.*train.ema_momentum"):
        collect("accurate", AVERAGING, "plain")
    with pytest.raises(SystemExit, match=r"no experiment 'missing' on commit"):
        collect("accurate", AVERAGING, "missing")


def test_an_unknown_recipe_stops_the_trial_with_the_recipes_there_are(monkeypatch):
    monkeypatch.chdir(REPOSITORY)
    monkeypatch.setattr("sys.argv", ["benchmarks.trial", "fastest", "train.epochs=8"])
    with pytest.raises(
        SystemExit, match="benchmarks.trial: no recipe 'fastest' in recipes.yaml; it has fast, accurate"
    ):
        trial.main()
