"""What makes a training run what it is: settings, data, code and library versions, as a comparable identity."""

import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path

import keras
import numpy as np

from fashion_mnist.model import classifier_of

# The libraries whose versions shape the numbers; requirements-training.txt pins them.
# Each backend's own libraries are listed too; a run records which ones it had.
NUMERIC_LIBRARIES = ("keras", "tensorflow-cpu", "tensorflow", "jax", "jaxlib", "numpy", "scikit-learn")


def library_versions() -> dict[str, str]:
    """The installed versions of the libraries that shape the numbers, and the Keras backend."""
    versions = {}
    for name in NUMERIC_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"backend": keras.config.backend(), **versions}


def weights_digest(model: keras.Model) -> str:
    """SHA-256 of the model's weights: equal digests mean equal weights, bit for bit."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def source_files() -> dict[str, str]:
    """SHA-256 of the source of every project module this process has imported: the code that trains."""
    root = Path(__file__).resolve().parent.parent
    digests = {}
    for name, module in sorted(sys.modules.items()):
        path = Path(getattr(module, "__file__", None) or "").resolve()
        ours = name == "__main__" or name.split(".")[0] in ("fashion_mnist", "stages")
        if ours and path.suffix == ".py" and path.is_relative_to(root):
            digests[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def run_identity(**settings: object) -> dict:
    """What makes a training run what it is: its settings and data (as one digest), code and library versions.

    Arrays enter by content, the rest by value. A checkpoint is resumed only under the same identity,
    so a resumed run never mixes epochs from two programs.
    """
    digest = hashlib.sha256()
    for name, value in sorted(settings.items()):
        digest.update(name.encode())
        digest.update(value.tobytes() if isinstance(value, np.ndarray) else json.dumps(value, sort_keys=True).encode())
    return {"settings": digest.hexdigest(), "sources": source_files(), "versions": library_versions()}


def identity_changes(old: dict, new: dict) -> list[str]:
    """What differs between two run identities, in words."""
    changes = []
    if old.get("settings") != new["settings"]:
        changes.append("other params or data")
    old_sources = old.get("sources") or {}
    edited = sorted(
        name for name in old_sources.keys() | new["sources"].keys() if old_sources.get(name) != new["sources"].get(name)
    )
    if edited:
        changes.append("other code (" + ", ".join(edited) + ")")
    old_versions = old.get("versions") or {}
    changes += [
        f"{name} {old_versions.get(name)} instead of {version}"
        for name, version in new["versions"].items()
        if old_versions.get(name) != version
    ]
    return changes


def architecture(model: keras.Model) -> list:
    """The layers' types and settings, without the names Keras numbers anew for every model built; a FlipAveraged
    model's are its classifier's, after its own type."""
    layers = [
        [type(layer).__name__, {key: value for key, value in layer.get_config().items() if key != "name"}]
        for layer in classifier_of(model).layers
    ]
    return layers if classifier_of(model) is model else [[type(model).__name__, {}], *layers]
