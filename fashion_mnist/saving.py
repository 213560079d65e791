"""Save `.keras` files whose bytes depend on the model alone, so an unchanged rerun leaves dvc.lock alone."""

import json
import zipfile
from pathlib import Path

import keras

from fashion_mnist.files import atomic_path

# The earliest time a zip entry can carry; any fixed time would do.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_model(model: keras.Model, path: Path) -> None:
    """Save `model` as a `.keras` file atomically, without the save time Keras writes into it."""
    with atomic_path(path) as temporary:
        model.save(temporary)
        _strip_save_time(temporary)


def _strip_save_time(path: Path) -> None:
    # Keras records `date_saved` in metadata.json and stamps each zip entry with the current time.
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, content in entries:
            if info.filename == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata, sort_keys=True).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            archive.writestr(entry, content)
