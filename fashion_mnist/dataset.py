"""The prepared dataset: class names, subsets, the validation split and the .npz files between stages."""

import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from fashion_mnist.errors import DataError
from fashion_mnist.files import atomic_path

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _check_stratifiable(total: int, part: int, classes: int, what: str) -> None:
    # Stratifying puts at least one image of each class on both sides of the cut.
    if part < classes or total - part < classes:
        raise DataError(
            f"{what} splits {total} images into {part} and {total - part}; "
            f"each part needs at least one image of each of the {classes} classes"
        )


def stratified_subset(
    images: np.ndarray, labels: np.ndarray, size: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return a seeded subset of `size` samples with the class proportions of the whole; None keeps all."""
    if size is None or size >= len(labels):
        return images, labels
    _check_stratifiable(len(labels), size, np.unique(labels).size, what=f"preprocess.max_train_samples={size}")
    kept_images, _, kept_labels, _ = train_test_split(
        images, labels, train_size=size, stratify=labels, random_state=seed
    )
    return kept_images, kept_labels


def validation_split(
    images: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Split into (train, validation), seeded and stratified so each class keeps its share in both."""
    # train_test_split rounds the validation part up.
    validation_size = math.ceil(fraction * len(labels))
    _check_stratifiable(len(labels), validation_size, np.unique(labels).size, what=f"train.validation_split={fraction}")
    x_train, x_validation, y_train, y_validation = train_test_split(
        images, labels, test_size=fraction, stratify=labels, random_state=seed
    )
    return (x_train, y_train), (x_validation, y_validation)


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """Count the samples of each class, by class name."""
    counts = np.bincount(labels, minlength=len(CLASS_NAMES))
    return {name: int(count) for name, count in zip(CLASS_NAMES, counts, strict=True)}


def class_count_table(train_labels: np.ndarray, test_labels: np.ndarray) -> pd.DataFrame:
    """Images per class in each split, one row per class name, for a bar chart in `dvc plots`."""
    return pd.DataFrame(
        {
            "class": CLASS_NAMES,
            "train": list(class_counts(train_labels).values()),
            "test": list(class_counts(test_labels).values()),
        }
    )


def save_split(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write images and labels to a compressed .npz file atomically."""
    with atomic_path(path) as temporary:
        np.savez_compressed(temporary, images=images, labels=labels)


def load_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read images and labels written by `save_split`, refusing anything that would need pickle."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run `dvc repro preprocess` first") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a prepared dataset ({error})") from None
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (28, 28, 1) or len(images) != len(labels):
        raise DataError(
            f"{path}: expected uint8 images of shape (N, 28, 28, 1) with N labels, got {images.dtype} {images.shape}"
        )
    return images, labels
