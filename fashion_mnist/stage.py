"""What every stage script shares: running `main` and turning bad input into a one-line error."""

import os
import resource
import sys
from collections.abc import Callable

from fashion_mnist.errors import PipelineError


def refuse_inside_experiment(stage: str) -> None:
    """Stop `stage` when DVC runs it for an experiment: tuning must never see the test set."""
    # DVC sets DVC_EXP_NAME for every stage that `dvc exp run` executes, queued or not.
    experiment = os.environ.get("DVC_EXP_NAME")
    if experiment:
        raise PipelineError(
            f"{stage} reads the test set, so it does not run in experiments (this one is {experiment!r}). "
            "Tune with `dvc exp run plot -S ...`; then `dvc exp apply` the winner and run `dvc repro final-evaluate`."
        )


def peak_memory_mb() -> float:
    """The most memory this process has held at once so far (its peak resident set), in MB."""
    # Linux reports kilobytes.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`; on bad input print what is wrong and exit with status 1."""
    try:
        main()
    except PipelineError as error:
        sys.exit(f"error: {error}")
