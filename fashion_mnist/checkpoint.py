"""Resume state after every epoch: weights, optimizer state, history and the best validation epoch's weights."""

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import keras

from fashion_mnist.files import atomic_path, write_json
from fashion_mnist.history import best_epoch_index, patience_ran_out
from fashion_mnist.identity import identity_changes

STATE_FILE = "state.json"
BEST_WEIGHTS_FILE = "best.weights.h5"


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, save weights, optimizer state and history to resume from, keep the best
    validation epoch's weights by `monitor`, and stop early once `patience` epochs brought no better score.

    The weights go to new files first; `state.json`, written last and atomically, names them and the
    epoch. A run killed at any moment leaves the previous complete state. Without a directory (a run
    over several processes, which never resumes) it keeps the best epoch's weights in memory instead.
    Each new history row also goes to `on_epoch`, once it is recorded, and training stops after a row that makes
    `stop_when` true. The flag is set on the model that `fit` trains, a wrapper's (AugmentInStep) included.
    """

    def __init__(
        self,
        directory: Path | None,
        identity: dict,
        history: list[dict],
        monitor: str,
        patience: int | None,
        on_epoch: Callable[[dict], None] | None = None,
        stop_when: Callable[[dict], bool] | None = None,
    ):
        super().__init__()
        self.directory = Path(directory) if directory else None
        self.identity, self.history, self.monitor, self.patience = identity, history, monitor, patience
        self.on_epoch = on_epoch
        self.stop_when = stop_when
        self.best_weights = None  # The best epoch's weights, when it happened in this process's run.

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.history.append(
            {"epoch": epoch + 1, **{name: float(value) for name, value in sorted((logs or {}).items())}}
        )
        if self.on_epoch:
            self.on_epoch(self.history[-1])
        if self.directory is not None:
            self.save(epoch)
        elif best_epoch_index(self.history, self.monitor) == len(self.history) - 1:
            self.best_weights = self.model.get_weights()
        if patience_ran_out(self.history, self.patience, self.monitor):
            print(f"Stopping early: no better {self.monitor} for {self.patience} epochs.")
            self.model.stop_training = True
        if self.stop_when and self.stop_when(self.history[-1]):
            self.model.stop_training = True

    def save(self, epoch: int) -> None:
        weights = self.directory / f"epoch-{epoch + 1:04d}.weights.h5"
        with atomic_path(weights) as temporary:
            self.model.save_weights(temporary)
        if best_epoch_index(self.history, self.monitor) == len(self.history) - 1:
            with atomic_path(self.directory / BEST_WEIGHTS_FILE) as temporary:
                shutil.copyfile(weights, temporary)
        write_json(
            self.directory / STATE_FILE,
            {"identity": self.identity, "epoch": epoch + 1, "weights": weights.name, "history": self.history},
        )
        for old in self.directory.glob("epoch-*.weights.h5"):
            if old != weights:
                old.unlink()


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
    validated = all("val_loss" in row for row in state["history"])
    if validated and state["history"] and not (directory / BEST_WEIGHTS_FILE).is_file():
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
