"""What every stage script shares: running `main`, turning bad input into a one-line error, and the checks
that decide whether a stage may run at all. Nothing here changes what a stage computes."""

import os
import resource
import sys
import time
from collections.abc import Callable

from fashion_mnist.errors import ParamsError, PipelineError
from fashion_mnist.params import BACKENDS


def refuse_inside_experiment(stage: str) -> None:
    """Stop `stage` when DVC runs it for an experiment: it comes after every decision, and tuning must never
    see the test set."""
    # DVC sets DVC_EXP_NAME for every stage that `dvc exp run` executes, queued or not.
    experiment = os.environ.get("DVC_EXP_NAME")
    if experiment:
        raise PipelineError(
            f"{stage} comes after every decision, so it does not run in experiments (this one is {experiment!r}). "
            "Tune with `dvc exp run -S ...`; then `dvc exp apply` the winner and run `dvc repro final/dvc.yaml`."
        )


def check_backend(backend: str) -> str:
    """Stop unless Keras runs on `backend` (train.backend); return it.

    dvc.yaml sets KERAS_BACKEND from train.backend in each stage's command, so that the backend is a param
    DVC tracks; a stage run by hand with another KERAS_BACKEND would make numbers that params do not describe.
    """
    if backend not in BACKENDS:
        raise ParamsError(f"train.backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    # Imported here: the stages that never run Keras (download, preprocess) should not load it.
    import keras

    running = keras.config.backend()
    if running != backend:
        raise ParamsError(
            f"train.backend is {backend!r} but Keras runs on {running!r} (KERAS_BACKEND="
            f"{os.environ.get('KERAS_BACKEND', 'unset')}): run the stage with `dvc repro`, whose command sets "
            f"KERAS_BACKEND from train.backend, or set KERAS_BACKEND={backend} yourself"
        )
    return backend


def peak_memory_mb() -> float:
    """The most memory this process has held at once so far (its peak resident set), in MB."""
    # Linux reports kilobytes.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class TrainingClock:
    """The seconds a training takes, in all and to the end of each epoch: the figures of its timing.json.

    Started when made. `watch` wraps the stage's per-epoch logger; epochs that a resumed run restores
    from its checkpoint are logged again at once, so their seconds are those of the replay.
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.epoch_seconds: dict[int, float] = {}

    def seconds(self) -> float:
        """Seconds since the clock was made."""
        return time.perf_counter() - self.started

    def watch(self, log_epoch: Callable[[dict], None] | None) -> Callable[[dict], None]:
        """A per-epoch callback that notes the time at the end of each epoch, then calls `log_epoch`, if any."""

        def on_epoch(row: dict) -> None:
            self.epoch_seconds[row["epoch"]] = round(self.seconds(), 1)
            if log_epoch:
                log_epoch(row)

        return on_epoch

    def timing(self) -> dict:
        """timing.json: the seconds in all, the seconds at the end of each epoch (in epoch order), the peak memory."""
        return {
            "train_seconds": round(self.seconds(), 1),
            "epoch_seconds": [self.epoch_seconds[epoch] for epoch in sorted(self.epoch_seconds)],
            "peak_memory_mb": peak_memory_mb(),
        }


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`; on bad input print what is wrong and exit with status 1."""
    try:
        main()
    except PipelineError as error:
        sys.exit(f"error: {error}")
