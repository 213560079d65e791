"""Atomic file writes: a reader sees the old complete file or the new one, never half of one."""

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it over `path` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so the final rename never crosses a file system. The suffixes are kept
    # because some writers choose the format by them (Keras wants `.keras` or `.weights.h5`).
    # The `.tmp-` prefix is in .gitignore and .dvcignore: what a killed process leaves is never committed.
    suffix = "".join(path.suffixes)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".tmp-{path.name.removesuffix(suffix)}-", suffix=suffix
    )
    os.close(descriptor)
    temporary = Path(temporary)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
        # The rename lives in the folder's entry list: sync it too, or a power cut can undo the rename.
        _fsync_directory(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_json(path: Path, data: dict) -> None:
    """Write `data` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write `table` as CSV without its index to `path` atomically."""
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)


def save_figure(figure: Figure, path: Path) -> None:
    """Render `figure` to an image file atomically; the format follows the suffix."""
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=100)
