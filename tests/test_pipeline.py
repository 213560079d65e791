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
from fashion_mnist.progress import read_history
from tests.conftest import (
    EXPORT,
    FINAL_EVALUATE,
    FINAL_TRAIN,
    REPOSITORY,
    REPRODUCE_ALL,
    SCORE_PHOTOS,
    project_copy,
    run,
    set_params,
    stages_run,
)

pytestmark = pytest.mark.slow

STAGES = ["download", "preprocess", "train", "plot", FINAL_TRAIN, FINAL_EVALUATE, SCORE_PHOTOS, EXPORT]


def stage_script(command: str) -> str:
    """The script a stage's `python -m` command runs, past any variables set before it."""
    words = shlex.split(command)
    return words[words.index("-m") + 1].replace(".", "/") + ".py"


def test_the_readme_command_builds_every_output_then_has_nothing_to_do(project: Path):
    result = run(REPRODUCE_ALL, project)
    assert sorted(stages_run(result.stdout)) == sorted(STAGES)

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
    # Validation accuracy first: it leads the columns of `dvc exp show`.
    assert list(metrics) == ["val_accuracy", "val_loss", "best_epoch", "epochs", "parameters"]
    assert metrics["epochs"] == 3 and metrics["parameters"] == 507_530
    timing = json.loads((project / "reports/train/timing.json").read_text())
    assert set(timing) == {"train_seconds", "epoch_seconds", "peak_memory_mb"}
    # The seconds at the end of each epoch, from the start of training: what the batch-size sweep plots.
    assert len(timing["epoch_seconds"]) == 3 and timing["epoch_seconds"] == sorted(timing["epoch_seconds"])
    assert timing["epoch_seconds"][0] > 0 and timing["epoch_seconds"][-1] <= timing["train_seconds"]
    assert timing["peak_memory_mb"] > 100, "TensorFlow alone takes more than 100 MB"
    environment = json.loads((project / "reports/train/environment.json").read_text())
    assert environment["backend"] == "tensorflow" and environment["keras"] == keras.__version__
    assert environment["precision"] == "float32", "the default gives the same bits on every CPU"
    assert environment["cpu_isa"] == "avx2", "with oneDNN and XLA capped at AVX2"
    # DVCLive's per-epoch files: one per metric, its step the epoch.
    epochs = sorted(path.name for path in (project / "reports/train/plots/metrics").iterdir())
    assert epochs == ["accuracy.tsv", "loss.tsv", "val_accuracy.tsv", "val_loss.tsv"]
    history = read_history(project / "reports/train/plots/metrics", ["accuracy", "loss", "val_accuracy", "val_loss"])
    assert history["epoch"].tolist() == [1, 2, 3]
    # train.monitor is val_loss: the kept epoch is the lowest validation loss's, with its accuracy.
    kept = history.loc[history["val_loss"].idxmin()]
    assert (kept["epoch"], kept["val_loss"], kept["val_accuracy"]) == (
        metrics["best_epoch"],
        metrics["val_loss"],
        metrics["val_accuracy"],
    )
    assert "507,530" in (project / "reports/train/model_summary.txt").read_text()
    for figure in ["learning_curves.png", "convolution.png"]:
        assert (project / "reports/train" / figure).read_bytes().startswith(b"\x89PNG"), figure

    retraining = read_history(project / "reports/final-train/plots/metrics", ["accuracy", "loss"])
    assert retraining["epoch"].tolist() == list(range(1, metrics["best_epoch"] + 1)), "final.epochs: auto"
    last = json.loads((project / "reports/final-train/metrics.json").read_text())
    assert last == {
        "accuracy": retraining["accuracy"].iloc[-1],
        "loss": retraining["loss"].iloc[-1],
        "step": metrics["best_epoch"],
    }
    assert set(json.loads((project / "reports/final-train/timing.json").read_text())) == set(timing)
    final = json.loads((project / "reports/final/metrics.json").read_text())
    per_class = pd.read_csv(project / "reports/final/per_class.csv")
    assert list(per_class.columns) == ["class", "precision", "recall", "f1", "support"]
    assert per_class["class"].tolist() == list(CLASS_NAMES) and per_class["support"].sum() == 50
    confusion = pd.read_csv(project / "reports/final/confusion.csv")
    assert list(confusion.columns) == ["actual", "predicted"] and len(confusion) == 50
    assert (confusion["actual"] == confusion["predicted"]).mean() == pytest.approx(final["test_accuracy"])
    # The most frequent mistakes, true -> predicted, as many as there are different ones, up to three.
    mistakes = confusion[confusion["actual"] != confusion["predicted"]].value_counts()
    confused = [f"most_confused_{rank}" for rank in range(1, min(3, len(mistakes)) + 1)]
    assert set(final) == {"test_accuracy", "test_loss", *confused}
    shown = [re.fullmatch(r"(.+) -> (.+) \((\d+)\)", final[key]).groups() for key in confused]
    assert [int(count) for _, _, count in shown] == mistakes.tolist()[: len(confused)], final
    assert all(mistakes[(actual, predicted)] == int(count) for actual, predicted, count in shown), final
    for figure in ["confusion_matrix.png", "confusion_matrix_normalized.png", "misclassified.png"]:
        assert (project / "reports/final" / figure).read_bytes().startswith(b"\x89PNG"), figure
    assert (project / "models/model.keras").is_file() and (project / "models/final.keras").is_file()
    assert not (project / ".checkpoints/train").exists(), "a finished run must clear its resume state"
    assert not (project / ".checkpoints/final-train").exists()

    # Every stage is in DVC's run-cache, so `dvc repro` and `dvc repro --pull` can restore it untrained.
    assert len(list((project / ".dvc/cache/runs").glob("*/*/*"))) == len(STAGES)
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    metrics_shown = shown[""]["data"]
    # Only the figures people compare are metrics; class counts and per-class scores are plots, and the
    # seconds and memory of a run are no output at all: they differ on every run.
    assert set(metrics_shown) == {
        "reports/train/metrics.json",
        "reports/final-train/metrics.json",
        "reports/final/metrics.json",
        "reports/photos/metrics.json",
        "reports/export/metrics.json",
    }
    for lock in ["dvc.lock", "final/dvc.lock"]:
        assert "timing.json" not in (project / lock).read_text(), lock
    # Every key, the most-confused pairs' strings included: DVC would silently drop a list.
    assert metrics_shown["reports/final/metrics.json"]["data"] == final
    assert metrics_shown["reports/train/metrics.json"]["data"] == metrics
    rendered = project / "plots"
    run(["dvc", "plots", "show", "-o", str(rendered)], project)
    assert (rendered / "index.html").is_file()
    again = run(REPRODUCE_ALL, project)
    assert "Running stage" not in again.stdout
    assert "Data and pipelines are up to date." in again.stdout


@pytest.fixture
def built(built_project: Path) -> Path:
    """A project whose two pipelines have run once and are committed; read, never changed."""
    return built_project


@pytest.fixture
def built_copy(built_project: Path, tmp_path: Path) -> Path:
    return project_copy(built_project, tmp_path / "project")


def out_of_date(project: Path) -> list[str]:
    """The stages, of both pipelines, that `dvc status` says must run again."""
    return sorted(json.loads(run(["dvc", "status", "--json"], project).stdout))


def append(path: Path, text: str) -> None:
    with open(path, "a") as file:
        file.write(text)


@pytest.mark.parametrize(
    ("edited", "expected"),
    [
        # A figure of final-evaluate redraws the figures and retrains nothing.
        ("fashion_mnist/evaluation.py", [FINAL_EVALUATE]),
        # The learning-curve figure: plot alone.
        ("fashion_mnist/learning_curves.py", ["plot"]),
        # Code that decides whether a stage runs, never what it writes: no stage.
        ("fashion_mnist/params.py", []),
        ("fashion_mnist/paths.py", []),
        ("fashion_mnist/stage.py", []),
        ("fashion_mnist/errors.py", []),
        # The export's code: export, and score-photos, whose predict path reads an int8 model with it; not the
        # data or either training.
        ("fashion_mnist/export.py", sorted([EXPORT, SCORE_PHOTOS])),
        # The preparation of photos: score-photos alone.
        ("fashion_mnist/photo.py", [SCORE_PHOTOS]),
        # An upgrade of a numeric library reruns the stages whose numbers it shapes.
        (
            "requirements-training.txt",
            sorted(["preprocess", "train", "plot", FINAL_TRAIN, FINAL_EVALUATE, SCORE_PHOTOS, EXPORT]),
        ),
    ],
)
def test_an_edit_makes_exactly_the_stages_that_depend_on_it_out_of_date(built_copy: Path, edited: str, expected):
    append(built_copy / edited, "\n# An edit that changes no behaviour.\n")
    assert out_of_date(built_copy) == expected


def test_final_train_depends_on_the_validated_steps_and_no_other_train_metric(built_copy: Path):
    metrics_path = built_copy / "reports/train/metrics.json"
    metrics = json.loads(metrics_path.read_text())
    metrics_path.write_text(json.dumps({**metrics, "val_accuracy": 0.5, "val_loss": 9.0, "epochs": 99}))
    assert FINAL_TRAIN not in out_of_date(built_copy)
    best_epoch = built_copy / "reports/train/best_epoch.json"
    validated = json.loads(best_epoch.read_text())
    assert validated == {"best_epoch": metrics["best_epoch"], "steps_per_epoch": 5, "schedule_epochs": 3}
    for key, value in [("best_epoch", metrics["best_epoch"] % 3 + 1), ("steps_per_epoch", 4)]:
        best_epoch.unlink()  # A cached output is a link into DVC's cache; replace, do not write through.
        best_epoch.write_text(json.dumps({**validated, key: value}))
        assert FINAL_TRAIN in out_of_date(built_copy), f"a new {key} reruns the retraining"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        # Validation decides the best epoch; until train has run again, the final model does not change.
        ("train.validation_split", 0.3, ["plot", "train"]),
        ("train.early_stopping_patience", 2, ["train"]),
        # The epoch marked in the learning curves is the one the monitored score picked.
        ("train.monitor", "val_accuracy", ["plot", "train"]),
        # Every stage that runs Keras computes under the instruction-set cap.
        ("train.cpu_isa", "native", sorted(["train", "plot", FINAL_TRAIN, FINAL_EVALUATE, SCORE_PHOTOS, EXPORT])),
        ("final.epochs", 2, [FINAL_TRAIN]),
        ("export.calibration_images", 7, [EXPORT]),
        ("train.backend", "jax", sorted(["train", "plot", FINAL_TRAIN, FINAL_EVALUATE, SCORE_PHOTOS])),
        ("train.precision", "mixed_bfloat16", sorted(["train", FINAL_TRAIN])),
        # Test-time augmentation is part of the model, so both trainings build it; the figures read the model file.
        ("model.test_time_augmentation", "flip", sorted(["train", FINAL_TRAIN])),
    ],
)
def test_a_param_makes_exactly_the_stages_that_read_it_out_of_date(built_copy: Path, key: str, value, expected):
    section, name = key.split(".")
    set_params(built_copy, {section: {name: value}})
    assert out_of_date(built_copy) == expected


def test_every_plot_is_drawn_once(built: Path):
    shown = json.loads(run(["dvc", "plots", "show", "--json"], built).stdout)["data"]
    drawn = sorted((name, entry["type"]) for name, entries in shown.items() for entry in entries)
    assert drawn == [
        ("Loss", "vega"),
        ("reports/data.csv", "vega"),
        ("reports/final-train/plots/metrics/accuracy.tsv", "vega"),
        ("reports/final-train/plots/metrics/loss.tsv", "vega"),
        ("reports/final/confusion.csv", "vega"),
        ("reports/final/confusion_matrix.png", "image"),
        ("reports/final/confusion_matrix_normalized.png", "image"),
        ("reports/final/misclassified.png", "image"),
        ("reports/final/per_class.csv", "vega"),
        ("reports/photos/steps.png", "image"),
        ("reports/train/convolution.png", "image"),
        ("reports/train/learning_curves.png", "image"),
        ("reports/train/plots/metrics/accuracy.tsv", "vega"),
        ("reports/train/plots/metrics/loss.tsv", "vega"),
        ("reports/train/plots/metrics/val_accuracy.tsv", "vega"),
        ("reports/train/plots/metrics/val_loss.tsv", "vega"),
    ]


def pipelines() -> dict[str, dict]:
    """Every stage of both pipeline files, by name."""
    return {
        **yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["stages"],
        **yaml.safe_load((REPOSITORY / "final/dvc.yaml").read_text())["stages"],
    }


def test_only_stages_of_the_final_pipeline_depend_on_the_test_set():
    readers = sorted(
        name
        for name, stage in pipelines().items()
        if any("test.npz" in str(dependency) for dependency in stage.get("deps", []))
    )
    assert readers == ["export", "final-evaluate"]
    final = yaml.safe_load((REPOSITORY / "final/dvc.yaml").read_text())["stages"]
    assert set(final) == {"final-train", "final-evaluate", "score-photos", "export"}
    assert all(stage["wdir"] == ".." for stage in final.values()), "paths are relative to the repository root"


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


# Imported by every stage; they decide whether a stage runs, never what it writes, so they are no dependency.
NOT_DEPENDENCIES = {
    "fashion_mnist/__init__.py",
    "fashion_mnist/errors.py",
    "fashion_mnist/params.py",
    "fashion_mnist/paths.py",
    "fashion_mnist/stage.py",
}


def test_every_stage_depends_on_its_script_and_every_package_module_that_shapes_its_outputs():
    for name, stage in pipelines().items():
        script = stage_script(stage["cmd"])
        code_deps = {dependency for dependency in stage["deps"] if dependency.endswith(".py")}
        assert code_deps == {script} | (package_imports(REPOSITORY / script) - NOT_DEPENDENCIES), name


def test_the_modules_left_out_of_the_deps_import_nothing_that_computes():
    for module in NOT_DEPENDENCIES:
        imported = package_imports(REPOSITORY / module) - {"fashion_mnist/__init__.py"}
        assert imported <= NOT_DEPENDENCIES, (module, imported - NOT_DEPENDENCIES)


def test_no_code_but_preprocess_final_evaluate_and_export_mentions_the_test_set():
    # preprocess writes it; final-evaluate and export, which run after every decision, read it.
    test_set = re.compile(r"TEST_DATA|test\.npz|TEST_IMAGES_FILE|TEST_LABELS_FILE|t10k")
    sources = [*(REPOSITORY / "stages").glob("*.py"), *(REPOSITORY / "fashion_mnist").glob("*.py")]
    mentions = sorted(str(path.relative_to(REPOSITORY)) for path in sources if test_set.search(path.read_text()))
    # paths.py names the files; every other package module takes the data it is given.
    assert mentions == [
        "fashion_mnist/paths.py",
        "stages/export.py",
        "stages/final_evaluate.py",
        "stages/preprocess.py",
    ]
    assert "load_split(paths.TEST_DATA)" not in (REPOSITORY / "stages/preprocess.py").read_text()


def train_keys_read(tree: ast.AST) -> set[str]:
    """The `train` params keys that code reads as train["key"]."""
    return {
        f"train.{node.slice.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "train"
    }


def test_final_train_depends_on_exactly_the_train_keys_it_reads():
    stage = pipelines()["final-train"]
    declared = {key for key in stage["params"] if isinstance(key, str) and key.startswith("train.")}
    tree = ast.parse((REPOSITORY / "stages/final_train.py").read_text())
    # What the stage reads itself, and through training_arguments(train), train_model's arguments from the section.
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert "training_arguments" in calls
    training = ast.parse((REPOSITORY / "fashion_mnist/training.py").read_text())
    (arguments,) = [
        node for node in ast.walk(training) if isinstance(node, ast.FunctionDef) and node.name == "training_arguments"
    ]
    read = train_keys_read(tree) | train_keys_read(arguments)
    assert {"train.precision", "train.batch_size", "train.augment_on"} <= read
    assert declared == read and "train.epochs" not in declared
    assert "reports/train/best_epoch.json" in stage["deps"], "final.epochs: auto reads it"
    assert not any("metrics.json" in str(entry) for entry in stage["deps"] + stage["params"]), (
        "any metric would rerun it"
    )


def test_editing_a_final_figure_reruns_final_evaluate_only(built_copy: Path):
    append(built_copy / "fashion_mnist/evaluation.py", "\n# A new title for a figure.\n")
    result = run(REPRODUCE_ALL, built_copy)
    assert stages_run(result.stdout) == [FINAL_EVALUATE]
