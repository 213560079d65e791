"""The whole pipeline, run by `dvc repro` on tiny synthetic data."""

import ast
import json
import re
import shlex
from pathlib import Path

import keras
import pandas as pd
import pytest
import yaml

from fashion_mnist.dataset import CLASS_NAMES
from tests.conftest import REPOSITORY, run, stages_run

pytestmark = pytest.mark.slow


def stage_script(command: str) -> str:
    """The script a stage's `python -m` command runs, past any variables set before it."""
    words = shlex.split(command)
    return words[words.index("-m") + 1].replace(".", "/") + ".py"


def test_dvc_repro_builds_every_output_then_has_nothing_to_do(project: Path):
    result = run(["dvc", "repro"], project)
    for stage in ["download", "preprocess", "train", "plot", "final-evaluate", "export"]:
        assert f"Running stage '{stage}'" in result.stdout

    assert sorted(path.name for path in (project / "data/raw").iterdir()) == sorted(
        [
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ]
    )
    data = pd.read_csv(project / "reports/data.csv")
    assert data.to_dict(orient="list") == {"class": list(CLASS_NAMES), "train": [20] * 10, "test": [5] * 10}

    metrics = json.loads((project / "reports/train/metrics.json").read_text())
    assert set(metrics) == {"val_accuracy", "val_loss", "best_epoch", "epochs", "parameters"}
    assert metrics["epochs"] == 3 and metrics["parameters"] == 507_530
    timing = json.loads((project / "reports/train/timing.json").read_text())
    assert set(timing) == {"train_seconds", "peak_memory_mb"}
    assert timing["peak_memory_mb"] > 100, "TensorFlow alone takes more than 100 MB"
    environment = json.loads((project / "reports/train/environment.json").read_text())
    assert environment["backend"] == "tensorflow" and environment["keras"] == keras.__version__
    assert environment["precision"] in ("float32", "mixed_bfloat16")
    history = pd.read_csv(project / "reports/train/history.csv")
    assert list(history.columns) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert history["epoch"].tolist() == [1, 2, 3]
    assert "507,530" in (project / "reports/train/model_summary.txt").read_text()
    for figure in ["learning_curves.png", "convolution.png"]:
        assert (project / "reports/train" / figure).read_bytes().startswith(b"\x89PNG"), figure

    final = json.loads((project / "reports/final/metrics.json").read_text())
    assert final["epochs"] == metrics["best_epoch"], "final.epochs: auto retrains for train's best epoch"
    assert len(pd.read_csv(project / "reports/final/history.csv")) == metrics["best_epoch"]
    per_class = pd.read_csv(project / "reports/final/per_class.csv")
    assert list(per_class.columns) == ["class", "precision", "recall", "f1", "support"]
    assert per_class["class"].tolist() == list(CLASS_NAMES) and per_class["support"].sum() == 50
    confusion = pd.read_csv(project / "reports/final/confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 50
    assert (confusion["actual"] == confusion["predicted"]).mean() == pytest.approx(final["test_accuracy"])
    # The most frequent mistakes, true -> predicted, as many as there are different ones, up to three.
    mistakes = confusion[confusion["actual"] != confusion["predicted"]].value_counts()
    confused = [f"most_confused_{rank}" for rank in range(1, min(3, len(mistakes)) + 1)]
    assert set(final) == {"test_accuracy", "test_loss", "epochs", *confused}
    shown = [re.fullmatch(r"(.+) -> (.+) \((\d+)\)", final[key]).groups() for key in confused]
    assert [int(count) for _, _, count in shown] == mistakes.tolist()[: len(confused)], final
    assert all(mistakes[(actual, predicted)] == int(count) for actual, predicted, count in shown), final
    for figure in ["confusion_matrix.png", "confusion_matrix_normalized.png", "misclassified.png"]:
        assert (project / "reports/final" / figure).read_bytes().startswith(b"\x89PNG"), figure
    assert (project / "models/model.keras").is_file() and (project / "models/final.keras").is_file()
    assert not (project / ".checkpoints/train").exists(), "a finished run must clear its resume state"

    # Every stage is in DVC's run-cache, so `dvc repro` and `dvc repro --pull` can restore it untrained.
    assert len(list((project / ".dvc/cache/runs").glob("*/*/*"))) == 6
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    metrics_shown = shown[""]["data"]
    # Only the figures people compare are metrics; class counts and per-class scores are plots.
    assert set(metrics_shown) == {
        "reports/train/metrics.json",
        "reports/train/timing.json",
        "reports/final/metrics.json",
        "reports/final/timing.json",
        "reports/export/metrics.json",
        "reports/export/timing.json",
    }
    # Every key, the most-confused pairs' strings included: DVC would silently drop a list.
    assert metrics_shown["reports/final/metrics.json"]["data"] == final
    assert metrics_shown["reports/train/metrics.json"]["data"] == metrics
    rendered = project / "plots"
    run(["dvc", "plots", "show", "-o", str(rendered)], project)
    assert (rendered / "index.html").is_file()
    again = run(["dvc", "repro"], project)
    assert "Running stage" not in again.stdout
    assert "Data and pipelines are up to date." in again.stdout

    # An edit of the learning-curve figure's code redraws the figure and retrains nothing.
    with open(project / "fashion_mnist/learning_curves.py", "a") as source:
        source.write("\n# A cosmetic edit.\n")
    assert stages_run(run(["dvc", "repro"], project).stdout) == ["plot"]
    # An upgrade of a numeric library reruns the stages whose numbers it shapes.
    with open(project / "requirements-training.txt", "a") as requirements:
        requirements.write("# numpy upgraded\n")
    changed = json.loads(run(["dvc", "status", "--json"], project).stdout)
    assert sorted(changed) == ["export", "final-evaluate", "plot", "preprocess", "train"]


def test_every_plot_is_drawn_once(project: Path):
    run(["dvc", "repro"], project)
    shown = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)["data"]
    drawn = sorted((name, entry["type"]) for name, entries in shown.items() for entry in entries)
    assert drawn == [
        ("Loss", "vega"),
        ("reports/data.csv", "vega"),
        ("reports/final/confusion.csv", "vega"),
        ("reports/final/confusion_matrix.png", "image"),
        ("reports/final/confusion_matrix_normalized.png", "image"),
        ("reports/final/history.csv", "vega"),
        ("reports/final/misclassified.png", "image"),
        ("reports/final/per_class.csv", "vega"),
        ("reports/train/convolution.png", "image"),
        ("reports/train/history.csv", "vega"),
        ("reports/train/learning_curves.png", "image"),
    ]


def test_only_final_evaluate_and_export_depend_on_the_test_set():
    stages = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["stages"]
    readers = sorted(
        name
        for name, stage in stages.items()
        if any("test.npz" in str(dependency) for dependency in stage.get("deps", []))
    )
    assert readers == ["export", "final-evaluate"]


def test_every_stage_that_reads_the_test_set_refuses_to_run_inside_an_experiment():
    stages = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        if "data/prepared/test.npz" in stage["deps"]:
            script = stage_script(stage["cmd"])
            assert f'refuse_inside_experiment("{name}")' in (REPOSITORY / script).read_text(), name


def package_imports(source: Path) -> set[str]:
    """The fashion_mnist modules that `source` imports, directly or through other package modules."""
    found, pending = set(), [source]
    while pending:
        tree = ast.parse(pending.pop().read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fashion_mnist"):
                # `from fashion_mnist import paths` names a module; `from fashion_mnist.x import y` names x.
                if node.module == "fashion_mnist":
                    modules = [f"fashion_mnist.{alias.name}" for alias in node.names]
                else:
                    modules = [node.module]
                for module in modules:
                    path = f"{module.replace('.', '/')}.py"
                    if path not in found:
                        found.add(path)
                        pending.append(REPOSITORY / path)
    return found | {"fashion_mnist/__init__.py"}


def test_every_stage_depends_on_its_script_and_every_package_module_it_imports():
    stages = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        script = stage_script(stage["cmd"])
        code_deps = {dependency for dependency in stage["deps"] if dependency.endswith(".py")}
        assert code_deps == {script} | package_imports(REPOSITORY / script), name


def test_no_stage_script_but_preprocess_final_evaluate_and_export_mentions_the_test_set():
    # preprocess writes it; final-evaluate and export, which run after every decision, read it.
    mentions = sorted(path.name for path in (REPOSITORY / "stages").glob("*.py") if "TEST_DATA" in path.read_text())
    assert mentions == ["export.py", "final_evaluate.py", "preprocess.py"]
    assert "load_split(paths.TEST_DATA)" not in (REPOSITORY / "stages/preprocess.py").read_text()


def test_final_evaluate_depends_on_exactly_the_train_keys_it_reads():
    stages = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["stages"]
    declared = {key for key in stages["final-evaluate"]["params"] if key.startswith("train.")}
    tree = ast.parse((REPOSITORY / "stages/final_evaluate.py").read_text())
    read = {
        f"train.{node.slice.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "train"
    }
    assert declared == read and "train.epochs" not in declared
    assert "reports/train/metrics.json" in stages["final-evaluate"]["deps"], "final.epochs: auto reads it"
