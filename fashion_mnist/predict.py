"""Classify your own photos of clothing: `python -m fashion_mnist.predict photo.jpg [more.jpg ...]`.

Each photo is prepared the way Fashion-MNIST's images were made (see fashion_mnist.photo), then the
model prints its three most likely classes; `--explain DIR` draws all ten.
"""

import argparse
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from fashion_mnist import paths
from fashion_mnist.dataset import CLASS_NAMES
from fashion_mnist.errors import DataError
from fashion_mnist.explanation import explanation_figure
from fashion_mnist.files import atomic_path, save_figure
from fashion_mnist.idx import IMAGE_SIZE
from fashion_mnist.loading import load_model
from fashion_mnist.model import classifier_of
from fashion_mnist.photo import load_photo, prepare_photo
from fashion_mnist.stage import run_stage

TOP_CLASSES = 3
# The project this package lives in, when it is installed in place (`pip install -e .`, as `make setup` does).
PROJECT = Path(__file__).resolve().parent.parent


def default_model() -> Path:
    """`models/final.keras` of the current folder, or else of the project the command was installed from."""
    if paths.FINAL_MODEL.exists() or not (PROJECT / paths.FINAL_MODEL).exists():
        return paths.FINAL_MODEL
    return PROJECT / paths.FINAL_MODEL


def parse_arguments(
    arguments: list[str] | None = None, prog: str = "python -m fashion_mnist.predict"
) -> argparse.Namespace:
    """The command line: photos, the model to use, and where to keep the prepared images and the explanations."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print the 3 most likely Fashion-MNIST classes of each photo.",
        epilog="Photos of the same name (a/shirt.jpg, b/shirt.jpg) are saved as shirt_..., shirt_2_... and so on.",
    )
    parser.add_argument("photos", nargs="+", type=Path, help="image files (JPEG, PNG, ...) of one item each")
    add_model_argument(parser)
    parser.add_argument(
        "--save-input", type=Path, metavar="DIR", help="write the 28x28 image fed to the model as DIR/<photo>_28x28.png"
    )
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="DIR",
        help="draw the photo, its 28x28 input and the ten probabilities as DIR/<photo>_explained.png",
    )
    return with_default_model(parser.parse_args(arguments))


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """The --model option, which `predict` and `serve` share."""
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"a .keras model or the export's int8 .tflite; load only models you trust (default: {paths.FINAL_MODEL} "
        "of this folder, or of the project the command was installed from)",
    )


def with_default_model(parsed: argparse.Namespace) -> argparse.Namespace:
    """The parsed command line with `model` set, to the default when none was named, and `model_given` saying which."""
    parsed.model_given = parsed.model is not None
    if not parsed.model_given:
        parsed.model = default_model()
    return parsed


def require_model(path: Path, given: bool) -> None:
    """Stop, saying how to get one, when the default model is missing; a model named with --model is checked
    when it loads."""
    if not given and not path.exists():
        raise DataError(
            f"{path}: model file not found here or in {PROJECT}; run `make pipeline` or `dvc pull` in the project, "
            "or name a model with --model"
        )


def load_classifier(model_path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """A function from uint8 images (N, 28, 28) to class probabilities (N, 10) under a .keras or int8 .tflite
    model, the model loaded once."""
    suffix = model_path.suffix.lower()
    if suffix == ".keras":
        model = load_model(model_path)
        input_shape = tuple(classifier_of(model).input_shape[1:])
        if input_shape != (IMAGE_SIZE, IMAGE_SIZE, 1):
            raise DataError(
                f"{model_path}: the model takes inputs of shape {input_shape}; "
                f"expected a Fashion-MNIST classifier of ({IMAGE_SIZE}, {IMAGE_SIZE}, 1) images"
            )
        # The models rescale uint8 levels themselves (their Rescaling layer), as in training.
        return lambda images: np.asarray(model.predict(images[..., np.newaxis], verbose=0))
    if suffix == ".tflite":
        # Imported here so that .keras models do not need the LiteRT interpreter.
        from fashion_mnist.export import int8_probabilities

        return partial(int8_probabilities, model_path)
    raise DataError(f"{model_path}: unknown model format {suffix or '(no suffix)'}; expected a .keras or .tflite file")


def predict_probabilities(model_path: Path, images: np.ndarray) -> np.ndarray:
    """The class probabilities (N, 10) of uint8 images (N, 28, 28) under a .keras or int8 .tflite model."""
    return load_classifier(model_path)(images)


def top_classes(probabilities: np.ndarray, count: int = TOP_CLASSES) -> list[tuple[str, float]]:
    """The `count` most likely classes of one image's probabilities, most likely first."""
    order = np.argsort(probabilities)[::-1][:count]
    return [(CLASS_NAMES[index], float(probabilities[index])) for index in order]


def output_names(photos: list[Path]) -> list[str]:
    """A name for each photo's files: its stem, with _2, _3, ... for a later, different photo of the same stem."""
    # Compared case-blind, since shirt.jpg and Shirt.png would be one file on macOS and Windows.
    stems = {photo.stem.casefold() for photo in photos}
    given: dict[Path, str] = {}
    used: set[str] = set()
    for photo in photos:
        if photo.resolve() in given:
            continue
        name, number = photo.stem, 1
        # A numbered name is never another photo's own stem, which that photo keeps.
        while name.casefold() in used or (number > 1 and name.casefold() in stems):
            number += 1
            name = f"{photo.stem}_{number}"
        used.add(name.casefold())
        given[photo.resolve()] = name
    return [given[photo.resolve()] for photo in photos]


def save_input(image: np.ndarray, path: Path) -> None:
    """Write a prepared 28x28 image as a grayscale PNG, atomically."""
    with atomic_path(path) as temporary:
        Image.fromarray(image).save(temporary, format="PNG")


def main(arguments: list[str] | None = None, prog: str = "python -m fashion_mnist.predict") -> None:
    """Prepare every photo, then print each one's top classes under the model."""
    arguments = parse_arguments(arguments, prog=prog)
    # Every photo is checked before the model loads, so a bad file fails fast.
    images = np.stack([prepare_photo(photo) for photo in arguments.photos])
    names = output_names(arguments.photos)
    if arguments.save_input:
        for image, photo, name in zip(images, arguments.photos, names, strict=True):
            path = arguments.save_input / f"{name}_28x28.png"
            save_input(image, path)
            print(f"{photo}: model input saved as {path}")
    require_model(arguments.model, given=arguments.model_given)
    probabilities = predict_probabilities(arguments.model, images)
    for photo, row in zip(arguments.photos, probabilities, strict=True):
        print(f"{photo}: " + ", ".join(f"{name} {probability:.3f}" for name, probability in top_classes(row)))
    if arguments.explain:
        for image, photo, name, row in zip(images, arguments.photos, names, probabilities, strict=True):
            path = arguments.explain / f"{name}_explained.png"
            save_figure(explanation_figure(load_photo(photo), image, row, title=str(photo)), path)
            print(f"{photo}: explanation saved as {path}")


if __name__ == "__main__":
    run_stage(main)
