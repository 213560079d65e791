"""Deterministic, resumable training with Keras's `fit`: batches, precision, schedule, checkpoints."""

import hashlib
import importlib.metadata
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from fashion_mnist.augmentation import shift_and_flip
from fashion_mnist.files import atomic_path, write_json

STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best.weights.h5"
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


def epoch_batches(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    augment: bool,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch's batches, shuffled (and augmented) by (seed, epoch) alone.

    Keras's own shuffling draws from a generator that restarts with the process, so a resumed
    run would see other batches than one that never stopped. Here epoch k is always the same,
    which makes a resumed run identical to an uninterrupted one.

    `part` (index, count) gives process `index` of `count` its equal slice of every batch: the
    processes of a data-parallel run together see exactly the batches of a single one. The last
    batch then drops the few images that would not split evenly over the `devices`.
    """
    index, count = part
    random = np.random.default_rng([seed, epoch])
    order = random.permutation(len(labels))
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        batch_images = shift_and_flip(images[batch], random) if augment else images[batch]
        size = len(batch) // devices * devices // count
        if size:
            yield batch_images[index * size : (index + 1) * size], labels[batch][index * size : (index + 1) * size]


def steps_per_epoch(samples: int, *, batch_size: int, devices: int = 1) -> int:
    """The batches epoch_batches yields: a last short batch counts if every device gets an image of it."""
    full, rest = divmod(samples, batch_size)
    return full + (rest >= devices)


def batch_stream(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    augment: bool,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The batches of epochs `first_epoch` to `epochs - 1`, one after the other, for `fit`."""
    for epoch in range(first_epoch, epochs):
        yield from epoch_batches(
            images, labels, batch_size=batch_size, seed=seed, epoch=epoch, augment=augment, part=part, devices=devices
        )


def learning_rate_schedule(
    learning_rate: float, *, schedule: str, steps_per_epoch: int, epochs: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """A constant rate, or one epoch of linear warm-up followed by cosine decay to zero at the last step."""
    if schedule == "constant":
        return learning_rate
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r}; expected constant or cosine")
    warmup_steps = steps_per_epoch if epochs > 1 else 0
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else learning_rate,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
        decay_steps=steps_per_epoch * epochs - warmup_steps,
    )


def best_epoch_index(history: list[dict]) -> int | None:
    """The position in `history` of the first epoch with the highest val_accuracy; None without validation."""
    scores = [row["val_accuracy"] for row in history if "val_accuracy" in row]
    return int(np.argmax(scores)) if scores and len(scores) == len(history) else None


def patience_ran_out(history: list[dict], patience: int | None) -> bool:
    """Whether `patience` epochs have passed since the best val_accuracy: early stopping's rule."""
    best = best_epoch_index(history)
    return patience is not None and best is not None and len(history) - 1 - best >= patience


class ReseedRandomLayers(keras.callbacks.Callback):
    """At each epoch's start, set the state of every seed generator (Dropout's) from (seed, epoch, its place).

    Keras does not save that state with the weights, so a resumed run would otherwise draw other
    dropout masks than a run that never stopped.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        states = [variable for variable in self.model.variables if variable.path.endswith("seed_generator_state")]
        for place, state in enumerate(states):
            derived = np.random.default_rng([self.seed, epoch, place]).integers(2**31)
            state.assign(np.array([derived, 0]).astype(state.dtype))


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, save weights, optimizer state and history to resume from, keep the best
    validation epoch's weights, and stop early once `patience` epochs brought no better val_accuracy.

    The weights go to new files first; `state.json`, written last and atomically, names them and the
    epoch. A run killed at any moment leaves the previous complete state. Without a directory (a run
    over several processes, which never resumes) it keeps the best epoch's weights in memory instead.
    """

    def __init__(self, directory: Path | None, identity: dict, history: list[dict], patience: int | None):
        super().__init__()
        self.directory = Path(directory) if directory else None
        self.identity, self.history, self.patience = identity, history, patience
        self.best_weights = None  # The best epoch's weights, when it happened in this process's run.

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.append(
            {"epoch": epoch + 1, **{name: float(value) for name, value in sorted((logs or {}).items())}}
        )
        if self.directory is not None:
            self.save(epoch)
        elif best_epoch_index(self.history) == len(self.history) - 1:
            self.best_weights = self.model.get_weights()
        if patience_ran_out(self.history, self.patience):
            print(f"Stopping early: no better val_accuracy for {self.patience} epochs.")
            self.model.stop_training = True

    def save(self, epoch: int) -> None:
        weights = self.directory / f"epoch-{epoch + 1:04d}.weights.h5"
        with atomic_path(weights) as temporary:
            self.model.save_weights(temporary)
        if best_epoch_index(self.history) == len(self.history) - 1:
            with atomic_path(self.directory / BEST_WEIGHTS_FILE) as temporary:
                shutil.copyfile(weights, temporary)
        write_json(
            self.directory / STATE_FILE,
            {"identity": self.identity, "epoch": epoch + 1, "weights": weights.name, "history": self.history},
        )
        for old in self.directory.glob("epoch-*.weights.h5"):
            if old != weights:
                old.unlink()


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
    """The layers' types and settings, without the names Keras numbers anew for every model built."""
    return [
        [type(layer).__name__, {key: value for key, value in layer.get_config().items() if key != "name"}]
        for layer in model.layers
    ]


def _valid_state(state: object) -> str | None:
    """What is wrong with a checkpoint's state, or None when it names an epoch, its weights and history."""
    if not isinstance(state, dict):
        return "state.json does not hold a mapping"
    epoch, weights, history = state.get("epoch"), state.get("weights"), state.get("history")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        return f"state.json has no valid 'epoch' (got {epoch!r})"
    if not isinstance(weights, str) or not weights:
        return f"state.json has no valid 'weights' (got {weights!r})"
    if not isinstance(history, list) or len(history) != epoch or not all(isinstance(row, dict) for row in history):
        return f"state.json's 'history' does not hold one row for each of its {epoch} epochs"
    if not isinstance(state.get("identity"), dict):
        return "state.json has no 'identity'"
    return None


def restore(model: keras.Model, directory: Path, identity: dict) -> tuple[int, list[dict]]:
    """Load the checkpoint in `directory` into `model`; return the epochs done and their history.

    A checkpoint made under another identity, or one that cannot be read, is discarded: the run
    starts fresh rather than mixing two programs or configurations.
    """
    directory = Path(directory)
    state_path = directory / STATE_FILE
    if not state_path.exists():
        return 0, []
    try:
        state = json.loads(state_path.read_text())
    except (OSError, ValueError) as error:
        return _discard(directory, f"it is unreadable ({error})")
    problem = _valid_state(state)
    if problem:
        return _discard(directory, f"it is unreadable ({problem})")
    changes = identity_changes(state["identity"], identity)
    if changes:
        return _discard(directory, "it was made with " + "; ".join(changes))
    if best_epoch_index(state["history"]) is not None and not (directory / BEST_WEIGHTS_FILE).is_file():
        return _discard(directory, f"it is unreadable ({BEST_WEIGHTS_FILE}, the best epoch's weights, is missing)")
    try:
        # The optimizer's variables exist only once it is built; they must exist to be loaded.
        model.optimizer.build(model.trainable_variables)
        model.load_weights(directory / state["weights"])
    except (OSError, ValueError, KeyError) as error:
        return _discard(directory, f"it is unreadable ({error})")
    print(f"Resuming from the checkpoint in {directory}: {state['epoch']} epochs already done.")
    return state["epoch"], state["history"]


def _discard(directory: Path, reason: str) -> tuple[int, list[dict]]:
    print(f"Ignoring the checkpoint in {directory}: {reason}. Starting from epoch 1.")
    clear_checkpoint(directory)
    return 0, []


def clear_checkpoint(directory: Path) -> None:
    """Delete the resume state in `directory`, once its run's outputs are safely written."""
    shutil.rmtree(directory, ignore_errors=True)


def train_model(
    model: keras.Model,
    *,
    images: np.ndarray,
    labels: np.ndarray,
    validation_data: tuple[np.ndarray, np.ndarray] | None,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    schedule: str = "constant",
    weight_decay: float | None = None,
    augment: bool = False,
    early_stopping_patience: int | None = None,
    seed: int,
    checkpoint_dir: Path | None,
    part: tuple[int, int] = (0, 1),
    devices: int = 1,
) -> pd.DataFrame:
    """Compile and fit `model` with Adam (AdamW with `weight_decay`), resuming from `checkpoint_dir`.

    With validation data, `model` ends with the weights of its best val_accuracy epoch, and training
    stops once `early_stopping_patience` epochs brought no better one (None: never). Returns one
    history row per epoch run.

    In a data-parallel run over `devices` devices and several processes, each feeds `part` (its index,
    the count) of every batch, and none passes a `checkpoint_dir`: a checkpoint that only some of them
    could read would split them.
    """
    steps = steps_per_epoch(len(labels), batch_size=batch_size, devices=devices)
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=learning_rate_schedule(
                learning_rate, schedule=schedule, steps_per_epoch=steps, epochs=epochs
            ),
            weight_decay=weight_decay,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    identity = run_identity(
        architecture=architecture(model),
        precision=keras.mixed_precision.global_policy().name,
        images=images,
        labels=labels,
        validation_images=validation_data[0] if validation_data else None,
        validation_labels=validation_data[1] if validation_data else None,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        schedule=schedule,
        weight_decay=weight_decay,
        augment=augment,
        early_stopping_patience=early_stopping_patience,
        seed=seed,
        processes=part[1],
        devices=devices,
    )
    first_epoch, history = restore(model, checkpoint_dir, identity) if checkpoint_dir else (0, [])
    checkpoint = EpochCheckpoint(checkpoint_dir, identity, history, early_stopping_patience)
    if first_epoch < epochs and not patience_ran_out(history, early_stopping_patience):
        model.fit(
            batch_stream(
                images,
                labels,
                batch_size=batch_size,
                seed=seed,
                first_epoch=first_epoch,
                epochs=epochs,
                augment=augment,
                part=part,
                devices=devices,
            ),
            steps_per_epoch=steps,
            validation_data=validation_data,
            initial_epoch=first_epoch,
            epochs=epochs,
            shuffle=False,  # batch_stream already shuffles, reproducibly.
            callbacks=[
                ReseedRandomLayers(seed),
                checkpoint,
            ],
            # One line per epoch when the output is a log, a live progress bar in a terminal.
            verbose=1 if sys.stdout.isatty() else 2,
        )
    if best_epoch_index(history) is not None:
        if checkpoint_dir is None:
            # Every process sets the weights kept in memory itself: a variable spread over several
            # processes changes only when all of them change it.
            model.set_weights(checkpoint.best_weights)
        else:
            model.load_weights(Path(checkpoint_dir) / BEST_WEIGHTS_FILE)
    return pd.DataFrame(history)
