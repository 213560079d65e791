"""Save `.keras` files whose bytes depend on the model alone, so an unchanged rerun leaves dvc.lock alone."""

import json
import zipfile
from pathlib import Path

import keras

from fashion_mnist.files import atomic_path

# The earliest time a zip entry can carry; any fixed time would do.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def inference_copy(model: keras.Model) -> keras.Model:
    """The same architecture and weights, without an optimizer: what predicting needs, and a third of the size.

    Adam keeps two moments of every weight; resuming training reads them from the checkpoints, not from here.
    """
    # From the architecture alone: keras.models.clone_model would carry the compile settings along.
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def save_model(model: keras.Model, path: Path) -> None:
    """Save `model` for inference as a `.keras` file atomically, without what would differ between two identical
    runs: the optimizer's state, the save time and memory addresses."""
    with atomic_path(path) as temporary:
        inference_copy(model).save(temporary)
        _make_reproducible(temporary)


def _number_shared_objects(config: object, numbers: dict[int, int]) -> object:
    # Keras marks an object that several layers share (a dtype policy) with its Python id(), a memory
    # address that changes with every process; numbering them in order keeps which ones are shared.
    if isinstance(config, dict):
        return {
            key: numbers.setdefault(value, len(numbers))
            if key == "shared_object_id"
            else _number_shared_objects(value, numbers)
            for key, value in config.items()
        }
    if isinstance(config, list):
        return [_number_shared_objects(value, numbers) for value in config]
    return config


def _make_reproducible(path: Path) -> None:
    # Keras also records `date_saved` in metadata.json and stamps each zip entry with the current time.
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, content in entries:
            if info.filename == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata, sort_keys=True).encode()
            elif info.filename == "config.json":
                content = json.dumps(_number_shared_objects(json.loads(content), {})).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            entry.compress_type, entry.external_attr = info.compress_type, info.external_attr
            archive.writestr(entry, content)
