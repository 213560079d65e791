"""Subsets, the validation split and the .npz files between stages."""

from pathlib import Path

import numpy as np
import pytest

from fashion_mnist.dataset import CLASS_NAMES, class_counts, load_split, save_split, stratified_subset, validation_split
from fashion_mnist.errors import DataError
from tests.synthetic import balanced_labels, make_images

# Images per class in the imbalanced fixture: a fifth of each is a whole number, and no two classes are equal.
IMBALANCED_COUNTS = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    labels = balanced_labels(20, seed=0)
    return make_images(labels, seed=1), labels


@pytest.fixture
def imbalanced() -> tuple[np.ndarray, np.ndarray]:
    """275 images in the class counts of IMBALANCED_COUNTS, shuffled, where stratified and balanced draws differ."""
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(10, dtype=np.uint8), IMBALANCED_COUNTS))
    return make_images(labels, seed=1), labels


def test_a_subset_keeps_every_class_equally_and_is_seeded(data):
    images, labels = data
    subset_images, subset_labels = stratified_subset(images, labels, size=50, seed=3)
    assert set(class_counts(subset_labels).values()) == {5}
    again_images, _ = stratified_subset(images, labels, size=50, seed=3)
    np.testing.assert_array_equal(subset_images, again_images)
    other_images, _ = stratified_subset(images, labels, size=50, seed=4)
    assert not np.array_equal(subset_images, other_images)


def test_a_subset_keeps_each_class_proportion(imbalanced):
    images, labels = imbalanced
    _, subset_labels = stratified_subset(images, labels, size=55, seed=3)
    # 55 of 275 images is a fifth of each class; a class-balanced draw would take 5 or 6 of each.
    assert list(class_counts(subset_labels).values()) == [count // 5 for count in IMBALANCED_COUNTS]


@pytest.mark.parametrize("size", [None, 200, 1000])
def test_no_subset_when_the_cap_is_null_or_not_below_the_total(data, size):
    images, labels = data
    kept_images, kept_labels = stratified_subset(images, labels, size=size, seed=0)
    assert kept_images is images and kept_labels is labels


def test_the_validation_split_is_stratified_seeded_and_disjoint(data):
    images, labels = data
    (x_train, y_train), (x_validation, y_validation) = validation_split(images, labels, fraction=0.2, seed=0)
    assert len(y_train) == 160 and len(y_validation) == 40
    assert set(class_counts(y_validation).values()) == {4}
    assert set(class_counts(y_train).values()) == {16}
    # Unlike Keras's validation_split, it is not simply the last 20%.
    assert not np.array_equal(x_validation, images[-40:])
    train_rows = {image.tobytes() for image in x_train}
    assert not any(image.tobytes() in train_rows for image in x_validation)
    (_, _), (again, _) = validation_split(images, labels, fraction=0.2, seed=0)
    np.testing.assert_array_equal(x_validation, again)


def test_the_validation_split_keeps_each_class_proportion(imbalanced):
    images, labels = imbalanced
    (_, y_train), (_, y_validation) = validation_split(images, labels, fraction=0.2, seed=0)
    assert list(class_counts(y_validation).values()) == [count // 5 for count in IMBALANCED_COUNTS]
    assert list(class_counts(y_train).values()) == [count * 4 // 5 for count in IMBALANCED_COUNTS]


def test_class_counts_name_every_class():
    counts = class_counts(np.array([0, 0, 9], dtype=np.uint8))
    assert list(counts) == list(CLASS_NAMES)
    assert counts["T-shirt/top"] == 2 and counts["Ankle boot"] == 1 and counts["Bag"] == 0


def test_a_split_round_trips_through_npz(data, tmp_path: Path):
    images, labels = data
    save_split(tmp_path / "train.npz", images=images, labels=labels)
    loaded_images, loaded_labels = load_split(tmp_path / "train.npz")
    np.testing.assert_array_equal(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, labels)
    assert [path.name for path in tmp_path.iterdir()] == ["train.npz"]


def test_a_missing_split_says_which_stage_makes_it(tmp_path: Path):
    with pytest.raises(DataError, match=r"train\.npz: file not found; run `dvc repro preprocess` first"):
        load_split(tmp_path / "train.npz")


def test_a_corrupt_split_is_named(tmp_path: Path):
    (tmp_path / "train.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"train\.npz: not a prepared dataset"):
        load_split(tmp_path / "train.npz")


def test_a_split_with_the_wrong_shape_is_named(tmp_path: Path):
    np.savez(tmp_path / "train.npz", images=np.zeros((3, 28, 28), dtype=np.uint8), labels=np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataError, match=r"expected uint8 images of shape \(N, 28, 28, 1\)"):
        load_split(tmp_path / "train.npz")


def test_a_subset_too_close_to_the_whole_to_stratify_names_the_key(data):
    images, labels = data
    with pytest.raises(DataError, match=r"preprocess\.max_train_samples=195 splits 200 images into 195 and 5"):
        stratified_subset(images, labels, size=195, seed=0)


def test_a_validation_part_too_small_for_every_class_names_the_key(data):
    images, labels = data
    with pytest.raises(DataError, match=r"train\.validation_split=0\.01 splits 200 images into 2 and 198"):
        validation_split(images, labels, fraction=0.01, seed=0)
