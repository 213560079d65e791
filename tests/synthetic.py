"""Tiny Fashion-MNIST look-alikes written in the real IDX format, for tests that must not download."""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def make_images(labels: np.ndarray, seed: int) -> np.ndarray:
    """Noise plus a bright band whose rows depend on the class, so a CNN can learn it in a few epochs."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28, 1), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index, 2 + 2 * label : 5 + 2 * label, 4:24, 0] = 230
    return images


def balanced_labels(per_class: int, seed: int) -> np.ndarray:
    """`per_class` labels of each of the 10 classes, shuffled."""
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(10, dtype=np.uint8), per_class))


def images_idx(images: np.ndarray, magic: int = IMAGES_MAGIC) -> bytes:
    """IDX bytes of uint8 images shaped (count, rows, columns[, 1])."""
    count, rows, columns = images.shape[:3]
    return struct.pack(">IIII", magic, count, rows, columns) + images.astype(np.uint8).tobytes()


def labels_idx(labels: np.ndarray, magic: int = LABELS_MAGIC) -> bytes:
    """IDX bytes of uint8 labels."""
    return struct.pack(">II", magic, len(labels)) + labels.astype(np.uint8).tobytes()


def write_gzip(path: Path, content: bytes, compresslevel: int = 9, mtime: float = 0) -> Path:
    """Gzip `content` into `path`, creating its folder; the level and header time vary the bytes, not the content."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content, compresslevel=compresslevel, mtime=mtime))
    return path


def dataset_contents(train_per_class: int = 20, test_per_class: int = 5, seed: int = 0) -> dict[str, bytes]:
    """The decompressed IDX content of the four files, by their published .gz name."""
    train_labels = balanced_labels(train_per_class, seed)
    test_labels = balanced_labels(test_per_class, seed + 1)
    return {
        FILE_NAMES["train_images"]: images_idx(make_images(train_labels, seed + 2)),
        FILE_NAMES["train_labels"]: labels_idx(train_labels),
        FILE_NAMES["test_images"]: images_idx(make_images(test_labels, seed + 3)),
        FILE_NAMES["test_labels"]: labels_idx(test_labels),
    }


def write_dataset(
    folder: Path,
    train_per_class: int = 20,
    test_per_class: int = 5,
    seed: int = 0,
    compresslevel: int = 9,
    mtime: float = 0,
) -> dict[str, str]:
    """Write the four gzipped IDX files into `folder`; return each file's decompressed SHA-256."""
    contents = dataset_contents(train_per_class, test_per_class, seed)
    for name, content in contents.items():
        write_gzip(Path(folder) / name, content, compresslevel=compresslevel, mtime=mtime)
    return {name: hashlib.sha256(content).hexdigest() for name, content in contents.items()}
