"""How prepared photos score against the test images they were made from, on each kind of background.

    python -m benchmarks.photos                              # trains a small model first, as the tests do (minutes)
    python -m benchmarks.photos --model models/final.keras   # the pipeline's model, after `dvc repro` or `dvc pull`
    python -m benchmarks.photos --quick                      # a few photos and a tiny model, to reports/quick/

Each of the first 1,000 test images becomes a photo on every background of tests/photographs.py, as
PNG and JPEG in turn. Writes reports/photos.json (or --output), draws one `predict --explain` figure
as docs/predict_explain.png (or --figure), both under reports/quick/ in quick mode, and prints the photo page's table.
"""

import argparse
import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.outputs import output_path
from fashion_mnist import paths
from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.explanation import explanation_figure
from fashion_mnist.files import save_figure, write_json
from fashion_mnist.photo import PhotoError, load_photo, prepare_photo
from fashion_mnist.predict import predict_probabilities
from tests.photographs import SCENES, SEED, grey, photograph, read_real_split, train_small_model, write_photos

REPOSITORY = Path(__file__).resolve().parent.parent
FIGURE = REPOSITORY / "docs" / "predict_explain.png"
# The photo of the figure: a white T-shirt on a grey table, which came out blank before the item was told
# from the background by how it differs from it.
TABLE, SHIRT = 128, 240


def accuracy(model: Path, images: np.ndarray, labels: np.ndarray) -> float:
    """The share of `images` that `model` classifies as `labels`, 0 to 1."""
    return float(np.mean(predict_probabilities(model, images).argmax(axis=1) == labels)) if len(images) else 0.0


def scene_scores(model: Path, images: np.ndarray, labels: np.ndarray, scene: str, folder: Path) -> dict:
    """Prepared photos of one scene against the originals they were made from, and the whole photo shrunk."""
    photos = write_photos(images, folder, SCENES[scene])
    prepared, kept, refusals = [], [], []
    for index, path in enumerate(photos):
        try:
            prepared.append(prepare_photo(path))
            kept.append(index)
        except PhotoError as error:
            # Named within the scene, not by the temporary folder, so that reruns write the same report.
            refusals.append(f"{path.parent.name}/{path.name}: {str(error).removeprefix(f'{path}: ')}")
    # What a classifier sees without preparation: the whole photo, grayscale, squeezed to 28x28.
    shrunk = np.stack(
        [np.asarray(Image.open(path).convert("L").resize((28, 28), Image.Resampling.LANCZOS)) for path in photos]
    )
    prepared_accuracy = accuracy(model, np.array(prepared).reshape(-1, 28, 28), labels[kept])
    original_accuracy = accuracy(model, images[kept], labels[kept])
    return {
        "scene": scene,
        "photos": len(photos),
        "refused": len(refusals),
        "refusals": refusals[:5],
        "accuracy": round(prepared_accuracy, 4),
        "original_accuracy": round(original_accuracy, 4),
        "points_from_originals": round(100 * (prepared_accuracy - original_accuracy), 1),
        "shrunk_accuracy": round(accuracy(model, shrunk, labels), 4),
    }


def draw_explanation(model: Path, images: np.ndarray, labels: np.ndarray, folder: Path, figure_path: Path) -> dict:
    """Draw `predict --explain`'s figure for the first T-shirt of the test images, white on a grey table."""
    index = int(np.flatnonzero(labels == CLASS_NAMES.index("T-shirt/top"))[0])
    path = folder / "white T-shirt on a grey table.jpg"
    photograph(images[index], grey(TABLE), grey(SHIRT), np.random.default_rng(SEED)).save(path, quality=85)
    model_input = prepare_photo(path)
    probabilities = predict_probabilities(model, model_input[np.newaxis])[0]
    title = f"A white T-shirt on a grey table, made from test image {index}"
    save_figure(explanation_figure(load_photo(path), model_input, probabilities, title=title), figure_path)
    answer = int(probabilities.argmax())
    figure_path = figure_path.resolve()
    return {
        "test_image": index,
        "figure": str(figure_path.relative_to(REPOSITORY) if figure_path.is_relative_to(REPOSITORY) else figure_path),
        "answer": CLASS_NAMES[answer],
        "probability": round(float(probabilities[answer]), 3),
        "probabilities": {name: round(float(value), 3) for name, value in zip(CLASS_NAMES, probabilities, strict=True)},
    }


def markdown(report: dict) -> str:
    """The report as the photo page's table of accuracies by background."""
    lines = [
        "| background | photos | refused | accuracy, prepared | the same test images | points from them "
        "| whole photo shrunk to 28×28 |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {row['scene']} | {row['photos']:,} | {row['refused']} | {row['accuracy']:.3f} "
        f"| {row['original_accuracy']:.3f} | {row['points_from_originals']:+.1f} | {row['shrunk_accuracy']:.3f} |"
        for row in report["scenes"]
    ]
    return "\n".join(lines)


def softmax_sentence(report: dict) -> str:
    """The photo page's words on the figure's two most likely classes, from the report."""
    ranked = sorted(report["explained"]["probabilities"].items(), key=lambda item: item[1], reverse=True)
    (answer, probability), (runner_up, second) = ranked[:2]
    return f"here {answer} has {probability:.3f} and the runner-up, {runner_up}, {second:.3f}"


def main() -> None:
    """Make the photos, score them, draw the figure and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a .keras or int8 .tflite model (default: train a small one)")
    parser.add_argument("--quick", action="store_true", help="20 photos a background and a tiny model")
    parser.add_argument("--output", type=Path, help="default: reports/photos.json; --quick: reports/quick/")
    parser.add_argument("--figure", type=Path, help="default: docs/predict_explain.png; --quick: reports/quick/")
    arguments = parser.parse_args()
    output = output_path(arguments.output, paths.REPORTS_DIR / "photos.json", arguments.quick)
    figure = output_path(arguments.figure, FIGURE, arguments.quick)

    count = 20 if arguments.quick else 1000
    images, labels = read_real_split("t10k")
    images, labels = images[:count, :, :, 0], labels[:count]
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-photos-") as scratch:
        scratch = Path(scratch)
        if arguments.model:
            model, description = arguments.model, str(arguments.model)
        else:
            training_images, epochs = (1000, 1) if arguments.quick else (8000, 2)
            description = f"blog_cnn, first {training_images:,} training images, {epochs} epochs, seed {SEED}"
            print(description, flush=True)
            model = train_small_model(scratch / "model" / "model.keras", count=training_images, epochs=epochs)
        scenes = []
        for scene in SCENES:
            print(f"{scene}: {count:,} photos", flush=True)
            scenes.append(scene_scores(model, images, labels, scene, scratch / scene.replace(" ", "-")))
        explained = draw_explanation(model, images, labels, scratch, figure)
        original_accuracy = accuracy(model, images, labels)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "quick": arguments.quick,
        "model": description,
        # The file's MD5, as dvc.lock records it: the photo page's figures are those of the model the lock names.
        "model_md5": hashlib.md5(Path(model).read_bytes()).hexdigest() if arguments.model else None,
        "test_images": count,
        "original_accuracy": round(original_accuracy, 4),
        "scenes": scenes,
        "explained": explained,
    }
    write_json(output, report)
    print(markdown(report))
    print(f"The figure's answer: {softmax_sentence(report)}.")


if __name__ == "__main__":
    main()
