"""The score-photos stage: real phone photos scored through `predict`'s path, per class and per kind."""

import csv
import json
from pathlib import Path

import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.photo_scores import photo_metrics, read_labels
from tests.conftest import REPOSITORY, project_copy, run


def write_labels(path: Path, rows: list[list[str]], header=("file", "label", "source_class", "kind")) -> Path:
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return path


def test_the_shipped_labels_are_read_and_the_unlabelled_photo_is_left_out():
    rows = read_labels(REPOSITORY / "data/photos/labels.csv")
    assert len(rows) == 230 and all(row["label"] for row in rows)
    assert {row["kind"] for row in rows} == {"flat", "hanging", "pair", "single"}
    assert all((REPOSITORY / "data/photos" / row["file"]).is_file() for row in rows)


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([["a.jpg", "Shirt", "shirt"]], ("file", "label", "source_class"), "the columns are"),
        ([["a.jpg", "Shirt", "shirt", "flat"], ["b.jpg", "Hat", "hat", "flat"]], None, "line 3: unknown label 'Hat'"),
        ([["a.jpg", "Shirt", "shirt", "worn"]], None, "line 2: unknown kind 'worn'"),
    ],
)
def test_a_bad_labels_file_is_named_with_its_line(tmp_path: Path, rows, header, message):
    path = write_labels(tmp_path / "labels.csv", rows, *([header] if header else []))
    with pytest.raises(DataError, match=message) as raised:
        read_labels(path)
    assert str(raised.value).startswith(str(path))


def outcome(label: str, kind: str, predicted: str = "", refused: str = "") -> dict:
    return {
        "file": "x.jpg",
        "label": label,
        "kind": kind,
        "predicted": predicted,
        "probability": None,
        "refused": refused,
    }


def test_a_refused_photo_counts_as_wrong_and_garments_are_scored_apart_from_shoes():
    outcomes = [
        outcome("Shirt", "flat", predicted="Shirt"),
        outcome("Shirt", "hanging", predicted="Coat"),
        outcome("Trouser", "flat", refused="found two items"),
        outcome("Trouser", "flat", predicted="Trouser"),
        outcome("Sneaker", "pair", predicted="Bag"),
    ]
    metrics = photo_metrics(outcomes)
    assert metrics["garments"] == {"photos": 4, "accuracy": 0.5, "refused": 0.25}
    assert metrics["shoes"] == {"photos": 1, "accuracy": 0.0, "refused": 0.0}
    assert metrics["per_class"]["Trouser"] == {"photos": 2, "accuracy": 0.5, "refused": 0.5}
    assert metrics["per_kind"] == {
        "flat": {"photos": 3, "accuracy": 0.6667, "refused": 0.3333},
        "hanging": {"photos": 1, "accuracy": 0.0, "refused": 0.0},
        "pair": {"photos": 1, "accuracy": 0.0, "refused": 0.0},
    }
    # Classes without photos are left out rather than scored 0.
    assert "Bag" not in metrics["per_class"]


@pytest.mark.slow
def test_the_stage_scores_each_photo_and_dvc_shows_its_metrics(built_project: Path, tmp_path: Path):
    project = project_copy(built_project, tmp_path / "project")
    metrics = json.loads((project / "reports/photos/metrics.json").read_text())
    outcomes = list(csv.DictReader((project / "reports/photos/outcomes.csv").read_text().splitlines()))
    labelled = read_labels(project / "data/photos/labels.csv")
    assert [row["file"] for row in outcomes] == [row["file"] for row in labelled]
    # Each photo has a class and its probability, or the reason it was refused, never both.
    assert all(bool(row["predicted"]) != bool(row["refused"]) for row in outcomes)
    assert metrics["garments"]["photos"] == 6 and metrics["shoes"]["photos"] == 3
    assert (project / "reports/photos/steps.png").stat().st_size > 10_000
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project).stdout)
    assert any("reports/photos/metrics.json" in str(entry) for entry in shown.values())
    # Nothing to do once it has run: the photos and the model are what it depends on.
    assert "score-photos" not in run(["dvc", "status", "final/dvc.yaml"], project).stdout
    (project / "data/photos/labels.csv").write_text((project / "data/photos/labels.csv").read_text() + "\n")
    assert "score-photos" in run(["dvc", "status", "final/dvc.yaml"], project).stdout
