"""Comparing two git branches that ran the pipeline with different params."""

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import QUICK_PARAMS, REPOSITORY, REPRODUCE_ALL, commit, project_copy, run, set_params

pytestmark = pytest.mark.slow


MAIN_EPOCHS = QUICK_PARAMS["train"]["epochs"]
OTHER_EPOCHS = MAIN_EPOCHS + 1


def declared_metrics() -> list[str]:
    """Every metrics file that the two pipeline files declare."""
    stages = {}
    for pipeline in ["dvc.yaml", "final/dvc.yaml"]:
        stages |= yaml.safe_load((REPOSITORY / pipeline).read_text())["stages"]
    paths = [next(iter(entry)) for stage in stages.values() for entry in stage.get("metrics", [])]
    assert paths == [
        "reports/train/metrics.json",
        "reports/final-train/metrics.json",
        "reports/final/metrics.json",
        "reports/photos/metrics.json",
        "reports/export/metrics.json",
    ]
    return paths


def flatten(values: dict, prefix: str = "") -> dict:
    """Nested metrics as DVC names them: one dotted key per number."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def metrics_at(project: Path, branch: str, path: str) -> dict:
    """A metrics file as committed on `branch`, flattened."""
    return flatten(json.loads(run(["git", "show", f"{branch}:{path}"], project).stdout))


@pytest.fixture(scope="module")
def branches(built_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with `main` run as configured and `other` run again with one more epoch; tests only read it."""
    project = project_copy(built_project, tmp_path_factory.mktemp("branches") / "project")
    run(["git", "checkout", "-q", "-b", "other"], project)
    set_params(project, {"train": {"epochs": OTHER_EPOCHS}})
    run(REPRODUCE_ALL, project)
    commit(project, "Train for one more epoch")
    return project


def test_metrics_diff_reports_every_changed_number_between_branches(branches: Path):
    diff = json.loads(run(["dvc", "metrics", "diff", "main", "other", "--json"], branches).stdout)

    assert diff["reports/train/metrics.json"]["epochs"] == {"old": MAIN_EPOCHS, "new": OTHER_EPOCHS, "diff": 1}
    for path in declared_metrics():
        old, new = metrics_at(branches, "main", path), metrics_at(branches, "other", path)
        changed = {key: {"old": old[key], "new": new[key]} for key in old if old[key] != new[key]}
        reported = {key: {"old": entry["old"], "new": entry["new"]} for key, entry in diff.get(path, {}).items()}
        assert reported == changed, path


def test_params_diff_names_the_changed_key(branches: Path):
    diff = json.loads(run(["dvc", "params", "diff", "main", "other", "--json"], branches).stdout)
    assert diff == {"params.yaml": {"train.epochs": {"old": MAIN_EPOCHS, "new": OTHER_EPOCHS, "diff": 1}}}


def test_plots_diff_renders_both_branches(branches: Path, tmp_path: Path):
    output = tmp_path / "plots"
    run(["dvc", "plots", "diff", "main", "other", "-o", str(output)], branches)
    page = (output / "index.html").read_text()
    assert '"rev": "main"' in page and '"rev": "other"' in page
    for branch in ["main", "other"]:
        for image in ["reports_train_learning_curves.png", "reports_final_confusion_matrix.png"]:
            assert (output / "static" / f"{branch}_{image}").read_bytes().startswith(b"\x89PNG")

    shown = run(["dvc", "plots", "diff", "main", "other", "--json", "-o", str(tmp_path / "json")], branches)
    (loss,) = json.loads(shown.stdout)["data"]["Loss"]
    rows = loss["content"]["data"]["values"]
    epochs = {branch: {int(row["step"]) for row in rows if row["rev"] == branch} for branch in ["main", "other"]}
    assert epochs == {"main": set(range(1, MAIN_EPOCHS + 1)), "other": set(range(1, OTHER_EPOCHS + 1))}
