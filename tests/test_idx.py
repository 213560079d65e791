"""Parsing and validating the IDX files: one test per check."""

from pathlib import Path

import numpy as np
import pytest

from fashion_mnist.errors import DataError
from fashion_mnist.idx import read_split
from tests.synthetic import balanced_labels, images_idx, labels_idx, make_images


def write(path: Path, content: bytes) -> Path:
    """Write `content` to `path` and return the path."""
    path.write_bytes(content)
    return path


@pytest.fixture
def split(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    labels = balanced_labels(3, seed=0)
    images = make_images(labels, seed=1)
    return (
        write(tmp_path / "images-idx3-ubyte", images_idx(images)),
        write(tmp_path / "labels-idx1-ubyte", labels_idx(labels)),
        images,
        labels,
    )


def test_a_valid_split_round_trips(split):
    images_path, labels_path, images, labels = split
    read_images, read_labels = read_split(images_path, labels_path)
    assert read_images.dtype == np.uint8 and read_images.shape == (30, 28, 28, 1)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_a_truncated_file_is_named(split):
    images_path, labels_path, *_ = split
    images_path.write_bytes(images_path.read_bytes()[:-200])
    with pytest.raises(DataError, match=rf"{images_path}: header says 30 images \(23520 pixels\), file holds 23320"):
        read_split(images_path, labels_path)


def test_a_missing_file_is_named(split):
    images_path, labels_path, *_ = split
    labels_path.unlink()
    with pytest.raises(DataError, match=rf"{labels_path}: file not found; run `dvc repro download` first"):
        read_split(images_path, labels_path)


def test_a_wrong_images_magic_number_is_named(split):
    images_path, labels_path, images, _ = split
    write(images_path, images_idx(images, magic=2049))
    with pytest.raises(DataError, match=rf"{images_path}: IDX magic number 2049, expected 2051"):
        read_split(images_path, labels_path)


def test_a_wrong_labels_magic_number_is_named(split):
    images_path, labels_path, _, labels = split
    write(labels_path, labels_idx(labels, magic=2051))
    with pytest.raises(DataError, match=rf"{labels_path}: IDX magic number 2051, expected 2049"):
        read_split(images_path, labels_path)


def test_images_that_are_not_28_by_28_are_named(split):
    images_path, labels_path, _, labels = split
    write(images_path, images_idx(np.zeros((len(labels), 32, 32), dtype=np.uint8)))
    with pytest.raises(DataError, match=rf"{images_path}: images are 32x32, expected 28x28"):
        read_split(images_path, labels_path)


def test_differing_image_and_label_counts_are_named(split):
    images_path, labels_path, _, labels = split
    write(labels_path, labels_idx(labels[:-1]))
    with pytest.raises(DataError, match=rf"{images_path} holds 30 images but {labels_path} holds 29 labels"):
        read_split(images_path, labels_path)


def test_a_label_above_9_is_named(split):
    images_path, labels_path, _, labels = split
    labels = labels.copy()
    labels[7] = 12
    write(labels_path, labels_idx(labels))
    with pytest.raises(DataError, match=rf"{labels_path}: label 12 at index 7, expected 0-9"):
        read_split(images_path, labels_path)


def test_a_header_that_disagrees_with_the_pixels_is_named(split):
    images_path, labels_path, images, _ = split
    write(images_path, images_idx(images)[:-28])
    with pytest.raises(DataError, match=rf"{images_path}: header says 30 images"):
        read_split(images_path, labels_path)


def test_a_file_shorter_than_its_header_is_named(split):
    images_path, labels_path, *_ = split
    images_path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match=rf"{images_path}: 2 bytes is too short for an IDX header"):
        read_split(images_path, labels_path)
