"""The photo benchmark: its quick mode scores every background and draws the figure; the photo page quotes it."""

import json
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from benchmarks.photos import markdown, softmax_sentence
from fashion_mnist.dataset import CLASS_NAMES
from tests.conftest import REPOSITORY, run
from tests.photographs import SCENES


def test_the_photo_page_quotes_the_committed_photo_report():
    report = json.loads((REPOSITORY / "reports" / "photos.json").read_text())
    readme = (REPOSITORY / "docs/photos.md").read_text()
    assert report["quick"] is False and report["test_images"] == 1000
    assert markdown(report) in readme
    assert softmax_sentence(report) in " ".join(readme.split())
    # What the page says of the table: within the goal of 3 points of the originals, the most lost named, and
    # most lost when only shrunk.
    assert all(abs(row["points_from_originals"]) < 3 for row in report["scenes"])
    worst = min(report["scenes"], key=lambda row: row["points_from_originals"])
    assert f"the most lost is {-worst['points_from_originals']:.1f} points, {worst['scene']}." in " ".join(
        readme.split()
    )
    assert all(row["shrunk_accuracy"] < row["accuracy"] / 2 for row in report["scenes"])
    figure = Path(report["explained"]["figure"])
    assert (REPOSITORY / figure).is_file() and f"]({figure.relative_to('docs').as_posix()})" in readme
    # The page says the committed run scores the pipeline's model: the one final/dvc.lock names.
    lock = yaml.safe_load((REPOSITORY / "final/dvc.lock").read_text())
    outputs = lock["stages"]["final-train"]["outs"]
    (final_model,) = [out["md5"] for out in outputs if out["path"] == "models/final.keras"]
    assert report["model"] == "models/final.keras" and report["model_md5"] == final_model, (
        "reports/photos.json scored another model: run `python -m benchmarks.photos --model models/final.keras`"
    )


@pytest.mark.usefixtures("real_data")
def test_the_quick_photo_benchmark_scores_every_background_and_draws_the_figure(tmp_path: Path):
    output, figure = tmp_path / "photos.json", tmp_path / "explained.png"
    result = run(
        [sys.executable, "-m", "benchmarks.photos", "--quick", "--output", str(output), "--figure", str(figure)],
        REPOSITORY,
    )
    report = json.loads(output.read_text())
    assert report["quick"] is True and report["test_images"] == 20
    assert [row["scene"] for row in report["scenes"]] == list(SCENES)
    for row in report["scenes"]:
        assert row["photos"] == 20 and 0 <= row["refused"] <= 20
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["original_accuracy"] <= 1 and 0 <= row["shrunk_accuracy"] <= 1
        difference = 100 * (row["accuracy"] - row["original_accuracy"])
        assert row["points_from_originals"] == pytest.approx(difference, abs=0.06)
    assert markdown(report) in result.stdout
    probabilities = report["explained"]["probabilities"]
    assert list(probabilities) == list(CLASS_NAMES)
    assert sum(probabilities.values()) == pytest.approx(1, abs=0.01)
    assert report["explained"]["probability"] == max(probabilities.values())
    with Image.open(figure) as image:
        assert image.format == "PNG" and image.size == (1200, 400)
