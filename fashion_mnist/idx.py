"""Read the IDX files that Fashion-MNIST ships in, checking every header field."""

from pathlib import Path

import numpy as np

from fashion_mnist.errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
IMAGE_SIZE = 28
NUM_CLASSES = 10


def read_file(path: Path) -> bytes:
    """Return the bytes of a file; a missing file raises DataError naming it."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run `dvc repro download` first") from None


def _header(path: Path, content: bytes, magic: int, fields: int) -> list[int]:
    size = 4 * (1 + fields)
    if len(content) < size:
        raise DataError(f"{path}: {len(content)} bytes is too short for an IDX header of {size} bytes")
    values = np.frombuffer(content[:size], dtype=">u4").tolist()
    if values[0] != magic:
        raise DataError(f"{path}: IDX magic number {values[0]}, expected {magic}")
    return values[1:]


def parse_images(path: Path, content: bytes) -> np.ndarray:
    """Parse IDX image bytes into a uint8 array of shape (count, 28, 28, 1)."""
    count, rows, columns = _header(path, content, IMAGES_MAGIC, fields=3)
    if (rows, columns) != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(f"{path}: images are {rows}x{columns}, expected {IMAGE_SIZE}x{IMAGE_SIZE}")
    pixels = np.frombuffer(content, dtype=np.uint8, offset=16)
    if pixels.size != count * rows * columns:
        raise DataError(
            f"{path}: header says {count} images ({count * rows * columns} pixels), file holds {pixels.size} pixels"
        )
    return pixels.reshape(count, rows, columns, 1)


def parse_labels(path: Path, content: bytes) -> np.ndarray:
    """Parse IDX label bytes into a uint8 array of class numbers 0-9."""
    (count,) = _header(path, content, LABELS_MAGIC, fields=1)
    labels = np.frombuffer(content, dtype=np.uint8, offset=8)
    if labels.size != count:
        raise DataError(f"{path}: header says {count} labels, file holds {labels.size}")
    if labels.size and labels.max() >= NUM_CLASSES:
        position = int(np.argmax(labels >= NUM_CLASSES))
        raise DataError(f"{path}: label {labels[position]} at index {position}, expected 0-{NUM_CLASSES - 1}")
    return labels


def read_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one split's image and label files and check that they pair up."""
    images = parse_images(images_path, read_file(images_path))
    labels = parse_labels(labels_path, read_file(labels_path))
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    return images, labels
